// The schedule editor, a dialog: name, quick action, cron expression (with
// presets and the live preview of preview.js), time zone, what happens when
// runs overlap or were missed, enabled, and the action's argument form
// (ui/action-form.js). The server checks every field; the `fields` of its
// 400 land under the fields they name (ui/field-errors.js).
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { modal } from '../../ui/dialog.js';
import { formError, saveRecord, uid } from '../../ui/form.js';
import { fieldErrors, serverFields } from '../../ui/field-errors.js';
import { showToast } from '../../ui/toast.js';
import { actionArguments, argumentFields, serverChoices } from '../../ui/action-form.js';
import { scope } from '../../lifetime.js';
import { cronPreview } from './preview.js';

/** [label, expression]: the cron presets under the field. */
export const PRESETS = [
  ['Every 5 minutes', '*/5 * * * *'],
  ['Hourly', '0 * * * *'],
  ['Daily at 03:00', '0 3 * * *'],
  ['Weekly, Monday 03:00', '0 3 * * 1'],
  ['Monthly, the 1st at 03:00', '0 3 1 * *'],
];

// value → [label, what it means]
export const OVERLAP = {
  skip: ['Skip', 'A run that comes due while the previous one still runs is skipped (History says so).'],
  queue: ['Queue', 'A run that comes due while the previous one still runs waits for it to end.'],
  allow: ['Allow', 'Every run starts when due, even beside a previous one still running.'],
};
export const CATCH_UP = {
  skip: ['Skip missed runs', 'Runs that came due while Toru was stopped are left out.'],
  once: ['Run once', 'Runs that came due while Toru was stopped are made up for by one run at start.'],
};

// The inputs the server's `fields` may name.
const FIELDS = ['name', 'quick_action_id', 'cron', 'timezone', 'overlap', 'catch_up', 'enabled'];

/**
 * Opens the editor for `schedule` (null: a new one). Resolves to the saved
 * schedule, or undefined when closed without saving. options:
 * defaultTimezone (the server's), signal (the page's).
 */
export function openScheduleEditor(schedule, { defaultTimezone = '', signal = null } = {}) {
  const life = scope(signal); // the preview and choices end with the dialog
  return modal({
    title: schedule ? 'Edit schedule' : 'New schedule',
    description: schedule ? null : 'Runs a quick action by itself at the times a cron expression gives.',
    className: 'dialog-wide',
  }, (close) => editorForm(schedule, { defaultTimezone, signal: life.signal, close }))
    .finally(() => life.abort());
}

