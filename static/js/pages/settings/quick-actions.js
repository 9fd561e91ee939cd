// Settings → Quick actions (admin): the buttons on every user's dashboard
// that run a script. List in dashboard order, add, edit, delete, move up
// and down. The server checks every field; its message lands in the form.
import { h } from '../../ui/dom.js';
import { ACTION_ICONS, icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { confirmDialog, modal } from '../../ui/dialog.js';
import { showError, showToast } from '../../ui/toast.js';
import { formError, saveRecord, uid } from '../../ui/form.js';
import { formatDuration } from '../../ui/format.js';
import { actionIcon } from '../dashboard/tasks.js';
import { listLoader } from '../../ui/list-loader.js';
import { iconBusy, iconButton } from '../../ui/buttons.js';
import { argumentEditor } from './quick-action-arguments.js';
import { grantPicker } from './quick-action-grants.js';

const LIMITS = { name: 100, icon: 32, description: 500, timeoutMax: 86400 };

export function render(container, ctx) {
  const list = h('div', { class: 'qa-admin', 'aria-busy': 'true' }, h('p', { class: 'table-note' }, 'Loading quick actions…'));
  const count = h('span', { class: 'card-count' });
  const add = h('button', { type: 'button', class: 'btn btn-primary', onClick: () => edit(null) }, icon('plus'), 'Add quick action');
  container.append(h('section', { class: 'card card-flush', 'aria-labelledby': 'quick-actions-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'quick-actions-title' }, icon('bolt'), 'Quick actions', count),
        h('p', { class: 'card-lead' }, 'Buttons on every user’s dashboard, in this order, each running one script. '
          + 'Clients can run these and no other script.')),
      add),
    list));

  let actions = [];
  let moving = false;

  const load = listLoader(list, { signal: ctx.signal, what: 'The quick actions', title: 'Quick actions',
    retry: () => reload() });
  async function reload() {
    const data = await load('/api/quick-actions');
    if (data) show(data.quick_actions);
  }

  // `focus`: [id, selector] of a control to focus after the list is rebuilt
  // (the moved row's button, so keyboard users can keep moving it).
  function show(next, focus = null) {
    actions = Array.isArray(next) ? next : [];
    list.removeAttribute('aria-busy');
    count.textContent = String(actions.length);
    if (!actions.length) {
      list.replaceChildren(h('div', { class: 'table-note qa-admin-empty' },
        h('p', null, 'No quick actions yet.'),
        h('p', null, 'Add one to give clients a button that runs a script from the scripts directory.')));
      return;
    }
    list.replaceChildren(h('ol', { class: 'qa-admin-list' }, actions.map((action, i) => row(action, i))));
    if (focus) {
      const [id, selector] = focus;
      const target = list.querySelector(`li[data-quick-action-id="${CSS.escape(String(id))}"] ${selector}`);
      const fallback = list.querySelector(`li[data-quick-action-id="${CSS.escape(String(id))}"] .qa-move:not(:disabled)`);
      const el = target && !target.disabled ? target : fallback;
      if (el) el.focus();
    }
  }

  function row(action, index) {
    const last = index === actions.length - 1;
    const meta = [h('code', { class: 'path' }, action.script)];
    if (action.timeout) meta.push(h('span', null, `Times out after ${formatDuration(action.timeout)}`));
    meta.push(...traits(action));
    return h('li', { class: 'qa-admin-row', dataset: { quickActionId: action.id, name: action.name } },
      h('span', { class: 'qa-admin-pos', 'aria-hidden': 'true' }, String(index + 1)),
      actionIcon(action.icon),
      h('div', { class: 'qa-admin-text' },
        h('span', { class: 'qa-admin-name' }, action.name),
        h('span', { class: 'qa-admin-meta' }, meta),
        action.description ? h('span', { class: 'qa-admin-desc' }, action.description) : null),
      h('div', { class: 'qa-admin-actions' },
        iconButton('arrowUp', `Move ${action.name} up`, 'qa-move qa-move-up', index === 0, (b) => move(action, -1, b)),
        iconButton('arrowDown', `Move ${action.name} down`, 'qa-move qa-move-down', last, (b) => move(action, 1, b)),
        iconButton('edit', `Edit ${action.name}`, 'qa-edit', false, () => edit(action)),
        iconButton('trash', `Delete ${action.name}`, 'qa-delete', false, (b) => remove(action, b))));
  }

  async function move(action, delta, button) {
    if (moving) return;
    const ids = actions.map((a) => a.id);
    const from = ids.indexOf(action.id);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= ids.length) return;
    [ids[from], ids[to]] = [ids[to], ids[from]];
    moving = true;
    const moves = [...list.querySelectorAll('.qa-move')];
    const states = moves.map((b) => b.disabled);
    for (const b of moves) b.disabled = true;
    const done = iconBusy(button);
    let data;
    try {
      data = await api.post('/api/quick-actions/reorder', { ids });
    } catch (err) {
      moving = false;
      done();
      moves.forEach((b, i) => { b.disabled = states[i]; });
      showError(err, `Moving ${action.name} failed`);
      if (err.status === 400 || err.status === 404 || err.status === 409) reload(); // someone else changed the list
      return;
    }
    moving = false;
    const direction = delta < 0 ? 'up' : 'down';
    show(data && Array.isArray(data.quick_actions) ? data.quick_actions : ids.map((id) => actions.find((a) => a.id === id)),
      [action.id, `.qa-move-${direction}`]);
    showToast(`Moved ${action.name} ${direction}.`, 'success');
  }

  async function remove(action, button) {
    const ok = await confirmDialog(
      `Delete the quick action “${action.name}”? Its button disappears from every dashboard. `
      + 'The script and the history of its runs stay.',
      { title: 'Delete quick action', confirmLabel: 'Delete', danger: true });
    if (!ok) return;
    const done = iconBusy(button);
    try {
      await api.del(`/api/quick-actions/${encodeURIComponent(action.id)}`);
    } catch (err) {
      done();
      showError(err, `Deleting ${action.name} failed`);
      reload(); // show what the server has now, whatever happened
      return;
    }
    showToast(`Deleted the quick action ${action.name}.`, 'success');
    reload();
  }

  function edit(action) {
    openEditor(action, ctx, (saved) => {
      showToast(action ? `Saved ${saved.name}.` : `Added the quick action ${saved.name}.`, 'success');
      reload();
    });
  }

  reload();
}

