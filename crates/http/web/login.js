// The login page, shown when the broker checks ACL accounts and nobody is
// signed in: an admin account's access key and secret key. The session is
// an HttpOnly cookie the page never sees.

import { api, h } from './ui.js';

export function render(main, onDone) {
  const key = h('input', { id: 'login-access-key', name: 'accessKey', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'login-secret-key', name: 'secretKey', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const submit = h('button', { id: 'login-submit', type: 'submit' }, 'Sign in');
  const form = h('form', { id: 'login-form', class: 'card login' },
    h('h2', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'This cluster checks ACL accounts: sign in with an admin account of plain_acl.yml.'),
    h('label', {}, 'Access key', key),
    h('label', {}, 'Secret key', secret),
    submit, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const r = await api('POST', '/login', { accessKey: key.value, secretKey: secret.value });
      onDone(r.user);
    } catch (e) {
      error.textContent = e.message;
      secret.value = '';
      secret.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  key.focus();
}