function editorForm(schedule, { defaultTimezone, signal, close }) {
  const ids = {
    name: uid('schedule-name'), action: uid('schedule-action'), actionHelp: uid('schedule-action-help'),
    cron: uid('schedule-cron'), cronHelp: uid('schedule-cron-help'), timezone: uid('schedule-timezone'),
    zones: uid('schedule-zones'), timezoneHelp: uid('schedule-timezone-help'), overlap: uid('schedule-overlap'),
    catchUp: uid('schedule-catch-up'), enabled: uid('schedule-enabled'), args: uid('schedule-args'),
    runs: uid('schedule-runs'),
  };
  const inputs = editorInputs(ids, schedule, defaultTimezone);
  const error = formError();
  const errors = fieldErrors(inputs);
  const preview = cronPreview({ cron: inputs.cron, timezone: inputs.timezone, defaultTimezone, signal });
  const actionHelp = h('p', { class: 'field-help', id: ids.actionHelp }, 'What the schedule runs, as its admin would.');
  const argsSlot = h('div', { class: 'schedule-args', id: ids.args });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true },
    schedule ? 'Save changes' : 'Create schedule');
  const state = { actions: [], form: null, before: null };

  const showArguments = (action, values) => {
    state.form = argumentsForm(argsSlot, action, values, signal);
  };

  inputs.quick_action_id.addEventListener('change', () => {
    const id = inputs.quick_action_id.value;
    const same = schedule && id === schedule.quick_action_id;
    showArguments(state.actions.find((a) => a.id === id) || null, same ? schedule.arguments || {} : {});
  });

  loadActions(inputs.quick_action_id, actionHelp, schedule, signal).then((actions) => {
    if (!actions) return;
    state.actions = actions;
    const current = actions.find((a) => a.id === inputs.quick_action_id.value) || null;
    showArguments(current, schedule ? schedule.arguments || {} : {});
    // What the unchanged form sends, to tell what changed.
    state.before = JSON.stringify(readArguments(state).values);
    submit.disabled = false;
  });

  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    errors.clear();
    if (state.form) state.form.clearErrors();
    const args = readArguments(state);
    if (Object.keys(args.problems).length) {
      state.form.showErrors(args.problems);
      state.form.focusFirstError();
      return;
    }
    const values = readForm(inputs, args.values);
    const body = schedule ? changes(schedule, values, state.before) : creation(values);
    if (schedule && !Object.keys(body).length) {
      close(undefined);
      showToast(`Nothing changed in ${schedule.name}.`, 'info');
      return;
    }
    const data = await saveRecord({
      submit, path: '/api/schedules', id: schedule ? schedule.id : null, body,
      onError: (err) => showSaveError(err, { error, errors, preview, form: state.form }),
    });
    if (data) close(data.schedule || { ...schedule, ...body });
  }

  return editorLayout(ids, inputs, {
    preview, actionHelp, argsSlot, error, submit, onSubmit, defaultTimezone, close,
  });
}

function editorLayout(ids, inputs, { preview, actionHelp, argsSlot, error, submit, onSubmit, defaultTimezone, close }) {
  const presets = h('div', { class: 'schedule-presets', role: 'group', 'aria-label': 'Presets' },
    PRESETS.map(([label, expression]) => h('button', {
      type: 'button', class: 'btn btn-sm schedule-preset', dataset: { cron: expression },
      onClick: () => {
        inputs.cron.value = expression;
        inputs.cron.dispatchEvent(new Event('input')); // clears its error, like typing
        preview.now();
      },
    }, label)));
  return h('form', { class: 'form schedule-form', noValidate: true, onSubmit },
    h('div', { class: 'schedule-form-top' },
      h('div', { class: 'schedule-form-fields' },
        h('div', { class: 'field' }, h('label', { for: ids.name }, 'Name'), inputs.name),
        h('div', { class: 'field' }, h('label', { for: ids.action }, 'Quick action'), inputs.quick_action_id, actionHelp),
        h('div', { class: 'field' },
          h('label', { for: ids.cron }, 'Cron expression'), inputs.cron,
          h('p', { class: 'field-help', id: ids.cronHelp },
            'Minute, hour, day of month, month, day of week (a sixth field in front for seconds), '
            + 'or @hourly, @daily, @weekly, @monthly, @yearly.'),
          presets, preview.errors.cron),
        h('div', { class: 'field schedule-zone-field' },
          h('label', { for: ids.timezone }, 'Time zone'), inputs.timezone, zoneList(ids.zones),
          h('p', { class: 'field-help', id: ids.timezoneHelp },
            `A zone name such as Europe/Berlin. Empty: the server's, ${defaultTimezone || 'its local time'}.`),
          preview.errors.timezone)),
      preview.el),
    h('section', { class: 'qa-form-section', 'aria-labelledby': ids.runs },
      h('h3', { class: 'qa-form-section-title', id: ids.runs }, 'How it runs'),
      h('div', { class: 'schedule-form-options' },
        choiceField(ids.overlap, 'When a run is still going', inputs.overlap, OVERLAP),
        choiceField(ids.catchUp, 'Runs missed while Toru was stopped', inputs.catch_up, CATCH_UP)),
      h('div', { class: 'field' },
        h('label', { class: 'switch action-switch', for: ids.enabled }, inputs.enabled,
          h('span', { class: 'switch-track', 'aria-hidden': 'true' }), h('span', { class: 'action-switch-label' }, 'Enabled')),
        h('p', { class: 'field-help' }, 'A disabled schedule keeps its settings and does not run.'))),
    h('section', { class: 'qa-form-section', 'aria-labelledby': `${ids.args}-title` },
      h('h3', { class: 'qa-form-section-title', id: `${ids.args}-title` }, 'Arguments'),
      argsSlot),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'),
      submit));
}

