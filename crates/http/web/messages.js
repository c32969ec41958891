// Messages: find by topic and time range, by key or by id; a message's
// body as text, hex or pretty-printed JSON, and its properties.

import { api, act, get, h, table, errorBox, formValues, fmtTime } from './ui.js';

export function render(main, params) {
  const results = h('div', { id: 'message-results' });
  const detailEl = h('div', { id: 'message-detail' });
  const byKey = h('form', { class: 'inline', id: 'by-key-form' },
    h('label', {}, 'Topic', h('input', { name: 'topic', required: true })),
    h('label', {}, 'Key', h('input', { name: 'key', required: true })),
    h('button', { type: 'submit', id: 'by-key-search' }, 'Search'));
  const byId = h('form', { class: 'inline', id: 'by-id-form' },
    h('label', {}, 'Topic (for unique ids)', h('input', { name: 'topic' })),
    h('label', {}, 'Message id', h('input', { name: 'id', required: true, size: 36 })),
    h('button', { type: 'submit', id: 'by-id-search' }, 'Search'));
  const search = async (path) => {
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    detailEl.replaceChildren();
    try {
      const answer = await get(path);
      const found = Array.isArray(answer) ? answer : answer.messages;
      const summary = Array.isArray(answer)
        ? `${found.length} message(s) found.`
        : `${answer.matched} message(s) in the range (showing ${found.length}; ${answer.scanned} read` +
          (answer.complete ? ').' : ', stopped early: narrow the range to see the rest).');
      results.replaceChildren(
        h('p', {}, summary),
        table([
          { title: 'Message id', render: (m) => h('button', { class: 'link', 'data-msg': m.msgId, onclick: () => show(m) }, m.msgId) },
          { title: 'Tags', key: 'tags' }, { title: 'Keys', key: 'keys' },
          { title: 'Queue', render: (m) => `${m.broker}/${m.queueId}@${m.queueOffset}` },
          { title: 'Stored', render: (m) => fmtTime(m.storeTimestamp) },
          { title: 'Size', key: 'bodySize', num: true },
        ], found, { id: 'message-table' }));
      if (found.length === 1) show(found[0]);
    } catch (e) {
      results.replaceChildren(errorBox(e));
    }
  };
  const hourAgo = Date.now() - 3600 * 1000;
  const byTime = h('form', { class: 'inline', id: 'by-time-form' },
    h('label', {}, 'Topic', h('input', { name: 'topic', required: true })),
    h('label', {}, 'From', h('input', { name: 'begin', type: 'datetime-local', step: 1, value: localInput(hourAgo) })),
    h('label', {}, 'To', h('input', { name: 'end', type: 'datetime-local', step: 1, value: localInput(Date.now() + 60000) })),
    h('button', { type: 'submit', id: 'by-time-search' }, 'Search'));
  byTime.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(byTime);
    const begin = new Date(v.begin).getTime();
    const end = new Date(v.end).getTime();
    search(`/messages/by-time?topic=${encodeURIComponent(v.topic)}&begin=${begin}&end=${end}`);
  });
  byKey.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(byKey);
    search(`/messages/by-key?topic=${encodeURIComponent(v.topic)}&key=${encodeURIComponent(v.key)}`);
  });
  byId.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(byId);
    search(`/messages/by-id?topic=${encodeURIComponent(v.topic)}&id=${encodeURIComponent(v.id)}`);
  });
  if (params && params[0]) {
    // #/messages/TOPIC: browse that topic's last hour (e.g. a group's DLQ).
    byTime.elements.topic.value = params[0];
    setTimeout(() => byTime.requestSubmit(), 0);
  }
  main.append(h('h1', {}, 'Messages'),
    h('div', { class: 'card' }, h('h2', {}, 'By topic and time'), byTime),
    h('div', { class: 'card' }, h('h2', {}, 'By key'), byKey),
    h('div', { class: 'card' }, h('h2', {}, 'By message id'), byId),
    results, detailEl);

  function show(m) {
    const pre = h('pre', { id: 'message-body' });
    const views = {
      text: () => m.bodyText,
      hex: () => m.bodyHex.replace(/(.{2})/g, '$1 ').replace(/((?:.. ){16})/g, '$1\n'),
      json: () => {
        try { return JSON.stringify(JSON.parse(m.bodyText), null, 2); } catch (e) { return 'Not JSON: ' + e.message; }
      },
    };
    const tabs = h('div', { class: 'tabs' });
    const pick = (name) => {
      pre.textContent = views[name]() + (m.truncated ? '\n… (cut at 64 KiB)' : '');
      for (const b of tabs.children) b.classList.toggle('active', b.dataset.view === name);
    };
    for (const name of Object.keys(views)) {
      tabs.append(h('button', { 'data-view': name, onclick: () => pick(name) }, name.toUpperCase()));
    }
    const fields = [
      ['Message id', m.msgId], ['Offset id', m.offsetMsgId], ['Topic', m.topic], ['Tags', m.tags],
      ['Keys', (m.keys || []).join(' ')], ['Queue', `${m.broker} / ${m.queueId} @ ${m.queueOffset}`],
      ['Born', `${fmtTime(m.bornTimestamp)} from ${m.bornHost}`], ['Stored', `${fmtTime(m.storeTimestamp)} on ${m.storeHost}`],
      ['Reconsume times', m.reconsumeTimes], ['Body size', m.bodySize],
    ];
    detailEl.replaceChildren(h('div', { class: 'card', id: 'message-card' },
      h('h2', {}, 'Message ', h('code', {}, m.msgId)),
      table([{ title: 'Field', render: (r) => r[0] }, { title: 'Value', render: (r) => String(r[1] ?? '') }], fields, { id: 'message-fields' }),
      h('h2', {}, 'Properties'),
      table([{ title: 'Name', render: (r) => r[0] }, { title: 'Value', render: (r) => r[1] }], Object.entries(m.properties), { id: 'message-props' }),
      h('h2', {}, 'Body'), tabs, pre,
      h('h2', {}, 'Delivery'), trackTable(m),
      h('h2', {}, 'Resend'), resendForm(m)));
    pick('text');
  }
}

function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// Delivers the message again to one group, through its retry topic.
function resendForm(m) {
  const form = h('form', { class: 'inline', id: 'resend-form' },
    h('label', {}, 'Consumer group', h('input', { name: 'group', required: true })),
    h('button', { type: 'submit', id: 'resend-button' }, 'Resend to this group'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const { group } = formValues(form);
    await act(`Resent to ${group}`, () => api('POST', '/messages/resend', { offsetMsgId: m.offsetMsgId, group }));
  });
  return form;
}

// Which groups consumed the message (from their committed offsets).
function trackTable(m) {
  const box = h('div', { id: 'message-track' }, h('p', { class: 'muted' }, 'Loading…'));
  get('/messages/track?offsetMsgId=' + encodeURIComponent(m.offsetMsgId))
    .then((t) => box.replaceChildren(table([
      { title: 'Consumer group', key: 'group' }, { title: 'State', key: 'state' },
    ], t.groups, { id: 'track-table', rowKey: (g) => g.group, empty: 'No group consumes this topic.' })))
    .catch((e) => box.replaceChildren(errorBox(e)));
  return box;
}
