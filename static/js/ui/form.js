// Small pieces every form uses: ids unique to one form instance, the inline
// error box, a submit button's busy state while its request runs, and the
// create-or-update request of an editor.
import { h } from './dom.js';
import { api } from '../api.js';

let counter = 0;

/** A unique prefix for the ids of one form instance. */
export function uid(name) {
  counter += 1;
  return `${name}-${counter}`;
}

/** The inline error box of a form: show(message) / clear(). */
export function formError() {
  const element = h('p', { class: 'form-error', role: 'alert', hidden: true });
  return {
    element,
    show(message) {
      element.textContent = message;
      element.hidden = false;
    },
    clear() {
      element.textContent = '';
      element.hidden = true;
    },
  };
}

/** Puts a button into a busy state; returns the function that undoes it. */
export function busy(button, label) {
  const before = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.replaceChildren(label);
  return () => {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.replaceChildren(...before);
  };
}

/**
 * An editor's save: POST `path` (a new record, `id` null) or PUT `path/id`,
 * with `submit` busy meanwhile. The answer's data ({} for an empty one), or
 * null when it failed: then `onError(err)` has been called, unless the
 * request was cancelled or the app already showed it (err.handled).
 */
export async function saveRecord({ submit, path, id = null, body, signal = null, onError, creating = 'Creating…' }) {
  const done = busy(submit, id === null ? creating : 'Saving…');
  try {
    const data = id === null ? await api.post(path, body, { signal })
      : await api.put(`${path}/${encodeURIComponent(id)}`, body, { signal });
    return data ?? {};
  } catch (err) {
    done();
    if (!err.handled && err.name !== 'AbortError') onError(err);
    return null;
  }
}