// A refused save: each message under its field (an argument's under the
// argument), the rest in the box above the buttons.
function showSaveError(err, { error, errors, preview, form }) {
  const fields = serverFields(err);
  if (!fields) {
    error.show(err.message);
    return;
  }
  preview.hideErrors(); // the server's words take the place of the preview's
  const top = {};
  const argErrors = {};
  for (const [key, message] of Object.entries(fields)) {
    if (FIELDS.includes(key)) top[key] = message;
    else argErrors[key.replace(/^arguments\./, '')] = message;
  }
  const rest = errors.show(top);
  if (form) rest.push(...form.showErrors(argErrors));
  else rest.push(...Object.values(argErrors).map(String));
  error.show(rest.length ? rest.join(' ') : 'Nothing was saved: correct the fields marked above.');
  if (!errors.focusFirst() && form) form.focusFirstError();
}

// The action's argument form in `slot`; returns it (null: nothing to fill).
function argumentsForm(slot, action, values, signal) {
  const all = actionArguments(action);
  // A schedule stores its values: the server refuses passwords there.
  const secret = all.filter((a) => a.type === 'password');
  const open = all.filter((a) => a.type !== 'password');
  const form = open.length ? argumentFields(open, { values, loadChoices: serverChoices(action.id, { signal }) }) : null;
  slot.replaceChildren(
    !action ? h('p', { class: 'field-help' }, 'Choose a quick action: its arguments show here.') : null,
    action && !all.length ? h('p', { class: 'field-help', dataset: { noArguments: '' } }, 'This quick action takes no arguments.') : null,
    form ? form.element : null,
    secret.length ? h('p', { class: 'notice notice-warning', dataset: { passwordArguments: '' } },
      icon('lock', 'notice-icon'),
      h('span', null, `${secret.map((a) => `“${a.label || a.name}”`).join(', ')} ${secret.length === 1 ? 'is a password' : 'are passwords'}: `
        + 'a schedule cannot store one, so its runs go without.')) : null);
  return form;
}

function editorInputs(ids, schedule, defaultTimezone) {
  const text = (id, name, value, extra = {}) => h('input', {
    id, name, class: 'input', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', value, ...extra,
  });
  return {
    name: h('input', { id: ids.name, name: 'name', class: 'input', autocomplete: 'off', value: schedule ? schedule.name : '', autofocus: true }),
    quick_action_id: h('select', {
      id: ids.action, name: 'quick_action_id', class: 'input select', disabled: true, 'aria-describedby': ids.actionHelp,
    }, h('option', { value: '' }, 'Loading quick actions…')),
    cron: text(ids.cron, 'cron', schedule ? schedule.cron : '', {
      class: 'input input-mono', placeholder: '0 3 * * *', 'aria-describedby': ids.cronHelp,
    }),
    timezone: text(ids.timezone, 'timezone', schedule ? schedule.timezone : defaultTimezone, {
      list: ids.zones, placeholder: defaultTimezone || null, 'aria-describedby': ids.timezoneHelp,
    }),
    overlap: optionSelect(ids.overlap, 'overlap', OVERLAP, schedule ? schedule.overlap : 'skip'),
    catch_up: optionSelect(ids.catchUp, 'catch_up', CATCH_UP, schedule ? schedule.catch_up : 'skip'),
    enabled: h('input', {
      id: ids.enabled, name: 'enabled', type: 'checkbox', role: 'switch', class: 'switch-input',
      checked: schedule ? Boolean(schedule.enabled) : true,
    }),
  };
}

