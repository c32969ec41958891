// Small DOM and fetch helpers shared by every page.

export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api' + path, init);
  } catch (e) {
    throw new Error('the console server did not answer: ' + e.message);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    if (res.status === 401 && path !== '/login') {
      window.dispatchEvent(new Event('apogee:login-required'));
    }
    throw new Error((data && data.error) || text || res.statusText);
  }
  return data;
}

export const get = (path) => api('GET', path);

// h('tag', {attr: value, onclick: fn}, ...children)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// columns: [{title, key | render, num}]
export function table(columns, rows, opts = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.title)));
  const body = rows.length
    ? rows.map((r) => h('tr', { 'data-row': opts.rowKey ? opts.rowKey(r) : null },
        columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.render ? c.render(r) : fmt(r[c.key])))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, opts.empty || 'Nothing to show.'))];
  return h('table', { id: opts.id }, h('thead', {}, head), h('tbody', {}, body));
}

export function fmt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return v.toLocaleString('en-US');
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

export function fmtTime(ms) {
  if (!ms || ms <= 0) return '';
  const d = new Date(Number(ms));
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function toast(text, kind = 'ok') {
  const box = document.getElementById('toast');
  const el = h('div', { class: kind }, text);
  box.append(el);
  // Only the latest few stay; older ones would cover the page.
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 4000);
}

// Runs an action, shows its result or its error, returns the result.
export async function act(label, fn) {
  try {
    const r = await fn();
    toast(label + ': done');
    return r;
  } catch (e) {
    toast(label + ' failed: ' + e.message, 'error');
    return undefined;
  }
}

export function confirmBox(text, okLabel = 'Confirm') {
  return new Promise((resolve) => {
    const close = (v) => { modal.remove(); resolve(v); };
    const modal = h('div', { class: 'modal', id: 'confirm' },
      h('div', { class: 'box' },
        h('p', {}, text),
        h('div', { class: 'actions' },
          h('button', { class: 'secondary', id: 'confirm-cancel', onclick: () => close(false) }, 'Cancel'),
          h('button', { class: 'danger', id: 'confirm-ok', onclick: () => close(true) }, okLabel))));
    document.body.append(modal);
  });
}

export function errorBox(e) {
  return h('div', { class: 'card error' }, e.message || String(e));
}

export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (el.name) out[el.name] = el.value;
  }
  return out;
}

// Calls fn every ms milliseconds while `main` still shows the same page.
export function every(main, ms, fn) {
  const gen = main.dataset.gen;
  const id = setInterval(() => {
    if (main.dataset.gen !== gen) { clearInterval(id); return; }
    fn();
  }, ms);
}

export function sameView(main, gen) {
  return main.dataset.gen === gen;
}
