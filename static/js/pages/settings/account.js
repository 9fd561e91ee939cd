// Settings → My account (everyone): who you are, two-factor sign-in, where
// you are signed in, and a new password.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { getUser, setUser } from '../../session.js';
import { avatar } from '../../ui/layout.js';
import { copyText } from '../../ui/clipboard.js';
import { confirmDialog, modal } from '../../ui/dialog.js';
import { formatDate, formatDateTime, isoTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';
import { showError, showToast } from '../../ui/toast.js';
import { busy, formError, uid } from '../../ui/form.js';
import { changePasswordForm, passwordInput } from '../../ui/password.js';
import { roleBadge, sessionList } from './users.js';

export function render(container, ctx) {
  const user = getUser();
  container.append(h('div', { class: 'stack' },
    h('section', { class: 'card card-narrow-lg', 'aria-labelledby': 'account-title' },
      h('h2', { class: 'card-title', id: 'account-title' }, icon('user'), 'My account'),
      h('div', { class: 'account-summary' },
        avatar(user.display_name || user.username, { class: 'avatar avatar-lg' }),
        h('div', { class: 'account-text' },
          h('p', { class: 'account-name' }, user.display_name),
          h('p', { class: 'account-sub' }, user.username, ' · ', roleBadge(user.role))))),
    twoFactorCard(ctx),
    sessionsCard(ctx),
    h('section', { class: 'card card-narrow-lg', 'aria-labelledby': 'password-title' },
      h('h2', { class: 'card-title', id: 'password-title' }, icon('key'), 'Change password'),
      h('p', { class: 'card-lead card-lead-spaced' }, 'Your other sessions are signed out when the password changes; this one stays signed in.'),
      changePasswordForm())));
}

// ---- Sessions ----
// Every browser signed in as you; any but this one can be signed out here.

function sessionsCard(ctx) {
  const body = h('div', { class: 'sessions', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const proxyNote = h('p', { class: 'notice session-proxy-note', role: 'status', hidden: true }, icon('info', 'notice-icon'),
    h('span', null, 'Your identity proxy signed you in here: signing out of Toru does not sign you out of the proxy, '
      + 'which signs you in again at the next visit. Sign out at the proxy to end it.'));
  const others = h('button', { type: 'button', class: 'btn btn-danger', disabled: true, onClick: () => signOutOthers() },
    icon('logout'), 'Sign out everywhere else');
  const card = h('section', { class: 'card card-narrow-lg', id: 'sessions', 'aria-labelledby': 'sessions-title' },
    h('h2', { class: 'card-title', id: 'sessions-title' }, icon('list'), 'Sessions'),
    h('p', { class: 'card-lead card-lead-spaced' }, 'Where you are signed in. Sign out a device you no longer use or do not recognise; '
      + 'it is signed out at once.'),
    proxyNote, body, h('div', { class: 'card-actions' }, others));

  async function load() {
    body.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.get('/api/me/sessions', { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`Your sessions could not be loaded: ${err.message}`, load));
      return;
    }
    if (ctx.signal.aborted) return;
    body.removeAttribute('aria-busy');
    body.replaceChildren(sessionList(data.sessions, signOut));
    proxyNote.hidden = !data.sessions.some((session) => session.current && session.via === 'proxy');
    others.disabled = !data.sessions.some((session) => !session.current);
  }

  async function signOut(session, button) {
    const ok = await confirmDialog(`Sign out ${session.device} (${session.ip || 'unknown address'})? It has to sign in again.`,
      { title: 'Sign out a session', confirmLabel: 'Sign out', danger: true });
    if (!ok) return;
    const done = busy(button, 'Signing out…');
    try {
      await api.del(`/api/me/sessions/${session.id}`);
    } catch (err) {
      done();
      showError(err, 'Signing the session out failed');
      return;
    }
    showToast(`${session.device} is signed out.`, 'success');
    load();
  }

  async function signOutOthers() {
    const ok = await confirmDialog('Sign out every other session of yours? This device stays signed in.',
      { title: 'Sign out everywhere else', confirmLabel: 'Sign out everywhere else', danger: true });
    if (!ok) return;
    let answer;
    try {
      answer = await api.post('/api/me/sessions/revoke-others');
    } catch (err) {
      showError(err, 'Signing the other sessions out failed');
      return;
    }
    showToast(answer.revoked === 1 ? '1 other session is signed out.' : `${answer.revoked} other sessions are signed out.`, 'success');
    load();
  }

  load();
  return card;
}

// ---- Two-factor sign-in ----
// Off → Set up (QR code and key) → confirm with a code → the recovery codes,
// shown once → On (new recovery codes, turn off). The server owns every
// rule; this only walks through it.

function twoFactorCard(ctx) {
  const body = h('div', { class: 'two-factor', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const card = h('section', { class: 'card card-narrow-lg', id: 'two-factor', 'aria-labelledby': 'two-factor-title' },
    h('h2', { class: 'card-title', id: 'two-factor-title' }, icon('shield'), 'Two-factor sign-in'),
    body);

  async function load() {
    body.setAttribute('aria-busy', 'true');
    let status;
    try {
      status = await api.get('/api/me/2fa', { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`Two-factor sign-in could not be loaded: ${err.message}`, load));
      return;
    }
    if (ctx.signal.aborted) return;
    body.removeAttribute('aria-busy');
    remember(status.enabled, status.required);
    show(status.enabled ? onView(status) : offView(status));
  }

  // A view is a node or a list of them (nulls skipped).
  const show = (view) => body.replaceChildren(...[view].flat(Infinity).filter((node) => node != null));
  const views = { load, show };

  function offView(status) {
    const start = h('button', { type: 'button', class: 'btn btn-primary', onClick: () => beginSetup(start, views) },
      icon('shield'), 'Set up');
    return [
      status.required ? h('p', { class: 'notice notice-warning two-factor-required', role: 'status' },
        icon('info', 'notice-icon'),
        h('span', null, 'Admins of this server must turn on two-factor sign-in. Until you do, everything else is closed to you.')) : null,
      h('p', { class: 'card-lead' }, 'Off. With it on, signing in takes a 6-digit code from an authenticator app on your phone '
        + '(Aegis, Google Authenticator, 1Password, Microsoft Authenticator…) as well as your password.'),
      h('div', { class: 'card-actions' }, start),
    ];
  }

  function onView(status) {
    const left = status.recovery_codes_left;
    return [
      h('p', { class: 'two-factor-status' },
        h('span', { class: 'badge badge-success' }, icon('check', 'badge-icon'), 'On'),
        status.enabled_at ? [' since ', h('time', { datetime: isoTime(status.enabled_at), title: formatDateTime(status.enabled_at) },
          formatDate(status.enabled_at))] : null),
      h('p', { class: left <= 3 ? 'two-factor-left two-factor-left-low' : 'two-factor-left', dataset: { recoveryLeft: left } },
        `${left} recovery ${left === 1 ? 'code' : 'codes'} left.`,
        left <= 3 ? ' Make new ones before you run out.' : ''),
      h('div', { class: 'card-actions' },
        h('button', { type: 'button', class: 'btn', onClick: () => newRecoveryCodes(views) }, icon('refresh'), 'New recovery codes'),
        h('button', { type: 'button', class: 'btn btn-danger', onClick: () => turnOff(views) }, 'Turn off')),
    ];
  }

  load();
  return card;
}

// The session store learns the news (the sign-in guard reads it).
function remember(enabled, required = false) {
  const user = getUser();
  if (user) setUser({ ...user, totp_enabled: enabled, totp_setup_required: !enabled && required });
}

async function beginSetup(button, views) {
  const done = busy(button, 'Starting…');
  let setup;
  try {
    setup = await api.post('/api/me/2fa/setup');
  } catch (err) {
    done();
    showError(err, 'Setting up two-factor sign-in failed');
    return;
  }
  views.show(setupView(setup, views));
  document.getElementById('two-factor-code').focus();
}

/** The key in groups of four, as people copy it by hand. */
function grouped(secret) {
  return secret.match(/.{1,4}/g).join(' ');
}

function setupView(setup, views) {
  const key = h('code', { class: 'two-factor-key', dataset: { secret: setup.secret } }, grouped(setup.secret));
  const error = formError();
  const code = codeInput('two-factor-code');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Turn on');
  return h('form', {
    class: 'form two-factor-setup', noValidate: true,
    onSubmit: async (event) => {
      event.preventDefault();
      error.clear();
      if (!/^\d{6}$/.test(code.value.trim())) {
        invalid(code, error, 'Enter the 6 digits your app shows.');
        return;
      }
      const done = busy(submit, 'Checking…');
      let answer;
      try {
        answer = await api.post('/api/me/2fa/enable', { code: code.value.trim() });
      } catch (err) {
        done();
        if (err.handled) return;
        invalid(code, error, err.message);
        return;
      }
      remember(true);
      showToast('Two-factor sign-in is on.', 'success');
      views.show(recoveryView(answer.recovery_codes, views));
    },
  },
  h('ol', { class: 'two-factor-steps' },
    h('li', null,
      h('p', null, 'Scan this QR code with your authenticator app:'),
      // The server renders the SVG; as an image it is only ever drawn, never run.
      h('img', {
        class: 'two-factor-qr', width: '200', height: '200', alt: 'QR code to add Toru to an authenticator app',
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`,
      }),
      h('p', { class: 'field-help' }, 'Or, without a camera, enter this key in the app (time-based):'),
      h('div', { class: 'copy-row' }, key,
        h('button', { type: 'button', class: 'btn btn-sm', onClick: () => copyText(key) }, icon('copy'), 'Copy key'))),
    h('li', null,
      h('div', { class: 'field' },
        h('label', { for: 'two-factor-code' }, 'Enter the 6-digit code the app now shows'), code))),
  error.element,
  h('div', { class: 'form-actions form-actions-start' },
    submit,
    h('button', { type: 'button', class: 'btn', onClick: () => views.load() }, 'Cancel')));
}

function codeInput(id, { recovery = false } = {}) {
  return h('input', {
    id, name: 'code', class: 'input input-code', required: true, autocapitalize: 'none', spellcheck: 'false',
    inputmode: recovery ? 'text' : 'numeric', autocomplete: recovery ? 'off' : 'one-time-code',
    pattern: recovery ? null : '[0-9]*', maxlength: recovery ? '32' : '6',
  });
}

function invalid(input, error, message) {
  input.setAttribute('aria-invalid', 'true');
  error.show(message);
  input.focus();
  input.select();
}

function recoveryView(codes, views) {
  const list = h('pre', { class: 'recovery-codes', dataset: { recoveryCodes: '' } }, codes.join('\n'));
  return h('div', { class: 'two-factor-recovery' },
    h('p', { class: 'notice notice-warning', role: 'status' }, icon('info', 'notice-icon'),
      h('span', null, 'Save these recovery codes now, somewhere other than your phone: they are shown only this once. '
        + 'Each one signs you in once if the phone is lost.')),
    list,
    h('div', { class: 'card-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => copyText(list) }, icon('copy'), 'Copy'),
      h('button', { type: 'button', class: 'btn', onClick: () => download(codes) }, icon('download'), 'Download'),
      h('button', { type: 'button', class: 'btn btn-primary', onClick: () => views.load() }, 'Done')));
}

function download(codes) {
  const user = getUser();
  const text = [`Toru recovery codes for ${user.username} at ${window.location.host}`,
    'Each code signs you in once, instead of a code from your authenticator app.', '', ...codes, ''].join('\n');
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = h('a', { href: url, download: `toru-recovery-codes-${user.username}.txt` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A dialog asking for a code (and the password when `password`); resolves
 *  to the server's answer, or undefined when cancelled. */
function confirmWithCode({ title, description, action, path, password = false, danger = false }) {
  return modal({ title, description }, (close) => {
    const ids = { password: uid('two-factor-password'), code: uid('two-factor-confirm-code') };
    const error = formError();
    const pass = password ? passwordInput({ id: ids.password, name: 'password', autocomplete: 'current-password', autofocus: true }) : null;
    const code = codeInput(ids.code, { recovery: true });
    code.autofocus = !password;
    const submit = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] }, action);
    return h('form', {
      class: 'form', noValidate: true,
      onSubmit: async (event) => {
        event.preventDefault();
        error.clear();
        if (pass && !pass.input.value) return invalid(pass.input, error, 'Enter your password.');
        if (!code.value.trim()) return invalid(code, error, 'Enter a code from your app, or a recovery code.');
        const done = busy(submit, 'Checking…');
        try {
          const body = pass ? { password: pass.input.value, code: code.value.trim() } : { code: code.value.trim() };
          close(await api.post(path, body));
        } catch (err) {
          done();
          if (err.handled) return;
          const field = err.data && err.data.fields && err.data.fields.password ? pass.input : code;
          invalid(field, error, err.message);
        }
      },
    },
    pass ? h('div', { class: 'field' }, h('label', { for: ids.password }, 'Password'), pass.field) : null,
    h('div', { class: 'field' }, h('label', { for: ids.code }, 'Code from your app, or a recovery code'), code),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'),
      submit));
  });
}

async function newRecoveryCodes(views) {
  const answer = await confirmWithCode({
    title: 'New recovery codes', action: 'Make new codes', path: '/api/me/2fa/recovery-codes',
    description: 'Ten new codes replace the ones you have now, used or not.',
  });
  if (answer) views.show(recoveryView(answer.recovery_codes, views));
}

async function turnOff(views) {
  const answer = await confirmWithCode({
    title: 'Turn off two-factor sign-in', action: 'Turn off', path: '/api/me/2fa/disable', password: true, danger: true,
    description: 'Signing in will take only your password again. Your recovery codes stop working.',
  });
  if (!answer) return;
  showToast('Two-factor sign-in is off.', 'success');
  views.load();
}