function optionSelect(id, name, options, value) {
  return h('select', { id, name, class: 'input select', 'aria-describedby': `${id}-help` },
    Object.entries(options).map(([key, [label]]) => h('option', { value: key, selected: key === value }, label)));
}

// A select with a line under it saying what the chosen option does.
function choiceField(id, label, select, options) {
  const help = h('p', { class: 'field-help', id: `${id}-help` });
  const say = () => { help.textContent = (options[select.value] || ['', ''])[1]; };
  select.addEventListener('change', say);
  say();
  return h('div', { class: 'field' }, h('label', { for: id }, label), select, help);
}

// The zone names this browser knows, offered as the time zone is typed.
function zoneList(id) {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = []; // an older browser: the field still takes any name
  }
  if (!zones.includes('UTC')) zones = ['UTC', ...zones];
  return h('datalist', { id }, zones.map((zone) => h('option', { value: zone })));
}

/** Fills the action select from GET /api/quick-actions; the actions, or null when none can be chosen. */
async function loadActions(select, help, schedule, signal) {
  let data;
  try {
    data = await api.get('/api/quick-actions', { signal });
  } catch (err) {
    if (signal.aborted || err.handled) return null;
    select.replaceChildren(h('option', { value: '' }, 'Quick actions could not be loaded'));
    help.textContent = `The quick actions could not be loaded: ${err.message}`;
    help.classList.add('field-help-error');
    return null;
  }
  const actions = Array.isArray(data.quick_actions) ? data.quick_actions : [];
  const current = schedule ? schedule.quick_action_id : null;
  if (!actions.length) {
    select.replaceChildren(h('option', { value: '' }, 'No quick actions'));
    help.replaceChildren('A schedule runs a quick action: add one in ',
      h('a', { href: '/settings/quick-actions' }, 'Settings → Quick actions'), ' first.');
    return null;
  }
  const options = actions.map((a) => h('option', { value: a.id, selected: a.id === current }, a.name));
  if (current && !actions.some((a) => a.id === current)) {
    options.unshift(h('option', { value: current, selected: true }, `${schedule.quick_action_name || current} (not found)`));
  } else if (!current) {
    // A new schedule, or one whose action was deleted: a choice to make.
    const text = schedule ? 'Its quick action was deleted: choose one' : 'Choose a quick action';
    options.unshift(h('option', { value: '', selected: true, disabled: true }, text));
  }
  select.replaceChildren(...options);
  select.disabled = false;
  return actions;
}

function readArguments(state) {
  return state.form ? state.form.read() : { values: {}, problems: {} };
}

function readForm(inputs, args) {
  return {
    name: inputs.name.value.trim(),
    quick_action_id: inputs.quick_action_id.value || null,
    cron: inputs.cron.value.trim(),
    timezone: inputs.timezone.value.trim(),
    arguments: args,
    enabled: inputs.enabled.checked,
    overlap: inputs.overlap.value,
    catch_up: inputs.catch_up.value,
  };
}

// A new schedule: everything but an empty zone (the server's default then).
function creation(values) {
  const body = { ...values };
  if (!body.timezone) delete body.timezone;
  return body;
}

// Only what changed goes to the server (PUT is partial). Another action
// takes its own arguments, so they go with it.
function changes(schedule, values, before) {
  const body = {};
  for (const key of ['name', 'quick_action_id', 'cron', 'overlap', 'catch_up', 'enabled']) {
    if (values[key] !== schedule[key]) body[key] = values[key];
  }
  if (values.timezone && values.timezone !== schedule.timezone) body.timezone = values.timezone;
  if ('quick_action_id' in body || JSON.stringify(values.arguments) !== before) body.arguments = values.arguments;
  return body;
}