// What sets an action apart in the list: arguments, confirmation, grant.
function traits(action) {
  const out = [];
  const args = Array.isArray(action.arguments) ? action.arguments.length : 0;
  if (args) out.push(h('span', { class: 'badge badge-sm badge-neutral' }, `${args} ${args === 1 ? 'argument' : 'arguments'}`));
  if (action.confirm) out.push(h('span', { class: 'badge badge-sm badge-neutral' }, 'Asks to confirm'));
  const grant = action.allowed_users;
  if (Array.isArray(grant)) {
    out.push(h('span', { class: 'badge badge-sm badge-primary', dataset: { grant: grant.length ? 'users' : 'admins' } },
      grant.length ? `${grant.length} ${grant.length === 1 ? 'user' : 'users'}` : 'Admins only'));
  }
  return out;
}

// ---- The add/edit form ----

function openEditor(action, ctx, onSaved) {
  const editing = Boolean(action);
  return modal({
    title: editing ? 'Edit quick action' : 'Add quick action',
    description: editing ? null : 'A button on the dashboard that runs one script.',
    className: 'dialog-wide',
  }, (close) => editorForm(action, ctx, close, onSaved));
}

function editorForm(action, ctx, close, onSaved) {
  const ids = {
    name: uid('qa-name'), script: uid('qa-script'), icon: uid('qa-icon'), iconHelp: uid('qa-icon-help'),
    description: uid('qa-description'), timeout: uid('qa-timeout'), timeoutHelp: uid('qa-timeout-help'),
    scriptHelp: uid('qa-script-help'), confirm: uid('qa-confirm'), confirmHelp: uid('qa-confirm-help'),
  };
  const initial = {
    name: action ? action.name : '',
    script: action ? action.script : '',
    icon: action && action.icon ? action.icon : '',
    description: action && action.description ? action.description : '',
    timeout: action && action.timeout ? String(action.timeout) : '',
    confirm: action && action.confirm ? action.confirm : '',
    arguments: action && Array.isArray(action.arguments) ? action.arguments : [],
    allowed_users: action && Array.isArray(action.allowed_users) ? action.allowed_users : null,
  };
  const error = formError();
  const fields = editorFields(ids, initial);
  const args = argumentEditor(initial.arguments, { confirmText: () => fields.confirm.value.trim(), signal: ctx.signal });
  const grants = grantPicker(initial.allowed_users, { signal: ctx.signal });
  fields.confirm.addEventListener('input', () => args.refresh());
  // What the unchanged editor sends, to tell what changed.
  const before = { arguments: JSON.stringify(args.value()), allowed_users: JSON.stringify(grants.value()) };
  const scriptHelp = h('p', { class: 'field-help', id: ids.scriptHelp }, 'A file in the scripts directory.');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true },
    action ? 'Save changes' : 'Add quick action');
  loadScripts(fields.script, scriptHelp, initial.script, ctx).then((ok) => { submit.disabled = !ok; });

  function invalid(input, message) {
    input.setAttribute('aria-invalid', 'true');
    error.show(message);
    input.focus();
  }
  // A message about a field goes as soon as that field is being fixed
  // ("Enter a name." must not stay while the name is typed).
  for (const input of Object.values(fields)) {
    input.addEventListener('input', () => {
      if (!Object.values(fields).some((f) => f.getAttribute('aria-invalid') === 'true')) error.clear();
    });
  }

  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    args.clearErrors();
    grants.clearError();
    const values = { ...readForm(fields), arguments: args.value(), allowed_users: grants.value() };
    if (!values.name) return invalid(fields.name, 'Enter a name.');
    if (!values.script) return invalid(fields.script, 'Choose a script.');
    if (values.timeout === undefined) {
      return invalid(fields.timeout, `The timeout must be a whole number of seconds from 1 to ${LIMITS.timeoutMax}, or empty.`);
    }
    const body = action ? changes(initial, values, before) : creation(values);
    if (action && !Object.keys(body).length) {
      close(false);
      showToast(`Nothing changed in ${action.name}.`, 'info');
      return;
    }
    const data = await saveRecord({
      submit, path: '/api/quick-actions', id: action ? action.id : null, body, creating: 'Adding…',
      onError: (err) => {
        if (err.data && err.data.fields && typeof err.data.fields === 'object') {
          showFieldErrors(err, fields, args, grants, error);
          return;
        }
        const field = fieldOf(err);
        if (field) invalid(fields[field], err.message);
        else error.show(err.message);
      },
    });
    if (!data) return;
    close(true);
    onSaved(data.quick_action || { ...action, ...body });
  }

  return h('form', { class: 'form qa-form', noValidate: true, onSubmit },
    h('div', { class: 'qa-form-basics' }, editorLayout(ids, fields, scriptHelp)),
    h('section', { class: 'qa-form-section', 'aria-labelledby': `${ids.confirm}-args` },
      h('h3', { class: 'qa-form-section-title', id: `${ids.confirm}-args` }, 'Arguments'),
      h('p', { class: 'field-help' }, 'Values asked for before it runs. The script gets them as arguments, '
        + 'in this order, and as TORU_ARG_<NAME> variables.'),
      args.element),
    h('section', { class: 'qa-form-section', 'aria-labelledby': `${ids.confirm}-safety` },
      h('h3', { class: 'qa-form-section-title', id: `${ids.confirm}-safety` }, 'Confirmation and access'),
      h('div', { class: 'field' },
        h('label', { for: ids.confirm }, 'Ask to confirm ', h('span', { class: 'optional' }, '(optional)')),
        fields.confirm,
        h('p', { class: 'field-help', id: ids.confirmHelp },
          'Shown before it runs, e.g. “This restarts the production web server.” Empty: it runs without asking.')),
      grants.element),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(false) }, 'Cancel'),
      submit));
}

