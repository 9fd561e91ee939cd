import { h } from '../ui/dom.js';
import { brandMark, icon } from '../ui/icons.js';
import { formatCountdown } from '../ui/format.js';
import { showToast } from '../ui/toast.js';
import { TWO_FACTOR_PATH, safeNext, signIn } from '../auth.js';
import { every } from '../lifetime.js';

// Two steps when the account has two-factor sign-in: the password, then
// (after a 401 with `totp_required`) the code, sent with the password again.
const STEP_LEADS = {
  password: 'to the Toru control panel of this server',
  code: 'Enter the 6-digit code from your authenticator app.',
  recovery: 'Enter one of the recovery codes you saved when you turned on two-factor sign-in.',
};

export function mount(root, ctx) {
  let stopTicker = null; // set while a lock counts down
  let step = 'password'; // 'password' | 'code' | 'recovery'
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
  const code = h('input', {
    id: 'login-code', name: 'code', type: 'text', class: 'input input-code', autocapitalize: 'none',
    spellcheck: 'false', 'aria-describedby': 'login-code-help',
  });
  const codeLabel = h('label', { for: 'login-code' });
  const codeHelp = h('p', { class: 'field-help', id: 'login-code-help' });
  const switchCode = h('button', { type: 'button', class: 'link-button', onClick: () => showCodeStep(step === 'code' ? 'recovery' : 'code') });
  const back = h('button', { type: 'button', class: 'btn btn-block', onClick: showPasswordStep }, 'Back');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const lead = h('p', { class: 'auth-lead' }, STEP_LEADS.password);

  const passwordFields = h('div', { class: 'auth-step' },
    h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password));
  const codeFields = h('div', { class: 'auth-step', hidden: true },
    h('div', { class: 'field' }, codeLabel, code, codeHelp),
    h('p', { class: 'auth-switch' }, switchCode));
  const backRow = h('div', { hidden: true }, back);
  const form = h('form', { class: 'form', onSubmit }, passwordFields, codeFields, error, submit, backRow);

  root.append(h('div', { class: 'auth' },
    h('section', { class: 'card auth-card' },
      h('div', { class: 'auth-brand' }, brandMark('brand-mark-lg')),
      h('h1', { class: 'auth-title' }, 'Sign in'),
      lead,
      form),
    h('p', { class: 'auth-foot' }, 'Forgot your password or lost your phone? Ask an admin of this server to reset it.')));
  username.focus();

  function submitLabel() {
    return step === 'password' ? 'Sign in' : 'Verify';
  }

  // Step two: the code. Digits on a phone's keypad, offered by the phone
  // from an SMS or the app (one-time-code); a recovery code is text.
  function showCodeStep(kind) {
    step = kind;
    const digits = kind === 'code';
    passwordFields.hidden = true;
    codeFields.hidden = false;
    backRow.hidden = false;
    password.required = false;
    username.required = false;
    code.required = true;
    code.value = '';
    code.setAttribute('inputmode', digits ? 'numeric' : 'text');
    code.setAttribute('autocomplete', digits ? 'one-time-code' : 'off');
    code.setAttribute('maxlength', digits ? '6' : '32');
    if (digits) code.setAttribute('pattern', '[0-9]*');
    else code.removeAttribute('pattern');
    codeLabel.textContent = digits ? 'Authentication code' : 'Recovery code';
    codeHelp.textContent = digits ? 'It changes every 30 seconds.' : 'Each recovery code works once.';
    switchCode.textContent = digits ? 'Use a recovery code' : 'Use the authenticator app';
    lead.textContent = STEP_LEADS[kind];
    if (!stopTicker) submit.textContent = submitLabel();
    code.focus();
  }

  function showPasswordStep() {
    step = 'password';
    passwordFields.hidden = false;
    codeFields.hidden = true;
    backRow.hidden = true;
    code.required = false;
    username.required = true;
    password.required = true;
    password.value = '';
    lead.textContent = STEP_LEADS.password;
    if (!stopTicker) {
      error.hidden = true;
      submit.textContent = submitLabel();
    }
    password.focus();
  }

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
        submit.textContent = submitLabel();
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
    submit.textContent = step === 'password' ? 'Signing in…' : 'Verifying…';
    const wasStep = step;
    let data;
    try {
      data = await signIn({ username: username.value, password: password.value, code: step === 'password' ? '' : code.value.trim() },
        { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      submit.disabled = false;
      // The password was right; the account wants its second factor.
      if (wasStep === 'password' && err.status === 401 && err.data && err.data.totp_required) {
        showCodeStep('code');
        return;
      }
      // 429: locked; a 401 with retry_after: this failure started a lock.
      if (err.status === 429 || (err.data && err.data.retry_after)) {
        lockFor(err.data && err.data.retry_after);
        return;
      }
      showError(err.message);
      submit.textContent = submitLabel();
      (wasStep === 'password' ? password : code).select();
      return;
    }
    if (data.recovery_codes_left !== undefined) {
      showToast(`Signed in with a recovery code: ${data.recovery_codes_left} left. Make new ones under Settings → My account.`, 'info');
    }
    if (data.totp_setup_required) {
      showToast('Admins of this server must turn on two-factor sign-in before anything else.', 'info');
      ctx.navigate(TWO_FACTOR_PATH, { replace: true });
      return;
    }
    ctx.navigate(safeNext(ctx.query.get('next')), { replace: true });
  }
}
