// The form of a quick action's arguments, and the dialog that runs an
// action: its form (when it declares arguments), its confirmation (when it
// has `confirm`), then the POST. One module for the dashboard (run),
// History (re-run, pre-filled) and Settings (the editor's live preview).
//
// The server checks every value (docs/tasks.md): this module only picks
// phone-friendly inputs and shows the server's `fields` errors next to the
// fields they name. It copies none of the server's rules.
//
//   const form = argumentFields(action.arguments, {values, loadChoices});
//   form.element; form.read() → {values, problems}; form.showErrors(fields) → messages left over
//
//   const result = await runActionDialog(action, {post: (body) => api.post(url, body)});
//   // result: the server's answer ({task_id}), or undefined when dismissed
import { h } from './dom.js';
import { icon } from './icons.js';
import { api } from '../api.js';
import { modal } from './dialog.js';
import { busy, formError, uid } from './form.js';
import { passwordInput } from './password.js';

/** The argument types, in the order the editor offers them. */
export const ARGUMENT_TYPES = {
  text: 'Text',
  int: 'Whole number',
  choice: 'Choice from a list',
  bool: 'Yes / no switch',
  password: 'Password',
  multiline: 'Multi-line text',
};

// What History shows for a password (the server stores it so).
const MASK = '••••';

/** The arguments an action declares (an empty list when none). */
export function actionArguments(action) {
  return action && Array.isArray(action.arguments) ? action.arguments : [];
}

/** True when running the action needs a dialog (arguments or confirm). */
export function needsDialog(action) {
  return actionArguments(action).length > 0 || Boolean(action && action.confirm);
}

/** How a value reads in a summary (History, the confirmation step). */
export function displayValue(value, type = null) {
  if (type === 'password') return MASK;
  if (value === true) return 'Yes';
  if (value === false) return 'No';
  if (value == null || value === '') return '—';
  return String(value);
}

/** loadChoices for an action saved on the server: its `choices_from` lists. */
export function serverChoices(actionId, { signal } = {}) {
  return async (name, refresh) => {
    const query = refresh ? '?refresh=1' : '';
    const data = await api.get(
      `/api/quick-actions/${encodeURIComponent(actionId)}/choices/${encodeURIComponent(name)}${query}`, { signal });
    return Array.isArray(data && data.choices) ? data.choices.map(String) : [];
  };
}

/**
 * The fields of `args` (an action's `arguments`).
 * options: values (name → value to start with; else each `default`;
 * passwords always start empty), loadChoices(name, refresh) → Promise of
 * strings for `choices_from` (null: the editor's preview, nothing loads).
 * Returns {element, read(), showErrors(fields), clearErrors(), focusFirstError()}.
 */
export function argumentFields(args, { values = {}, loadChoices = null } = {}) {
  const prefix = uid('arg');
  const fields = args.map((arg, i) => argumentField(arg, `${prefix}-${i}`, initialValue(arg, values), loadChoices));
  const element = h('div', { class: 'action-fields' }, fields.map((f) => f.el));
  const byName = new Map(fields.map((f) => [f.arg.name, f]));
  return {
    element,
    /** {values: name → value to send (empty fields left out), problems: name → message}. */
    read() {
      const out = {};
      const problems = {};
      for (const field of fields) {
        const { value, problem } = field.read();
        if (problem) problems[field.arg.name] = problem;
        else if (value !== undefined) out[field.arg.name] = value;
      }
      return { values: out, problems };
    },
    /** Shows each message under its field; returns the messages about no field. */
    showErrors(errors) {
      const rest = [];
      for (const [name, message] of Object.entries(errors || {})) {
        const field = byName.get(name);
        if (field) field.setError(String(message));
        else rest.push(name === 'arguments' ? String(message) : `${name}: ${message}`);
      }
      return rest;
    },
    clearErrors() {
      for (const field of fields) field.setError(null);
    },
    focusFirstError() {
      const bad = fields.find((f) => f.hasError());
      if (bad) bad.focus();
      return Boolean(bad);
    },
  };
}

