// Password fields and the change-password form, shared by the user menu's
// dialog and Settings → My account. The policy is shown before anything is
// typed; only the length is checked here, the server decides the rest.
import { h } from './dom.js';
import { icon } from './icons.js';
import { api } from '../api.js';
import { modal } from './dialog.js';
import { showToast } from './toast.js';
import { getUser } from '../session.js';
import { serverFields } from './field-errors.js';
import { busy, formError, uid } from './form.js';

export const MIN_LENGTH = 12;
export const MAX_LENGTH = 256;

/** Why `value` is too short or too long, or null. */
export function lengthProblem(value) {
  if (value.length < MIN_LENGTH) return `The password must be at least ${MIN_LENGTH} characters long.`;
  if (value.length > MAX_LENGTH) return `The password must be at most ${MAX_LENGTH} characters long.`;
  return null;
}

/**
 * The policy as a list, with a live length check:
 *   const hints = passwordHints(id); input.addEventListener('input', () => hints.update(input.value));
 */
export function passwordHints(id, { who = 'your username' } = {}) {
  const count = h('span', { class: 'hint-count' });
  const lengthItem = h('li', { class: 'hint', dataset: { rule: 'length' } },
    icon('check', 'hint-icon'), h('span', null, `${MIN_LENGTH} to ${MAX_LENGTH} characters`, count));
  const element = h('div', { class: 'hints', id },
    h('ul', { class: 'hint-list' },
      lengthItem,
      h('li', { class: 'hint' }, icon('dot', 'hint-icon'), h('span', null, 'Not a commonly used password')),
      h('li', { class: 'hint' }, icon('dot', 'hint-icon'),
        h('span', null, `Must not contain ${who}, “toru” or “admin”`))),
    h('p', { class: 'hint-note' }, 'No rules about digits or symbols: a few unrelated words make a strong, memorable password.'));
  const update = (value) => {
    const ok = value.length >= MIN_LENGTH && value.length <= MAX_LENGTH;
    lengthItem.classList.toggle('hint-ok', ok);
    lengthItem.classList.toggle('hint-bad', value.length > MAX_LENGTH);
    count.textContent = value ? ` · ${value.length} so far` : '';
  };
  return { element, update };
}

/** A password input with a Show/Hide button; returns {field, input}. */
export function passwordInput({ id, name, autocomplete, describedBy = null, required = true, autofocus = false }) {
  const input = h('input', {
    id, name, type: 'password', class: 'input input-with-button', required, autocomplete,
    autocapitalize: 'none', spellcheck: 'false', 'aria-describedby': describedBy, autofocus,
  });
  const toggle = h('button', {
    type: 'button', class: 'input-button', 'aria-label': 'Show password', 'aria-pressed': false,
    onClick: () => {
      const show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      toggle.setAttribute('aria-pressed', String(show));
      toggle.setAttribute('aria-label', show ? 'Hide password' : 'Show password');
      toggle.replaceChildren(icon(show ? 'eyeOff' : 'eye'));
    },
  }, icon('eye'));
  return { field: h('div', { class: 'input-group' }, input, toggle), input };
}

/**
 * The change-password form: current, new (with the policy) and confirm.
 * `onDone()` runs after a success; `onCancel` adds a Cancel button.
 */
export function changePasswordForm({ onDone = null, onCancel = null, autofocus = false } = {}) {
  if (getUser() && getUser().password_from_env) {
    // The server would refuse (409): say where the password lives instead.
    return h('div', { class: 'form' },
      h('p', { class: 'muted' }, 'Your password is set by ADMIN_PASSWORD in the server\'s environment. ',
        'Change it there and restart Toru.'),
      onCancel ? h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn', onClick: onCancel }, 'Close')) : null);
  }
  const ids = { current: uid('pw-current'), next: uid('pw-new'), confirm: uid('pw-confirm'), hints: uid('pw-hints') };
  const error = formError();
  const hints = passwordHints(ids.hints);
  const current = passwordInput({ id: ids.current, name: 'current_password', autocomplete: 'current-password', autofocus });
  const next = passwordInput({ id: ids.next, name: 'new_password', autocomplete: 'new-password', describedBy: ids.hints });
  const confirm = passwordInput({ id: ids.confirm, name: 'confirm_password', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password');
  next.input.addEventListener('input', () => hints.update(next.input.value));
  for (const field of [current.input, next.input, confirm.input]) {
    field.addEventListener('input', () => field.removeAttribute('aria-invalid'));
  }

  const user = getUser();
  const form = h('form', { class: 'form', noValidate: true, onSubmit },
    // For password managers: which account this new password belongs to.
    user ? h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.username, readonly: true, hidden: true, tabindex: '-1' }) : null,
    h('div', { class: 'field' }, h('label', { for: ids.current }, 'Current password'), current.field),
    h('div', { class: 'field' }, h('label', { for: ids.next }, 'New password'), next.field, hints.element),
    h('div', { class: 'field' }, h('label', { for: ids.confirm }, 'Confirm new password'), confirm.field),
    error.element,
    h('div', { class: 'form-actions' },
      onCancel ? h('button', { type: 'button', class: 'btn', onClick: onCancel }, 'Cancel') : null,
      submit));

  function invalid(input, message) {
    input.setAttribute('aria-invalid', 'true');
    error.show(message);
    input.focus();
  }

  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    if (!current.input.value) return invalid(current.input, 'Enter your current password.');
    const problem = lengthProblem(next.input.value);
    if (problem) return invalid(next.input, problem);
    if (next.input.value !== confirm.input.value) return invalid(confirm.input, 'The new passwords do not match.');
    const done = busy(submit, 'Changing…');
    try {
      await api.put('/api/me/password', { current_password: current.input.value, new_password: next.input.value });
    } catch (err) {
      done();
      if (err.handled) return;
      // The server names the field it refuses (`fields`): the current
      // password that is wrong, or a new one that breaks the policy.
      const fields = serverFields(err) || {};
      const name = ['current_password', 'new_password'].find((key) => fields[key]);
      const target = { current_password: current.input, new_password: next.input }[name] || submit;
      if (target !== submit) target.setAttribute('aria-invalid', 'true');
      error.show(name ? fields[name] : err.message);
      target.focus();
      return;
    }
    done();
    form.reset();
    hints.update('');
    showToast('Password changed. Your other sessions were signed out.', 'success');
    if (onDone) onDone();
  }

  return form;
}

/** The change-password form in a dialog (from the user menu). */
export function openChangePasswordDialog() {
  const user = getUser();
  return modal({
    title: 'Change password',
    description: user ? `For ${user.display_name} (${user.username}).` : null,
  }, (close) => changePasswordForm({ onDone: () => close(true), onCancel: () => close(false), autofocus: true }));
}
