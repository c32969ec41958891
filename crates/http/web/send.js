// Send a test message: topic, tags, keys, body and properties.

import { api, h, act, formValues } from './ui.js';

export function render(main) {
  const result = h('div', { id: 'send-result' });
  const form = h('form', { id: 'send-form' },
    h('div', { class: 'inline toolbar' },
      h('label', {}, 'Topic', h('input', { name: 'topic', required: true })),
      h('label', {}, 'Tags', h('input', { name: 'tags', placeholder: 'TagA' })),
      h('label', {}, 'Keys (space separated)', h('input', { name: 'keys' }))),
    h('div', { class: 'inline toolbar' },
      h('label', {}, 'Body', h('textarea', { name: 'body', required: true })),
      h('label', {}, 'Properties (name=value per line)', h('textarea', { name: 'properties' }))),
    h('button', { type: 'submit', id: 'send-button' }, 'Send'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    const properties = {};
    for (const line of v.properties.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) properties[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    const r = await act('Message sent', () => api('POST', '/messages', {
      topic: v.topic, tags: v.tags, keys: v.keys, body: v.body, properties,
    }));
    result.replaceChildren(r
      ? h('div', { class: 'card ok' },
        h('p', {}, `Status ${r.status}, stored on ${r.broker} queue ${r.queueId} at offset ${r.queueOffset}.`),
        h('p', {}, 'Message id: ', h('code', { id: 'sent-msg-id' }, r.msgId)),
        h('p', {}, 'Offset id: ', h('code', { id: 'sent-offset-id' }, r.offsetMsgId)))
      : h('div', { class: 'card error' }, 'Not sent (see the error above).'));
  });
  main.append(h('h1', {}, 'Send a test message'), h('div', { class: 'card' }, form), result);
}