function initialValue(arg, values) {
  if (arg.type === 'password') return undefined; // never pre-filled, not even from History
  if (values && Object.prototype.hasOwnProperty.call(values, arg.name)) return values[arg.name];
  return arg.default;
}

function argumentField(arg, id, value, loadChoices) {
  const ids = { help: `${id}-help`, error: `${id}-error` };
  const error = h('p', { class: 'field-error', id: ids.error, hidden: true });
  const helpText = [arg.description, rangeHint(arg)].filter(Boolean).join(' ');
  const help = helpText ? h('p', { class: 'field-help', id: ids.help }, helpText) : null;
  const describedBy = [help ? ids.help : null, ids.error].filter(Boolean).join(' ');
  const label = arg.label || arg.name;
  const control = makeControl(arg, id, value, describedBy, loadChoices, label);
  const optional = arg.required ? null : h('span', { class: 'optional' }, ' (optional)');
  const el = h('div', {
    class: ['field', 'action-field', `action-field-${arg.type}`], dataset: { argument: arg.name, type: arg.type },
  },
  arg.type === 'bool' ? null : h('label', { for: id }, label, optional),
  control.el, help, error);
  const onChange = () => {
    if (!error.hidden) setError(null);
  };
  control.input.addEventListener('input', onChange);
  control.input.addEventListener('change', onChange);

  function setError(message) {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) control.input.setAttribute('aria-invalid', 'true');
    else control.input.removeAttribute('aria-invalid');
  }
  return {
    arg,
    el,
    read: control.read,
    setError,
    hasError: () => !error.hidden,
    focus: () => control.input.focus(),
  };
}

// "From 1 to 10": a reading aid; the server decides.
function rangeHint(arg) {
  if (arg.type !== 'int') return null;
  const has = (v) => v != null && v !== '';
  if (has(arg.min) && has(arg.max)) return `From ${arg.min} to ${arg.max}.`;
  if (has(arg.min)) return `At least ${arg.min}.`;
  if (has(arg.max)) return `At most ${arg.max}.`;
  return null;
}

function makeControl(arg, id, value, describedBy, loadChoices, label) {
  const common = {
    id, name: arg.name, 'aria-describedby': describedBy, 'aria-required': Boolean(arg.required),
  };
  const text = value == null ? '' : String(value);
  switch (arg.type) {
    case 'int':
      return intControl(arg, common, text);
    case 'bool':
      return boolControl(common, value, label);
    case 'password': {
      const { field, input } = passwordInput({
        id, name: arg.name, autocomplete: 'new-password', describedBy, required: Boolean(arg.required),
      });
      return { el: field, input, read: () => ({ value: input.value === '' ? undefined : input.value }) };
    }
    case 'multiline': {
      const input = h('textarea', {
        ...common, class: 'input textarea', rows: '4', value: text,
        maxlength: arg.max_length != null ? String(arg.max_length) : null,
      });
      return { el: input, input, read: () => ({ value: input.value === '' ? undefined : input.value }) };
    }
    case 'choice':
      return choiceControl(arg, common, text, loadChoices, label);
    default: {
      const input = h('input', {
        ...common, type: 'text', class: 'input', value: text, autocomplete: 'off', autocapitalize: 'none',
        spellcheck: 'false', maxlength: arg.max_length != null ? String(arg.max_length) : null,
      });
      return { el: input, input, read: () => ({ value: input.value === '' ? undefined : input.value }) };
    }
  }
}

// A number pad on phones; min and max are hints for the browser's spinner.
function intControl(arg, common, text) {
  const input = h('input', {
    ...common, type: 'number', inputmode: 'numeric', step: '1', class: 'input input-number', value: text,
    min: arg.min != null ? String(arg.min) : null, max: arg.max != null ? String(arg.max) : null,
  });
  return {
    el: input,
    input,
    read() {
      // Whatever a number input cannot hold (say "1e") reads as "": say
      // so here rather than send nothing.
      if (input.validity.badInput) return { problem: 'Enter a whole number.' };
      const raw = input.value.trim();
      if (!raw) return { value: undefined };
      const n = Number(raw);
      return { value: Number.isFinite(n) ? n : raw };
    },
  };
}

