// Icon buttons of list rows (Edit, Delete, Run now…): the icon with its
// label for assistive technology and as a hover title, and a spinner while
// the request it started runs. (A text button's busy state is busy() in
// form.js.)
import { h } from './dom.js';
import { icon } from './icons.js';

/** An .icon-button; onClick(button) gets the button (to pass to iconBusy). */
export function iconButton(name, label, className, disabled, onClick) {
  const button = h('button', {
    type: 'button', class: ['icon-button', className], 'aria-label': label, title: label, disabled,
    onClick: () => onClick(button),
  }, icon(name));
  return button;
}

/** Shows a spinner in an icon button while a request runs; returns undo. */
export function iconBusy(button) {
  const before = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.replaceChildren(h('span', { class: 'spinner' }));
  return () => {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.replaceChildren(...before);
  };
}
