// The console's router: one page module per hash route. Each route bumps
// the main element's generation, which stops the previous page's timers
// (see every() in ui.js).

import * as cluster from './cluster.js';
import * as topics from './topics.js';
import * as groups from './groups.js';
import * as messages from './messages.js';
import * as send from './send.js';

const pages = { cluster, topics, groups, messages, send };
let generation = 0;

function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, '') || 'cluster').split('/');
  const page = pages[name] || cluster;
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.dataset.page === name);
  }
  const main = document.getElementById('page');
  main.replaceChildren();
  main.dataset.page = pages[name] ? name : 'cluster';
  main.dataset.gen = String(++generation);
  page.render(main, rest.map(decodeURIComponent));
}

window.addEventListener('hashchange', route);
route();
