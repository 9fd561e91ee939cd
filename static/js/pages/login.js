import { h } from '../ui/dom.js';
import { brandMark, icon } from '../ui/icons.js';
import { formatCountdown } from '../ui/format.js';
import { safeNext, signIn } from '../auth.js';
import { every } from '../lifetime.js';

export function mount(root, ctx) {
  let stopTicker = null; // set while a lock counts down
  const message = h('span', { class: 'form-error-text' });
  const error = h('div', { class: 'form-error', role: 'alert', id: 'login-error', hidden: true },
    icon('error', 'form-error-icon'), message);
  const username = h('input', {
    id: 'login-username', name: 'username', type: 'text', class: 'input', required: true,
    autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', class: 'input', required: true,
    autocomplete: 'current-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');

  const form = h('form', { class: 'form', onSubmit },
    h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    error,
    submit);

  root.append(h('div', { class: 'auth' },
    h('section', { class: 'card auth-card' },
      h('div', { class: 'auth-brand' }, brandMark('brand-mark-lg')),
      h('h1', { class: 'auth-title' }, 'Sign in'),
      h('p', { class: 'auth-lead' }, 'to the Toru control panel of this server'),
      form),
    h('p', { class: 'auth-foot' }, 'Forgot your password? Ask an admin of this server to reset it.')));
  username.focus();

  function showError(text) {
    error.setAttribute('role', 'alert');
    message.textContent = text;
    error.classList.remove('form-error-wait');
    error.hidden = false;
  }

  // 429: count down the seconds the server gave and keep the button
  // disabled until they are over.
  function lockFor(seconds) {
    if (stopTicker) stopTicker();
    const until = Date.now() + Math.max(1, Number(seconds) || 60) * 1000;
    submit.disabled = true;
    error.classList.add('form-error-wait');
    error.setAttribute('role', 'alert');
    error.hidden = false;
    let first = true;
    const tick = () => {
      // Announced once; the ticking seconds would be read out every second.
      if (!first) error.removeAttribute('role');
      first = false;
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        stopTicker();
        stopTicker = null;
        error.setAttribute('role', 'status');
        message.textContent = 'You can try again now.';
        submit.disabled = false;
        submit.textContent = 'Sign in';
        return;
      }
      message.textContent = `Too many attempts. Try again in ${formatCountdown(left)}`;
      submit.textContent = `Wait ${formatCountdown(left)}`;
    };
    stopTicker = every(ctx.signal, 1000, tick);
    tick();
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (stopTicker) return;
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await signIn(username.value, password.value, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      // 429: locked; a 401 with retry_after: this failure started a lock.
      if (err.status === 429 || (err.data && err.data.retry_after)) {
        lockFor(err.data && err.data.retry_after);
        return;
      }
      showError(err.message);
      submit.disabled = false;
      submit.textContent = 'Sign in';
      password.select();
      return;
    }
    ctx.navigate(safeNext(ctx.query.get('next')), { replace: true });
  }
}
