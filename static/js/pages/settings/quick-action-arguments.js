// Settings → Quick actions, the action dialog's argument editor: one card
// per argument (add, remove, move up and down, fields for its type) and a
// live preview of the form users will see (ui/action-form.js, the same
// builder the dashboard uses). The server checks every argument; its
// `fields` errors ("arguments.2.pattern") land under the field they name.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { ARGUMENT_TYPES, argumentFields } from '../../ui/action-form.js';
import { uid } from '../../ui/form.js';

/**
 * {element, value(), showErrors(fields) → messages about no field,
 *  clearErrors(), refresh()}. `confirmText()` gives the confirmation the
 * preview mentions; `signal` ends the scripts request.
 */
export function argumentEditor(initial, { confirmText = () => '', signal = null } = {}) {
  const drafts = (Array.isArray(initial) ? initial : []).map(fromArgument);
  let cards = [];
  const list = h('ol', { class: 'qa-args' });
  const empty = h('p', { class: 'field-help qa-args-empty' },
    'No arguments: the button runs the script at once. Add one to ask for a value first.');
  const sectionError = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const preview = h('div', { class: 'qa-preview-body' });
  const scripts = lazyScripts(signal);
  const add = h('button', {
    type: 'button', class: 'btn btn-sm', onClick: () => {
      drafts.push(fromArgument({ type: 'text', required: false }));
      render(drafts.length - 1, '[data-arg-field="name"]');
    },
  }, icon('plus'), h('span', null, 'Add argument'));

  const element = h('div', { class: 'qa-args-editor' },
    h('div', { class: 'qa-args-main' }, empty, list, sectionError, h('div', { class: 'qa-args-add' }, add)),
    h('section', { class: 'qa-preview', 'aria-label': 'Preview of the form' },
      h('h4', { class: 'qa-preview-title' }, icon('eye'), 'Preview'),
      // inert: a picture of the form, not part of this one (Enter in it
      // must not save the action).
      h('div', { class: 'qa-preview-frame', inert: true }, preview)));
  element.addEventListener('input', (event) => {
    if (!preview.contains(event.target)) refresh();
  });
  element.addEventListener('change', (event) => {
    if (!preview.contains(event.target)) refresh();
  });

  // Rebuilds the cards from the drafts; `focus`: [index, selector] after.
  function render(focusIndex = null, selector = null) {
    cards = drafts.map((draft, i) => argumentCard(draft, i, drafts.length, {
      move: (delta) => move(i, delta),
      remove: () => {
        drafts.splice(i, 1);
        render(Math.min(i, drafts.length - 1), '.qa-arg-remove');
      },
      scripts,
      changed: refresh,
    }));
    list.replaceChildren(...cards.map((c) => c.el));
    empty.hidden = drafts.length > 0;
    sectionError.hidden = true;
    refresh();
    if (focusIndex != null && cards[focusIndex]) {
      const target = cards[focusIndex].el.querySelector(`${selector}:not(:disabled)`)
        || cards[focusIndex].el.querySelector('.qa-arg-move:not(:disabled), input');
      if (target) target.focus();
    } else if (focusIndex != null) {
      add.focus();
    }
  }

  function move(i, delta) {
    const j = i + delta;
    if (j < 0 || j >= drafts.length) return;
    [drafts[i], drafts[j]] = [drafts[j], drafts[i]];
    render(j, delta < 0 ? '.qa-arg-up' : '.qa-arg-down');
  }

  function refresh() {
    const args = drafts.map(toArgument).map((arg) => ({ ...arg, name: arg.name || 'unnamed' }));
    const confirm = confirmText();
    preview.replaceChildren(
      args.length ? argumentFields(args).element : h('p', { class: 'field-help' }, 'The button runs the script at once.'),
      confirm ? h('p', { class: 'qa-preview-confirm' }, icon('info', 'notice-icon'),
        h('span', null, 'Then asks to confirm: ', h('q', null, confirm))) : null);
  }

  render();
  return {
    element,
    value: () => drafts.map(toArgument),
    showErrors(fields) {
      const rest = [];
      for (const [key, message] of Object.entries(fields || {})) {
        const [, index, field] = key.split('.');
        const card = index != null ? cards[Number(index)] : null;
        if (card) card.setError(field, String(message));
        else if (key === 'arguments') {
          sectionError.textContent = String(message);
          sectionError.hidden = false;
        } else rest.push(String(message));
      }
      const bad = element.querySelector('[aria-invalid="true"]');
      if (bad) bad.focus();
      return rest;
    },
    clearErrors() {
      sectionError.hidden = true;
      for (const card of cards) card.clearErrors();
    },
    refresh,
  };
}