function editorFields(ids, initial) {
  const fields = {
    name: h('input', {
      id: ids.name, name: 'name', class: 'input', required: true, maxlength: String(LIMITS.name),
      autocomplete: 'off', value: initial.name, autofocus: true,
    }),
    script: h('select', {
      id: ids.script, name: 'script', class: 'input select', required: true, disabled: true, 'aria-describedby': ids.scriptHelp,
    }, h('option', { value: '' }, 'Loading scripts…')),
    icon: h('input', {
      id: ids.icon, name: 'icon', class: 'input', maxlength: String(LIMITS.icon), autocomplete: 'off',
      autocapitalize: 'none', spellcheck: 'false', value: initial.icon, 'aria-describedby': ids.iconHelp,
    }),
    description: h('textarea', {
      id: ids.description, name: 'description', class: 'input textarea', rows: '3', maxlength: String(LIMITS.description),
      value: initial.description,
    }),
    confirm: h('textarea', {
      id: ids.confirm, name: 'confirm', class: 'input textarea', rows: '2', value: initial.confirm,
      'aria-describedby': ids.confirmHelp,
    }),
    timeout: h('input', {
      id: ids.timeout, name: 'timeout', class: 'input input-number', type: 'number', min: '1', max: String(LIMITS.timeoutMax),
      step: '1', inputmode: 'numeric', value: initial.timeout, 'aria-describedby': ids.timeoutHelp,
    }),
  };
  for (const input of Object.values(fields)) {
    input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
    input.addEventListener('change', () => input.removeAttribute('aria-invalid'));
  }
  return fields;
}

