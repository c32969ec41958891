// Consumer groups: list with lag and clients, create/delete; one group's
// per-queue lag, clients and subscriptions; reset offsets by time or skip
// the accumulated messages (both with confirmation).

import { api, get, h, table, act, toast, confirmBox, errorBox, every, formValues, fmtTime } from './ui.js';

export function render(main, params) {
  if (params[0]) return detail(main, params[0]);
  return list(main);
}

function list(main) {
  const showSystem = h('input', { type: 'checkbox', id: 'group-system' });
  const body = h('div', { id: 'group-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const form = h('form', { class: 'inline', id: 'group-form' },
    h('label', {}, 'Group', h('input', { name: 'name', required: true, placeholder: 'GroupName' })),
    h('label', {}, 'Max retries', h('input', { name: 'retryMaxTimes', type: 'number', value: 16, min: 0 })),
    h('button', { type: 'submit', id: 'group-create' }, 'Create / update'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    if (await act(`Group ${v.name} saved`, () => api('POST', '/groups', { name: v.name, retryMaxTimes: Number(v.retryMaxTimes) }))) load();
  });
  main.append(h('h1', {}, 'Consumer groups'), h('div', { class: 'card' }, h('h2', {}, 'Create or update'), form),
    h('div', { class: 'toolbar' }, h('label', {}, h('span', {}, 'System groups'), showSystem)), body);
  let rows = [];
  const draw = () => {
    const shown = rows.filter((g) => showSystem.checked || !g.system);
    body.replaceChildren(table([
      { title: 'Group', render: (g) => h('a', { href: '#/groups/' + encodeURIComponent(g.name) }, g.name) },
      { title: 'Lag', num: true, render: (g) => g.statsError ? h('span', { class: 'muted', title: g.statsError }, 'n/a') : g.lag.toLocaleString('en-US') },
      { title: 'Clients', key: 'clients', num: true },
      { title: 'Mode', render: (g) => (g.broadcast ? 'broadcast' : 'clustering') + (g.orderly ? ', orderly' : '') },
      { title: 'Max retries', key: 'retryMaxTimes', num: true },
      { title: '', render: (g) => h('button', { class: 'danger', 'data-delete': g.name, onclick: () => remove(g.name) }, 'Delete') },
    ], shown, { id: 'group-table', rowKey: (g) => g.name }));
  };
  async function load() {
    try {
      rows = await get('/groups');
      draw();
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  async function remove(name) {
    if (!(await confirmBox(`Delete consumer group "${name}" and its offsets on every broker?`, 'Delete'))) return;
    if (await act(`Group ${name} deleted`, () => api('DELETE', '/groups/' + encodeURIComponent(name)))) load();
  }
  showSystem.addEventListener('change', draw);
  load();
}

function detail(main, name) {
  const body = h('div', { id: 'group-detail' }, h('p', { class: 'muted' }, 'Loading…'));
  const lagEl = h('strong', { id: 'group-lag' }, '…');
  const topicSel = h('select', { name: 'topic', id: 'reset-topic' });
  const when = h('input', { type: 'datetime-local', name: 'when', id: 'reset-time', step: 1 });
  const resetForm = h('form', { class: 'inline', id: 'reset-form' },
    h('label', {}, 'Topic', topicSel), h('label', {}, 'Time', when),
    h('button', { type: 'submit', id: 'reset-by-time' }, 'Reset to time'),
    h('button', { type: 'button', class: 'secondary', id: 'skip-accumulated', onclick: () => reset(-1) }, 'Skip accumulated'));
  resetForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!when.value) { act('Reset', () => Promise.reject(new Error('pick a time first'))); return; }
    reset(new Date(when.value).getTime());
  });
  const dlq = h('a', { id: 'dlq-link', href: '#/messages/' + encodeURIComponent('%DLQ%' + name) }, 'browse its dead-letter queue');
  main.append(h('h1', {}, 'Consumer group ', h('code', {}, name)),
    h('p', {}, h('a', { href: '#/groups' }, '← all groups'), ' · ', dlq),
    h('div', { class: 'card' }, h('p', {}, 'Total lag: ', lagEl), h('h2', {}, 'Reset offsets'), resetForm), body);

  async function reset(ts) {
    const topic = topicSel.value;
    if (!topic) { act('Reset', () => Promise.reject(new Error('the group consumes no topic yet'))); return; }
    const what = ts === -1 ? 'skip every accumulated message (move to the end)' : `move back to ${fmtTime(ts)}`;
    if (!(await confirmBox(`Reset "${name}" on topic "${topic}": ${what}?`, 'Reset'))) return;
    const r = await act('Offset reset', () => api('POST', `/groups/${encodeURIComponent(name)}/reset`, { topic, timestamp: ts }));
    if (r) {
      if (r.note) toast('Offset reset: ' + r.note);
      load();
    }
  }
  async function load() {
    let g;
    try {
      g = await get('/groups/' + encodeURIComponent(name));
    } catch (e) {
      body.replaceChildren(errorBox(e));
      return;
    }
    lagEl.textContent = g.lag.toLocaleString('en-US');
    const topics = [...new Set(g.queues.map((q) => q.topic).filter((t) => !t.startsWith('%RETRY%')))];
    const current = topicSel.value;
    topicSel.replaceChildren(...topics.map((t) => h('option', { value: t, selected: t === current }, t)));
    body.replaceChildren(
      h('h2', {}, 'Per-queue lag'),
      table([
        { title: 'Topic', key: 'topic' }, { title: 'Broker', key: 'broker' }, { title: 'Queue', key: 'queueId', num: true },
        { title: 'Broker offset', key: 'brokerOffset', num: true }, { title: 'Consumer offset', key: 'consumerOffset', num: true },
        { title: 'Lag', key: 'lag', num: true }, { title: 'Last consumed', render: (q) => fmtTime(q.lastTimestamp) },
      ], g.queues, { id: 'lag-table' }),
      h('h2', {}, 'Clients ', h('span', { class: 'muted' }, g.online ? `(${g.consumeType}, ${g.messageModel})` : '(offline)')),
      table([
        { title: 'Client id', key: 'clientId' }, { title: 'Address', key: 'addr' },
        { title: 'Language', key: 'language' }, { title: 'Version', key: 'version', num: true },
      ], g.clients, { id: 'client-table', empty: 'No client is connected.' }),
      h('h2', {}, 'Subscriptions'),
      table([{ title: 'Topic', key: 'topic' }, { title: 'Expression', key: 'expression' }, { title: 'Type', key: 'type' }],
        g.subscriptions, { id: 'sub-table', empty: 'No live subscription.' }));
  }
  load();
  every(main, 2000, load);
}
