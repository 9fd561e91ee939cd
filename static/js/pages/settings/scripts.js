// Settings → Scripts (admin): where scripts live and how tasks run and are
// kept. Saving sends only the fields that changed; the server checks them
// all before it saves any, so after an error nothing has changed.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showError, showToast } from '../../ui/toast.js';
import { busy, formError, uid } from '../../ui/form.js';
import { loadError } from '../../ui/load-error.js';
import { serverFields } from '../../ui/field-errors.js';

const KIB = 1024;
const MIB = 1024 * 1024;
const BYTE_UNITS = [['MiB', MIB], ['KiB', KIB], ['bytes', 1]];

// kind: path (text), bytes (number + unit), int (whole number); optional:
// empty means null ("none").
const FIELDS = [
  {
    key: 'scripts_dir', kind: 'path', label: 'Scripts directory',
    help: 'An existing directory on the server. A relative path is inside the data directory.',
  },
  {
    key: 'task_timeout_seconds', kind: 'int', label: 'Task timeout', unit: 'seconds', optional: true,
    help: 'From 1 to 86,400 seconds (a day). Empty: tasks run until they end. A quick action may set its own.',
  },
  {
    key: 'max_concurrent_tasks', kind: 'int', label: 'Tasks running at once', unit: 'tasks',
    help: 'From 1 to 64. One more is refused until another ends.',
  },
  {
    key: 'output_cap_bytes', kind: 'bytes', label: 'Stored output per task',
    help: 'From 4 KiB to 64 MiB. Longer output keeps its first and last halves.',
  },
  {
    key: 'retention_days', kind: 'int', label: 'Keep history for', unit: 'days',
    help: 'From 1 to 3,650 days. Older tasks are removed.',
  },
  {
    key: 'retention_max_tasks', kind: 'int', label: 'Keep at most', unit: 'tasks',
    help: 'From 10 to 1,000,000. The oldest beyond this are removed.',
  },
];

export function render(container, ctx) {
  const body = h('div', { class: 'card-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  container.append(h('section', { class: 'card card-flush card-narrow-lg', 'aria-labelledby': 'scripts-settings-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'scripts-settings-title' }, icon('scripts'), 'Scripts and tasks'),
        h('p', { class: 'card-lead' }, 'Where scripts live, how long tasks may run and how much of their history is kept.'))),
    body));

  async function load() {
    body.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.get('/api/settings', { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`The settings could not be loaded: ${err.message}`, load));
      showError(err, 'Settings');
      return;
    }
    if (ctx.signal.aborted) return;
    body.removeAttribute('aria-busy');
    body.replaceChildren(settingsForm(data.settings || {}, ctx.guardLeave));
  }
  load();
}

function settingsForm(initial, guardLeave) {
  let saved = { ...initial };
  const error = formError();
  const controls = FIELDS.map((f) => control(f));
  // Leaving with a setting typed but not saved asks first.
  guardLeave(() => controls.some((c) => {
    const { value, problem } = c.read();
    return Boolean(problem) || value !== saved[c.field.key];
  }));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
  const reset = h('button', {
    type: 'button', class: 'btn', onClick: () => {
      fill(saved);
      clearErrors();
    },
  }, 'Undo changes');

  function fill(values) {
    for (const c of controls) c.set(values[c.field.key]);
  }
  function clearErrors() {
    error.clear();
    for (const c of controls) c.error(null);
  }
  fill(saved);

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors();
    const changed = {};
    for (const c of controls) {
      const { value, problem } = c.read();
      if (problem) {
        c.error(problem);
        c.focus();
        return;
      }
      if (value !== saved[c.field.key]) changed[c.field.key] = value;
    }
    if (!Object.keys(changed).length) {
      showToast('Nothing to save: no setting changed.', 'info');
      return;
    }
    const done = busy(submit, 'Saving…');
    let data;
    try {
      data = await api.put('/api/settings', changed);
    } catch (err) {
      done();
      if (err.handled) return;
      // The server saved nothing: keep what was typed so it can be fixed,
      // with each of its messages next to the setting it names.
      const fields = serverFields(err) || {};
      const marked = controls.filter((c) => fields[c.field.key]);
      for (const c of marked) c.error(fields[c.field.key]);
      if (marked.length) {
        error.show('Not saved: no setting was changed. Fix the marked fields and save again.');
        marked[0].focus();
      } else {
        error.show(`Not saved: ${err.message}`);
      }
      return;
    }
    done();
    saved = { ...saved, ...changed, ...((data && data.settings) || {}) };
    fill(saved);
    const count = Object.keys(changed).length;
    showToast(count === 1 ? 'Setting saved.' : `${count} settings saved.`, 'success');
  }

  return h('form', { class: 'form settings-form', noValidate: true, onSubmit },
    controls.map((c) => c.element),
    error.element,
    h('div', { class: 'form-actions form-actions-start' }, submit, reset));
}

