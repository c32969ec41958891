// The console's router: one page module per hash route. Each route bumps
// the main element's generation, which stops the previous page's timers
// (see every() in ui.js).

import * as cluster from './cluster.js';
import * as topics from './topics.js';
import * as groups from './groups.js';
import * as messages from './messages.js';
import * as send from './send.js';
import * as login from './login.js';
import { api, h } from './ui.js';

const pages = { cluster, topics, groups, messages, send };
let generation = 0;
// null: no login needed; '': login needed and nobody signed in.
let user = null;

function showAccount() {
  const box = document.getElementById('account');
  box.replaceChildren();
  if (!user) return;
  const out = h('button', { id: 'logout', class: 'link', onclick: logout }, 'Log out');
  box.append(h('span', { id: 'account-name' }, user), ' ', out);
}

async function logout() {
  try { await api('POST', '/logout'); } catch (_) { /* the cookie is cleared anyway */ }
  needLogin();
}

function needLogin() {
  user = '';
  showAccount();
  const main = document.getElementById('page');
  main.dataset.page = 'login';
  main.dataset.gen = String(++generation);
  login.render(main, (name) => { user = name; showAccount(); route(); });
}

function route() {
  if (user === '') return needLogin();
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
// An API call answered 401 (the session expired or was closed): sign in again.
window.addEventListener('apogee:login-required', () => { if (user !== null) needLogin(); });

async function start() {
  try {
    const s = await api('GET', '/session');
    if (s.loginRequired) user = s.user || '';
  } catch (_) { /* an older server: no login */ }
  showAccount();
  route();
}
start();
