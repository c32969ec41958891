// Topics: search, create/update, delete (with confirmation); one topic's
// queues with min/max offsets, routes and a live TPS chart.

import { api, get, h, table, act, confirmBox, errorBox, every, formValues, fmtTime } from './ui.js';
import { LiveChart, RateMeter } from './chart.js';

export function render(main, params) {
  if (params[0]) return detail(main, params[0]);
  return list(main);
}

function list(main) {
  const search = h('input', { id: 'topic-search', placeholder: 'Search topics', type: 'search' });
  const showSystem = h('input', { type: 'checkbox', id: 'topic-system' });
  const body = h('div', { id: 'topic-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const form = h('form', { class: 'inline', id: 'topic-form' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true, placeholder: 'TopicName' })),
    h('label', {}, 'Queues', h('input', { name: 'queues', type: 'number', value: 8, min: 1, max: 1024 })),
    h('label', {}, 'Permission', h('select', { name: 'perm' },
      h('option', { value: 6 }, 'read + write'), h('option', { value: 4 }, 'read only'),
      h('option', { value: 2 }, 'write only'))),
    h('label', {}, 'Message type', h('select', { name: 'messageType' },
      ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION'].map((t) => h('option', { value: t }, t)))),
    h('button', { type: 'submit', id: 'topic-create' }, 'Create / update'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    const r = await act(`Topic ${v.name} saved`, () =>
      api('POST', '/topics', { name: v.name, queues: Number(v.queues), perm: Number(v.perm), messageType: v.messageType }));
    if (r) load();
  });
  main.append(h('h1', {}, 'Topics'), h('div', { class: 'card' }, h('h2', {}, 'Create or update'), form),
    h('div', { class: 'toolbar' }, search, h('label', {}, h('span', {}, 'System topics'), showSystem)), body);

  let rows = [];
  const draw = () => {
    const q = search.value.toLowerCase();
    const shown = rows.filter((t) => t.name.toLowerCase().includes(q) && (showSystem.checked || t.kind === 'normal'));
    body.replaceChildren(table([
      { title: 'Topic', render: (t) => h('a', { href: '#/topics/' + encodeURIComponent(t.name) }, t.name) },
      { title: 'Kind', render: (t) => h('span', { class: 'tag ' + (t.kind === 'normal' ? '' : 'system') }, t.kind) },
      { title: 'Type', key: 'messageType' },
      { title: 'Read queues', key: 'readQueues', num: true },
      { title: 'Write queues', key: 'writeQueues', num: true },
      { title: 'Perm', key: 'perm', num: true },
      { title: 'Brokers', key: 'brokers' },
      { title: '', render: (t) => h('button', { class: 'danger', 'data-delete': t.name, onclick: () => remove(t.name) }, 'Delete') },
    ], shown, { id: 'topic-table', rowKey: (t) => t.name, empty: 'No topic matches.' }));
  };
  async function load() {
    try {
      rows = await get('/topics');
      draw();
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  async function remove(name) {
    if (!(await confirmBox(`Delete topic "${name}" from every broker and NameServer? Its messages become unreachable.`, 'Delete'))) return;
    if (await act(`Topic ${name} deleted`, () => api('DELETE', '/topics/' + encodeURIComponent(name)))) load();
  }
  search.addEventListener('input', draw);
  showSystem.addEventListener('change', draw);
  load();
}

function detail(main, name) {
  const chart = new LiveChart(['in']);
  const meter = new RateMeter();
  const body = h('div', { id: 'topic-detail' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Topic ', h('code', {}, name)), h('p', {}, h('a', { href: '#/topics' }, '← all topics')),
    h('div', { class: 'card' }, h('h2', {}, 'Messages per second'), chart.el), body);
  async function load() {
    let t;
    try {
      t = await get('/topics/' + encodeURIComponent(name));
    } catch (e) {
      body.replaceChildren(errorBox(e));
      return;
    }
    const r = meter.rate(t.time, [t.maxOffsetTotal]);
    if (r) chart.push(t.time, r);
    body.replaceChildren(
      h('p', {}, `${t.messages.toLocaleString('en-US')} messages stored across ${t.queues.length} queues.`),
      h('h2', {}, 'Queues'),
      table([
        { title: 'Broker', key: 'broker' }, { title: 'Queue', key: 'queueId', num: true },
        { title: 'Min offset', key: 'minOffset', num: true }, { title: 'Max offset', key: 'maxOffset', num: true },
        { title: 'Last update', render: (q) => fmtTime(q.lastUpdate) },
      ], t.queues, { id: 'queue-table' }),
      h('h2', {}, 'Route'),
      table([
        { title: 'Broker', key: 'broker' }, { title: 'Read queues', key: 'readQueues', num: true },
        { title: 'Write queues', key: 'writeQueues', num: true }, { title: 'Perm', key: 'perm', num: true },
        { title: 'Addresses', render: (q) => Object.entries(q.addrs).map(([id, a]) => `${id}: ${a}`).join(', ') },
      ], t.routes, { id: 'route-table' }));
  }
  load();
  every(main, 2000, load);
}