function boolControl(common, value, label) {
  const input = h('input', {
    ...common, type: 'checkbox', role: 'switch', class: 'switch-input', checked: value === true,
  });
  const el = h('label', { class: 'switch action-switch', for: common.id },
    input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), h('span', { class: 'action-switch-label' }, label));
  return { el, input, read: () => ({ value: input.checked }) };
}

// A select; for `choices_from`, filled from the server, with a refresh
// button (the script's output may have changed).
function choiceControl(arg, common, current, loadChoices, label) {
  const select = h('select', { ...common, class: 'input select' });
  const status = h('p', { class: 'field-help action-choices-status', role: 'status', hidden: true });
  const fill = (choices) => {
    const options = choices.map((c) => h('option', { value: c, selected: c === current }, c));
    if (current && !choices.includes(current)) {
      options.unshift(h('option', { value: current, selected: true }, `${current} (not offered now)`));
    }
    options.unshift(h('option', { value: '', selected: !current, disabled: Boolean(arg.required) },
      arg.required ? 'Choose…' : '(none)'));
    select.replaceChildren(...options);
  };
  if (!arg.choices_from) {
    fill(Array.isArray(arg.choices) ? arg.choices.map(String) : []);
    return { el: select, input: select, read: readSelect };
  }

  const refresh = h('button', {
    type: 'button', class: 'icon-button action-choices-refresh', 'aria-label': `Refresh the options of ${label}`,
    title: 'Refresh the options', disabled: !loadChoices, dataset: { refreshChoices: arg.name },
    onClick: () => load(true),
  }, icon('refresh'));
  const el = h('div', { class: 'action-choices' }, h('div', { class: 'action-choices-row' }, select, refresh), status);
  if (!loadChoices) {
    // The editor's preview: the action may not be saved yet.
    select.replaceChildren(h('option', { value: '' }, `Options from ${arg.choices_from}`));
    return { el, input: select, read: readSelect };
  }
  let seq = 0;
  async function load(again) {
    const mine = ++seq;
    refresh.disabled = true;
    refresh.classList.add('is-busy');
    select.setAttribute('aria-busy', 'true');
    if (!select.options.length) select.replaceChildren(h('option', { value: '' }, 'Loading options…'));
    let choices;
    try {
      choices = await loadChoices(arg.name, again);
    } catch (err) {
      if (mine !== seq || (err && err.name === 'AbortError')) return;
      status.textContent = `The options could not be loaded: ${err.message}`;
      status.classList.add('field-help-error');
      status.hidden = false;
      if (select.value === '') fill([]);
      return;
    } finally {
      if (mine === seq) {
        refresh.disabled = false;
        refresh.classList.remove('is-busy');
        select.removeAttribute('aria-busy');
      }
    }
    if (mine !== seq) return;
    status.hidden = true;
    status.classList.remove('field-help-error');
    if (select.value) current = select.value;
    fill(choices);
  }
  load(false);
  return { el, input: select, read: readSelect };

  function readSelect() {
    return { value: select.value === '' ? undefined : select.value };
  }
}

/**
 * Runs `action` through a dialog: its form (arguments), then its
 * confirmation (`confirm`), then `post({arguments, confirmed})`.
 * options: post (required; rejects with an ApiError), values (pre-fill),
 * title, submitLabel. A 400 with `fields` comes back to the form with each
 * message under its field; a 409 with `confirm` asks for confirmation
 * with the server's text. Resolves to post's answer, or undefined.
 */
export function runActionDialog(action, { post, values = {}, title = action.name, submitLabel = 'Run' }) {
  const args = actionArguments(action);
  return modal({
    title, description: action.description || null, className: 'action-dialog',
  }, (close) => actionSteps(action, args, { post, values, submitLabel, close }));
}