// One field: {element, field, set(value), read() → {value, problem}, error(message), focus()}.
function control(field) {
  const id = uid(`setting-${field.key}`);
  const message = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const { input, unit } = inputs(field, id, `${id}-help ${id}-error`);
  const exact = field.kind === 'bytes' ? h('span', { class: 'field-exact', 'aria-live': 'polite' }) : null;
  const read = () => readValue(field, input, unit);
  const showExact = () => {
    if (!exact) return;
    const { value } = read();
    exact.textContent = Number.isInteger(value) ? `= ${value.toLocaleString()} bytes` : '';
  };
  const setError = (text) => {
    message.hidden = !text;
    message.textContent = text || '';
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  for (const el of [input, unit].filter(Boolean)) {
    el.addEventListener('input', () => { setError(null); showExact(); });
    el.addEventListener('change', () => { setError(null); showExact(); });
  }
  const set = (value) => {
    writeValue(field, input, unit, value);
    setError(null);
    showExact();
  };

  const label = h('label', { for: id }, field.label,
    field.optional ? [' ', h('span', { class: 'optional' }, '(optional)')] : null);
  const row = field.kind === 'path' ? input
    : h('div', { class: 'input-with-unit' }, input,
      unit || h('span', { class: 'input-unit-label', 'aria-hidden': 'true' }, field.unit));
  const element = h('div', { class: 'field', dataset: { setting: field.key } },
    label, row, exact,
    h('p', { class: 'field-help', id: `${id}-help` }, field.help),
    message);
  return { element, field, set, read, error: setError, focus: () => input.focus() };
}

// The input of a field, and for a size the unit it is counted in.
function inputs(field, id, describedBy) {
  const common = { id, name: field.key, 'aria-describedby': describedBy, autocomplete: 'off' };
  if (field.kind === 'path') {
    return { input: h('input', { ...common, type: 'text', class: 'input input-mono', spellcheck: 'false', autocapitalize: 'none' }) };
  }
  const bytes = field.kind === 'bytes';
  const input = h('input', {
    ...common, type: 'number', class: 'input input-number', min: '0', step: bytes ? 'any' : '1',
    inputmode: bytes ? 'decimal' : 'numeric',
  });
  const unit = bytes
    ? h('select', { class: 'input select input-unit', 'aria-label': `${field.label}: unit`, name: `${field.key}_unit` },
      BYTE_UNITS.map(([label, size]) => h('option', { value: String(size) }, label)))
    : null;
  return { input, unit };
}

// A size shows in the largest unit that counts it exactly (1 MiB, not 1024 KiB).
function writeValue(field, input, unit, value) {
  if (field.kind !== 'bytes') {
    input.value = value == null ? '' : String(value);
    return;
  }
  const bytes = Number(value);
  const [, size] = BYTE_UNITS.find(([, s]) => bytes > 0 && bytes % s === 0) || BYTE_UNITS[2];
  unit.value = String(size);
  input.value = Number.isFinite(bytes) ? String(bytes / size) : '';
}

// {value} to send (null for an empty optional field) or {problem}. Ranges
// are the server's to check: it knows them, and says which was wrong.
function readValue(field, input, unit) {
  const raw = input.value.trim();
  if (field.kind === 'path') return raw ? { value: raw } : { problem: `Enter the ${field.label.toLowerCase()}.` };
  if (!raw && !input.validity.badInput) {
    return field.optional ? { value: null } : { problem: `Enter a number for “${field.label}”.` };
  }
  const n = Number(raw);
  if (!raw || !Number.isFinite(n) || n < 0) return { problem: `“${field.label}” must be a number.` };
  if (field.kind === 'bytes') {
    const bytes = n * Number(unit.value);
    if (!Number.isInteger(bytes)) return { problem: `“${field.label}” must come to a whole number of bytes.` };
    return { value: bytes };
  }
  if (!Number.isInteger(n)) return { problem: `“${field.label}” must be a whole number.` };
  return { value: n };
}