// The editor's draft of an argument: what its inputs hold, as text.
function fromArgument(arg) {
  const text = (v) => (v == null ? '' : String(v));
  return {
    name: text(arg.name),
    label: text(arg.label),
    type: ARGUMENT_TYPES[arg.type] ? arg.type : 'text',
    required: Boolean(arg.required),
    description: text(arg.description),
    default: arg.type === 'bool' ? arg.default === true : text(arg.default),
    max_length: text(arg.max_length),
    pattern: text(arg.pattern),
    min: text(arg.min),
    max: text(arg.max),
    source: arg.choices_from ? 'script' : 'list',
    choices: Array.isArray(arg.choices) ? arg.choices.join('\n') : '',
    choices_from: text(arg.choices_from),
  };
}

// A number when the text is one, else the text itself (the server says
// what is wrong with it); nothing when empty.
function number(raw) {
  const text = String(raw).trim();
  if (!text) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

// What goes to the server: the fields of the argument's type only.
function toArgument(d) {
  const out = { name: d.name.trim(), label: d.label.trim(), type: d.type, required: d.required };
  if (!out.label) delete out.label;
  if (d.description.trim()) out.description = d.description.trim();
  const put = (key, value) => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  if (d.type === 'bool') out.default = Boolean(d.default);
  else if (d.type === 'int') put('default', number(d.default));
  else if (d.type !== 'password') put('default', d.default);
  if (d.type === 'text' || d.type === 'multiline') put('max_length', number(d.max_length));
  if (d.type === 'text') put('pattern', d.pattern);
  if (d.type === 'int') {
    put('min', number(d.min));
    put('max', number(d.max));
  }
  if (d.type === 'choice') {
    if (d.source === 'script') out.choices_from = d.choices_from;
    else out.choices = d.choices.split('\n').map((c) => c.trim()).filter(Boolean);
  }
  return out;
}

// GET /api/scripts once, when a "from a script" choice first needs it.
function lazyScripts(signal) {
  let names = null;
  return () => {
    if (!names) {
      names = api.get('/api/scripts', { signal })
        .then((data) => (Array.isArray(data.scripts) ? data.scripts : []).map((s) => s.name));
      names.catch(() => { names = null; });
    }
    return names;
  };
}

function argumentCard(draft, index, count, { move, remove, scripts, changed }) {
  const prefix = uid('qa-arg');
  const errors = new Map(); // field → {input, error}
  const cardError = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const title = () => `Argument ${index + 1}${draft.name ? `: ${draft.name}` : ''}`;
  const heading = h('h4', { class: 'qa-arg-title', id: `${prefix}-title` }, title());

  // One labelled field bound to draft[key]; its error slot is registered.
  function field(key, label, input, { help = null, wide = false } = {}) {
    const id = `${prefix}-${key}`;
    const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const helpEl = help ? h('p', { class: 'field-help', id: `${id}-help` }, help) : null;
    input.id = id;
    input.dataset.argField = key;
    input.setAttribute('aria-describedby', [helpEl ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(' '));
    const read = () => {
      draft[key] = input.type === 'checkbox' ? input.checked : input.value;
      input.removeAttribute('aria-invalid');
      error.hidden = true;
      if (key === 'name') heading.textContent = title();
    };
    input.addEventListener('input', read);
    input.addEventListener('change', read);
    errors.set(key, { input, error });
    return h('div', { class: ['field', wide ? 'qa-arg-wide' : null] }, h('label', { for: id }, label), input, helpEl, error);
  }
  const textInput = (key, extra = {}) => h('input', {
    type: 'text', class: 'input', value: draft[key], autocomplete: 'off', ...extra,
  });
  const numberInput = (key) => textInput(key, { inputmode: 'numeric', class: 'input input-number' });

  const type = h('select', { class: 'input select' },
    Object.entries(ARGUMENT_TYPES).map(([value, label]) => h('option', { value, selected: value === draft.type }, label)));
  const specific = h('div', { class: 'qa-arg-grid qa-arg-specific' });
  const required = h('input', { type: 'checkbox', class: 'choice-input', checked: draft.required });
  const requiredField = h('label', { class: 'choice qa-arg-required', for: `${prefix}-required` }, required,
    h('span', { class: 'choice-text' }, h('span', { class: 'choice-label' }, 'Required'),
      h('span', { class: 'choice-help' }, 'It cannot be left empty.')));
  required.id = `${prefix}-required`;
  required.dataset.argField = 'required';
  required.addEventListener('change', () => { draft.required = required.checked; });
  errors.set('required', { input: required, error: cardError });

  function fillSpecific() {
    specific.replaceChildren(...typeFields(draft, { field, textInput, numberInput, scripts, changed }));
    requiredField.hidden = draft.type === 'bool';
  }
  type.addEventListener('change', () => {
    draft.type = type.value;
    fillSpecific();
  });
  fillSpecific();

  const button = (name, label, className, disabled, onClick) => h('button', {
    type: 'button', class: ['icon-button', className], 'aria-label': label, title: label, disabled, onClick,
  }, icon(name));
  const el = h('li', { class: 'qa-arg', dataset: { argIndex: index }, 'aria-labelledby': `${prefix}-title` },
    h('div', { class: 'qa-arg-head' },
      heading,
      h('div', { class: 'qa-arg-buttons' },
        button('arrowUp', `Move argument ${index + 1} up`, 'qa-arg-move qa-arg-up', index === 0, () => move(-1)),
        button('arrowDown', `Move argument ${index + 1} down`, 'qa-arg-move qa-arg-down', index === count - 1, () => move(1)),
        button('trash', `Remove argument ${index + 1}`, 'qa-arg-remove', false, remove))),
    cardError,
    h('div', { class: 'qa-arg-grid' },
      field('name', 'Argument name', textInput('name', {
        class: 'input input-mono', autocapitalize: 'none', spellcheck: 'false',
      }), { help: 'Lower case, as the script gets it: TORU_ARG_NAME.' }),
      field('label', 'Label', textInput('label'), { help: 'What users read. Empty: the name.' }),
      field('type', 'Type', type),
      requiredField,
      field('description', 'Help text', textInput('description'), { wide: true })),
    specific);

  return {
    el,
    setError(key, message) {
      const slot = key ? errors.get(key) : null;
      if (!slot) {
        cardError.textContent = key ? `${key}: ${message}` : message;
        cardError.hidden = false;
        return;
      }
      slot.error.textContent = message;
      slot.error.hidden = false;
      slot.input.setAttribute('aria-invalid', 'true');
    },
    clearErrors() {
      cardError.hidden = true;
      for (const { input, error } of errors.values()) {
        error.hidden = true;
        input.removeAttribute('aria-invalid');
      }
    },
  };
}

// The fields only some types have, and the default in the type's shape.
function typeFields(draft, { field, textInput, numberInput, scripts, changed }) {
  const out = [];
  switch (draft.type) {
    case 'text':
      out.push(field('max_length', 'Maximum length', numberInput('max_length')));
      out.push(field('pattern', 'Pattern', textInput('pattern', { class: 'input input-mono', spellcheck: 'false' }),
        { help: 'A regular expression the whole value must match, e.g. [a-z0-9.-]+' }));
      break;
    case 'multiline':
      out.push(field('max_length', 'Maximum length', numberInput('max_length')));
      break;
    case 'int':
      out.push(field('min', 'Minimum', numberInput('min')), field('max', 'Maximum', numberInput('max')));
      break;
    case 'choice':
      out.push(choiceSource(draft, { field, scripts, changed }));
      break;
    default:
      break;
  }
  if (draft.type === 'bool') {
    const on = h('input', {
      type: 'checkbox', role: 'switch', class: 'switch-input', checked: draft.default === true,
      dataset: { argField: 'default' }, onChange: () => { draft.default = on.checked; },
    });
    out.push(h('label', { class: 'switch qa-arg-switch' }, on, h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
      h('span', { class: 'switch-text' }, 'On by default')));
  } else if (draft.type !== 'password') {
    const input = draft.type === 'int' ? numberInput('default') : textInput('default');
    out.push(field('default', 'Default value', input, { help: 'Filled in when the form opens.' }));
  }
  return out;
}

// A choice's options: typed here, one per line, or a script's output lines.
function choiceSource(draft, { field, scripts, changed }) {
  const name = uid('qa-arg-source');
  const radio = (value, label) => {
    const input = h('input', {
      type: 'radio', name, value, class: 'choice-input', checked: draft.source === value,
      onChange: () => {
        draft.source = value;
        show();
        changed();
      },
    });
    return h('label', { class: 'choice' }, input, h('span', { class: 'choice-text' }, h('span', { class: 'choice-label' }, label)));
  };
  const list = h('textarea', { class: 'input textarea', rows: '4', value: draft.choices });
  const script = h('select', { class: 'input select' }, h('option', { value: draft.choices_from }, draft.choices_from || 'Loading scripts…'));
  const listField = field('choices', 'Options, one per line', list, { wide: true });
  const scriptField = field('choices_from', 'Script that prints the options', script, {
    wide: true, help: 'Each line it prints is an option; it runs when the form opens (5 s at most, kept 30 s).',
  });
  let loaded = false;
  function show() {
    listField.hidden = draft.source !== 'list';
    scriptField.hidden = draft.source !== 'script';
    if (draft.source === 'script' && !loaded) {
      loaded = true;
      scripts().then((names) => {
        const options = names.map((n) => h('option', { value: n, selected: n === draft.choices_from }, n));
        if (draft.choices_from && !names.includes(draft.choices_from)) {
          options.unshift(h('option', { value: draft.choices_from, selected: true }, `${draft.choices_from} (not found)`));
        }
        if (!draft.choices_from) options.unshift(h('option', { value: '', selected: true, disabled: true }, 'Choose a script'));
        script.replaceChildren(...options);
      }, (err) => {
        loaded = false;
        script.replaceChildren(h('option', { value: draft.choices_from }, `Scripts could not be loaded: ${err.message}`));
      });
    }
  }
  show();
  return h('div', { class: 'qa-arg-wide qa-arg-source' },
    h('fieldset', { class: 'fieldset' }, h('legend', null, 'Options'),
      h('div', { class: 'choices choices-inline' }, radio('list', 'Listed here'), radio('script', 'From a script'))),
    listField, scriptField);
}