function actionSteps(action, args, { post, values, submitLabel, close }) {
  const state = { confirmText: action.confirm || null, confirmed: false, values: {} };
  const fields = args.length ? argumentFields(args, { values, loadChoices: serverChoices(action.id) }) : null;
  const formErrors = formError();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel);
  const form = fields ? h('form', { class: 'form action-form', noValidate: true, onSubmit },
    fields.element,
    formErrors.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'),
      submit)) : null;
  const confirm = confirmStep(action, args, {
    back: fields ? () => showForm() : () => close(undefined),
    backLabel: fields ? 'Back' : 'Cancel',
    run: () => send(true),
    submitLabel,
  });
  confirm.el.hidden = true;
  const updateSubmit = () => {
    submit.textContent = state.confirmText && !state.confirmed ? 'Continue' : submitLabel;
  };
  updateSubmit();

  function showForm() {
    confirm.el.hidden = true;
    form.hidden = false;
    if (!fields.focusFirstError()) fields.element.querySelector('input, select, textarea')?.focus();
  }

  function showConfirm() {
    confirm.show(state.confirmText, state.values);
    if (form) form.hidden = true;
    confirm.el.hidden = false;
    confirm.focus();
  }

  function onSubmit(event) {
    event.preventDefault();
    formErrors.clear();
    fields.clearErrors();
    const { values: read, problems } = fields.read();
    if (Object.keys(problems).length) {
      fields.showErrors(problems);
      fields.focusFirstError();
      return;
    }
    state.values = read;
    // Sent unconfirmed first: the server checks the values, then answers
    // 409 with its confirmation text, so errors come before the question.
    send(state.confirmed);
  }

  async function send(confirmed) {
    state.confirmed = confirmed;
    const button = confirm.el.hidden ? submit : confirm.runButton;
    const done = busy(button, 'Starting…');
    let result;
    try {
      result = await post({ arguments: state.values, confirmed });
    } catch (err) {
      done();
      failed(err);
      return;
    }
    close(result || {});
  }

  function failed(err) {
    if (err.handled) return;
    const data = err.data && typeof err.data === 'object' ? err.data : {};
    if (err.status === 409 && typeof data.confirm === 'string') {
      // Confirmation added since the page loaded, or asked by the server.
      state.confirmText = data.confirm;
      state.confirmed = false;
      updateSubmit();
      showConfirm();
      return;
    }
    if (fields && err.status === 400 && data.fields && typeof data.fields === 'object') {
      const rest = fields.showErrors(data.fields);
      // Each message is under its field; the box only points there.
      formErrors.show(rest.length ? rest.join(' ') : 'Nothing ran: correct the fields marked above.');
      showForm();
      return;
    }
    if (confirm.el.hidden) formErrors.show(err.message);
    else confirm.error.show(err.message);
  }

  if (!fields) {
    confirm.show(state.confirmText, {});
    confirm.el.hidden = false;
    return confirm.el;
  }
  return [form, confirm.el];
}

// The confirmation: names the action, says its text and what it runs with.
function confirmStep(action, args, { back, backLabel, run, submitLabel }) {
  const headId = uid('action-confirm');
  const text = h('p', { class: 'action-confirm-text' });
  const summary = h('dl', { class: 'kv kv-compact action-summary' });
  const error = formError();
  const backButton = h('button', { type: 'button', class: 'btn', onClick: back }, backLabel);
  const runButton = h('button', {
    type: 'button', class: 'btn btn-primary', onClick: run,
  }, submitLabel);
  const el = h('div', { class: 'action-confirm', role: 'group', 'aria-labelledby': headId, dataset: { step: 'confirm' } },
    h('h3', { class: 'action-confirm-title', id: headId }, icon('info', 'action-confirm-icon'), `Run ${action.name}?`),
    text, summary, error.element,
    h('div', { class: 'dialog-actions' }, backButton, runButton));
  return {
    el,
    error,
    runButton,
    show(message, values) {
      error.clear();
      text.textContent = message || '';
      const pairs = args.filter((a) => values[a.name] !== undefined)
        .map((a) => [a.label || a.name, displayValue(values[a.name], a.type)]);
      summary.hidden = !pairs.length;
      summary.replaceChildren(...pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    },
    // Focus starts on Back/Cancel: a stray Enter does not run it.
    focus: () => backButton.focus(),
  };
}
