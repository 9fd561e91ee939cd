// Small pieces every form uses: ids unique to one form instance, the inline
// error box, and a submit button's busy state while its request runs.
import { h } from './dom.js';

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
