import { h } from '../ui/dom.js';
import { brandMark } from '../ui/icons.js';
import { api } from '../api.js';

export function mount(root, ctx) {
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error', hidden: true });
  const username = h('input', {
    id: 'login-username', name: 'username', type: 'text', class: 'input', required: true,
    autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', class: 'input', required: true,
    autocomplete: 'current-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');

  const form = h('form', { class: 'form', onSubmit: onSubmit },
    h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    error,
    submit);

  root.append(h('div', { class: 'auth' },
    h('section', { class: 'card auth-card' },
      h('div', { class: 'auth-brand' }, brandMark('brand-mark-lg')),
      h('h1', { class: 'auth-title' }, 'Sign in'),
      h('p', { class: 'auth-lead' }, 'to the Toru control panel of this server'),
      form)));
  username.focus();

  async function onSubmit(event) {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await api.post('/api/auth/login', { username: username.value, password: password.value }, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      error.textContent = err.message;
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = 'Sign in';
      password.select();
      return;
    }
    ctx.navigate(safeNext(ctx.query.get('next')), { replace: true });
  }
}

export function unmount() {}

// Only a path on this site: `next` comes from the address bar, and an
// absolute or protocol-relative URL there would be an open redirect.
function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  const url = new URL(next, window.location.origin);
  if (url.origin !== window.location.origin || url.pathname === '/login') return '/';
  return url.pathname + url.search + url.hash;
}