function editorLayout(ids, fields, scriptHelp) {
  const optional = () => h('span', { class: 'optional' }, '(optional)');
  const preview = h('span', { class: 'qa-icon-preview' }, actionIcon(fields.icon.value));
  const updatePreview = () => preview.replaceChildren(actionIcon(fields.icon.value));
  fields.icon.addEventListener('input', updatePreview);
  return [
    h('div', { class: 'field' }, h('label', { for: ids.name }, 'Name'), fields.name),
    h('div', { class: 'field' }, h('label', { for: ids.script }, 'Script'), fields.script, scriptHelp),
    h('div', { class: 'field' },
      h('label', { for: ids.icon }, 'Icon ', optional()),
      h('div', { class: 'qa-icon-field' }, preview, fields.icon),
      h('p', { class: 'field-help', id: ids.iconHelp }, 'An icon name from the list below, or an emoji such as 🚀.'),
      iconPicker((name) => {
        fields.icon.value = name;
        fields.icon.removeAttribute('aria-invalid');
        updatePreview();
      })),
    h('div', { class: 'field' }, h('label', { for: ids.description }, 'Description ', optional()), fields.description),
    h('div', { class: 'field' },
      h('label', { for: ids.timeout }, 'Timeout in seconds ', optional()),
      fields.timeout,
      h('p', { class: 'field-help', id: ids.timeoutHelp },
        'Stops the script after this long. Empty: the task timeout from Settings → Scripts applies.')),
  ];
}

function iconPicker(pick) {
  return h('details', { class: 'icon-picker' },
    h('summary', null, 'Choose an icon'),
    h('div', { class: 'icon-picker-grid' }, ACTION_ICONS.map((name) => h('button', {
      type: 'button', class: 'icon-picker-option', title: name, 'aria-label': name, dataset: { icon: name },
      onClick: () => pick(name),
    }, icon(name)))));
}

