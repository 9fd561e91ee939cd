// The server's `fields` errors ({"error", "fields": {name: message}}, one
// answer for every bad field) shown next to the inputs they name. The form
// keeps no copy of the server's rules: it only knows which input is which.
import { h } from './dom.js';

/**
 * fieldErrors({name: input}) → {show(fields) → messages of unknown names,
 *   clear(), focusFirst()}
 * Each message goes in a `p.field-error` after its input's `.field` (or
 * right after the input), linked by aria-describedby, and the input gets
 * aria-invalid. A message goes away as soon as its input changes.
 */
export function fieldErrors(inputs) {
  const shown = new Map(); // name → the message element

  function remove(name) {
    const message = shown.get(name);
    if (!message) return;
    message.remove();
    shown.delete(name);
    const input = inputs[name];
    input.removeAttribute('aria-invalid');
    const described = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== message.id);
    if (described.length) input.setAttribute('aria-describedby', described.join(' '));
    else input.removeAttribute('aria-describedby');
  }

  for (const [name, input] of Object.entries(inputs)) {
    const forget = () => remove(name);
    input.addEventListener('input', forget);
    input.addEventListener('change', forget);
  }

  return {
    show(fields) {
      const unknown = [];
      for (const [name, text] of Object.entries(fields || {})) {
        const input = inputs[name];
        if (!input) {
          unknown.push(String(text));
          continue;
        }
        remove(name);
        const message = h('p', { class: 'field-error', id: `${input.id || name}-server-error`, role: 'alert' }, String(text));
        (input.closest('.field') || input.parentElement).append(message);
        shown.set(name, message);
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} ${message.id}`.trim());
      }
      return unknown;
    },
    clear() {
      for (const name of [...shown.keys()]) remove(name);
    },
    focusFirst() {
      const first = Object.entries(inputs).find(([name]) => shown.has(name));
      if (first) first[1].focus();
      return Boolean(first);
    },
  };
}

/** The `fields` of an ApiError's body, or null. */
export function serverFields(err) {
  const fields = err && err.data && typeof err.data === 'object' ? err.data.fields : null;
  return fields && typeof fields === 'object' && Object.keys(fields).length ? fields : null;
}

/**
 * After a refused submit: the server's field messages under their inputs
 * (`errors` from fieldErrors) and the rest, or a summary, in `error` (a
 * form error with show(text)); without `fields`, the server's message.
 * `notDone` starts the summary: "Not added", "Not created"…; `marked` says
 * where the fields are from the summary ("below", "above"). A form made of
 * parts passes `sections`: [{prefix, errors}], the fields whose name starts
 * with `prefix` ("config.") shown by that part's fieldErrors.
 */
export function showSubmitError(err, { error, errors, notDone, marked = 'below', sections = [] }) {
  const fields = serverFields(err);
  if (!fields) {
    error.show(err.message);
    return;
  }
  const groups = [errors, ...sections.map((section) => section.errors)];
  const routed = groups.map(() => ({}));
  for (const [name, text] of Object.entries(fields)) {
    const index = sections.findIndex((section) => name.startsWith(section.prefix));
    routed[index + 1][name] = text;
  }
  const rest = groups.flatMap((group, i) => group.show(routed[i]));
  error.show(rest.length ? rest.join(' ') : `${notDone}: correct the fields marked ${marked}.`);
  groups.some((group) => group.focusFirst());
}
