// Small form pieces of the alerts editors: labelled fields, selects, groups
// of checkboxes, number inputs that read as numbers, and a secret field
// (set/unset, replace or clear) for the channel editor.
import { h } from '../../ui/dom.js';
import { uid } from '../../ui/form.js';

/** A .field with its label (and help): returns the element. */
export function field(label, input, help = null, extra = {}) {
  const helpId = help ? `${input.id}-help` : null;
  if (helpId) input.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'field', ...extra },
    h('label', { for: input.id }, label), input,
    help ? h('p', { class: 'field-help', id: helpId }, help) : null);
}

export function textInput(name, value = '', props = {}) {
  return h('input', {
    id: uid(`alert-${name.replace(/\W/g, '-')}`), name, class: 'input', autocomplete: 'off', spellcheck: 'false',
    value: value == null ? '' : String(value), ...props,
  });
}

export function numberInput(name, value, props = {}) {
  return textInput(name, value, { type: 'number', inputmode: 'decimal', class: 'input input-number', ...props });
}

/** The number typed, or undefined when empty (the server's default, or its "Required"). */
export function readNumber(input) {
  const text = input.value.trim();
  if (text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text; // the server says what is wrong with it
}

/** options: {value: label} or [[value, label]]; `disabledReason(value)` greys out an option. */
export function select(name, options, value, props = {}) {
  const entries = Array.isArray(options) ? options : Object.entries(options);
  return h('select', { id: uid(`alert-${name.replace(/\W/g, '-')}`), name, class: 'input select', ...props },
    entries.map(([v, label, disabled]) => h('option', { value: v, selected: String(v) === String(value), disabled: Boolean(disabled) }, label)));
}

/** A checkbox with its label on the right. */
export function checkbox(name, label, checked, help = null) {
  const input = h('input', { id: uid(`alert-${name}`), name, type: 'checkbox', class: 'choice-input', checked: Boolean(checked) });
  return {
    input,
    el: h('label', { class: 'choice alert-check', for: input.id }, input,
      h('span', { class: 'choice-text' }, h('span', { class: 'choice-label' }, label),
        help ? h('span', { class: 'choice-help' }, help) : null)),
  };
}

/**
 * A fieldset of checkboxes: {el, read() → [values], input: the fieldset}
 * (the fieldset is what field errors attach to). options: [[value, label]].
 */
export function checkGroup(name, legend, options, selected, { empty = null, help = null } = {}) {
  const chosen = new Set((selected || []).map(String));
  const boxes = options.map(([value, label]) => {
    const input = h('input', { type: 'checkbox', class: 'choice-input', name, value: String(value), checked: chosen.has(String(value)) });
    return [value, input, h('label', { class: 'choice alert-check' }, input,
      h('span', { class: 'choice-text' }, h('span', { class: 'choice-label' }, label)))];
  });
  const el = h('fieldset', { class: 'field fieldset', id: uid(`alert-${name.replace(/\W/g, '-')}`), dataset: { group: name } },
    h('legend', null, legend),
    boxes.length ? h('div', { class: 'choices' }, boxes.map(([, , label]) => label)) : h('p', { class: 'field-help' }, empty),
    help ? h('p', { class: 'field-help' }, help) : null);
  return { el, input: el, read: () => boxes.filter(([, input]) => input.checked).map(([value]) => value) };
}

/** "a, b c" → ["a", "b", "c"]. */
export function readList(input) {
  return input.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/**
 * A write-only secret (docs/alerts.md#secrets-are-write-only). `stored` is
 * what the API showed: {set: bool}, or a plain value (a field that was not
 * secret under the stored preset). Returns {el, input, read()}: read() gives
 * the stored object back (kept), the new text (replaced) or null (cleared).
 */
export function secretField(name, label, stored, { help = null, placeholder = '', required = false } = {}) {
  const isSet = Boolean(stored && typeof stored === 'object' && stored.set);
  const input = textInput(`config.${name}`, typeof stored === 'string' ? stored : '', {
    type: 'password', autocomplete: 'new-password', placeholder,
  });
  let mode = isSet ? 'keep' : 'new'; // keep | new | clear
  const status = h('span', { class: ['badge', 'badge-sm', isSet ? 'badge-success' : 'badge-neutral'], dataset: { secretState: '' } });
  const replace = h('button', { type: 'button', class: 'btn btn-sm', onClick: () => setMode('new', true) }, 'Replace');
  const clear = h('button', { type: 'button', class: 'btn btn-sm', onClick: () => setMode('clear') }, 'Clear');
  const undo = h('button', { type: 'button', class: 'btn btn-sm', onClick: () => setMode('keep') }, 'Keep the saved one');
  const controls = h('div', { class: 'secret-controls' }, status, replace, clear, undo);
  const box = h('div', { class: 'secret-input' }, input);

  function setMode(next, focus = false) {
    mode = next;
    box.hidden = mode !== 'new';
    controls.hidden = !isSet;
    replace.hidden = mode === 'new';
    clear.hidden = mode === 'clear';
    undo.hidden = mode === 'keep';
    status.textContent = { keep: 'Set', new: 'Will be replaced', clear: 'Will be cleared' }[mode];
    if (mode !== 'new') input.value = '';
    if (focus) input.focus();
    input.dispatchEvent(new Event('change')); // clears a server error under it
  }
  setMode(mode);

  const labelText = [label, !required ? h('span', { class: 'optional' }, ' (optional)') : null];
  const el = h('div', { class: 'field secret-field', dataset: { secret: name } },
    h('label', { for: input.id }, labelText), controls, box,
    h('p', { class: 'field-help' }, isSet ? 'Saved, and never shown again. ' : '', help || ''));
  return {
    el, input,
    read() {
      if (mode === 'keep') return { set: true };
      if (mode === 'clear') return null;
      return input.value.trim() || (isSet ? { set: true } : undefined); // empty: nothing changes
    },
  };
}