/** Fills the script select from GET /api/scripts; true when one can be chosen. */
async function loadScripts(select, help, current, ctx) {
  let data;
  try {
    data = await api.get('/api/scripts', { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted || err.handled) return false;
    select.replaceChildren(h('option', { value: '' }, 'Scripts could not be loaded'));
    help.textContent = `The scripts could not be loaded: ${err.message}`;
    help.classList.add('field-help-error');
    return false;
  }
  const names = (Array.isArray(data.scripts) ? data.scripts : []).map((s) => s.name);
  const options = names.map((name) => h('option', { value: name, selected: name === current }, name));
  if (current && !names.includes(current)) {
    // Keep what the action runs now selectable: saving other changes must
    // not silently switch it to another script.
    options.unshift(h('option', { value: current, selected: true }, `${current} (not found)`));
  }
  if (!options.length) {
    select.replaceChildren(h('option', { value: '' }, 'No scripts'));
    help.replaceChildren('There are no scripts in ', h('code', { class: 'path' }, data.scripts_dir || 'the scripts directory'),
      '. Add a file there first.');
    return false;
  }
  if (!current) options.unshift(h('option', { value: '', selected: true, disabled: true }, 'Choose a script'));
  select.replaceChildren(...options);
  select.disabled = false;
  if (data.scripts_dir) {
    help.replaceChildren('A file in ', h('code', { class: 'path' }, data.scripts_dir), '.');
  }
  return true;
}

// The form's values; timeout is null when empty and undefined when invalid.
function readForm(fields) {
  const raw = fields.timeout.value.trim();
  let timeout = null;
  if (raw || fields.timeout.validity.badInput) {
    const n = Number(raw);
    timeout = raw && Number.isInteger(n) && n >= 1 && n <= LIMITS.timeoutMax ? n : undefined;
  }
  return {
    name: fields.name.value.trim(),
    script: fields.script.value,
    icon: fields.icon.value.trim(),
    description: fields.description.value.trim(),
    confirm: fields.confirm.value.trim(),
    timeout,
  };
}

function creation(values) {
  const body = { name: values.name, script: values.script };
  if (values.icon) body.icon = values.icon;
  if (values.description) body.description = values.description;
  if (values.timeout != null) body.timeout = values.timeout;
  if (values.arguments.length) body.arguments = values.arguments;
  if (values.confirm) body.confirm = values.confirm;
  if (values.allowed_users !== null) body.allowed_users = values.allowed_users;
  return body;
}

// Only what the admin changed goes to the server.
function changes(initial, values, before) {
  const body = {};
  if (values.confirm !== initial.confirm) body.confirm = values.confirm || null;
  for (const key of ['arguments', 'allowed_users']) {
    if (JSON.stringify(values[key]) !== before[key]) body[key] = values[key];
  }
  for (const key of ['name', 'script', 'icon', 'description']) {
    if (values[key] !== initial[key]) body[key] = values[key];
  }
  const timeout = initial.timeout ? Number(initial.timeout) : null;
  if (values.timeout !== timeout) body.timeout = values.timeout;
  return body;
}

// A 400 with `fields`: each message under its field (arguments.N.x in the
// argument editor), the rest in the form's error box.
function showFieldErrors(err, fields, args, grants, error) {
  const argumentErrors = {};
  const rest = [];
  let first = null;
  for (const [key, message] of Object.entries(err.data.fields)) {
    const top = key.split('.')[0];
    if (top === 'arguments') argumentErrors[key] = message;
    else if (top === 'allowed_users') grants.showError(String(message));
    else if (fields[top]) {
      fields[top].setAttribute('aria-invalid', 'true');
      rest.push(String(message));
      first = first || fields[top];
    } else rest.push(String(message));
  }
  rest.push(...args.showErrors(argumentErrors));
  error.show(rest.length ? rest.join(' ') : err.message);
  if (first) first.focus();
}

// Which field a server error is about: its `field` when the server names
// one, else the first field its message mentions.
function fieldOf(err) {
  const named = err.data && typeof err.data === 'object' ? err.data.field : null;
  if (['name', 'script', 'icon', 'description', 'timeout'].includes(named)) return named;
  const text = String(err.message || '').toLowerCase();
  for (const key of ['script', 'timeout', 'icon', 'description', 'name']) {
    if (text.includes(key)) return key;
  }
  return null;
}
