// Modal dialogs on the native <dialog> element: the browser traps focus,
// makes the rest of the page inert and closes on Escape. Once the user has
// typed or chosen something in a dialog, Escape and the close button ask
// before throwing it away (its own Cancel button is a deliberate choice).
import { h } from './dom.js';
import { icon } from './icons.js';

const openDialogs = new Set();
let counter = 0;

/**
 * Opens a modal dialog and returns a Promise of the value passed to
 * close(value) (undefined when dismissed by Escape, the close button or
 * closeAllDialogs). `build(close, titleId)` returns the dialog's body.
 *
 *   modal({title: 'Delete user', size: 'sm'}, (close) => [...])
 */
export function modal({ title, description = null, size = 'md', className = null }, build) {
  counter += 1;
  const titleId = `dialog-${counter}-title`;
  const descriptionId = description ? `dialog-${counter}-desc` : null;
  const opener = document.activeElement;
  let result;

  const dialog = h('dialog', {
    class: ['dialog', `dialog-${size}`, className],
    'aria-labelledby': titleId,
    'aria-describedby': descriptionId,
  });
  const close = (value) => {
    result = value;
    if (dialog.open) dialog.close();
  };
  // Only the user's own input counts: fields a dialog fills in itself (a
  // select loaded after opening) fire no trusted input or change event.
  let edited = false;
  const noteEdit = (event) => { if (event.isTrusted) edited = true; };
  dialog.addEventListener('input', noteEdit);
  dialog.addEventListener('change', noteEdit);
  let asking = false;
  const dismiss = async () => {
    if (asking) return;
    if (edited) {
      asking = true;
      const discard = await confirmDialog('What you entered here has not been saved.', {
        title: 'Discard changes?', confirmLabel: 'Discard', cancelLabel: 'Keep editing', danger: true,
      });
      asking = false;
      if (!discard) return;
    }
    close(undefined);
  };
  dialog.addEventListener('cancel', (event) => {
    if (!edited) return;
    event.preventDefault(); // Escape: ask first
    dismiss();
  });
  dialog.append(
    h('div', { class: 'dialog-head' },
      h('h2', { class: 'dialog-title', id: titleId }, title),
      h('button', { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onClick: dismiss },
        icon('close'))),
    // Node.append() would print a null as the text "null".
    ...(description ? [h('p', { class: 'dialog-description', id: descriptionId }, description)] : []),
    h('div', { class: 'dialog-body' }, build(close, titleId)));

  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      openDialogs.delete(dialog);
      dialog.remove();
      // Give focus back to whatever opened the dialog, if it is still there.
      if (opener instanceof HTMLElement && opener.isConnected && !opener.closest('[hidden]')) {
        opener.focus({ preventScroll: true });
      }
      resolve(result);
    }, { once: true });
    dialog.closeDialog = close;
    dialog.isEdited = () => edited;
    openDialogs.add(dialog);
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** True when an open dialog holds input the user typed (the router asks before leaving it). */
export function dialogEdited() {
  return [...openDialogs].some((dialog) => dialog.isEdited());
}

/** Closes every open dialog (the router calls this on navigation). */
export function closeAllDialogs() {
  for (const dialog of [...openDialogs]) dialog.closeDialog(undefined);
}

/**
 * Asks a yes/no question; resolves to true only when confirmed. For a
 * destructive action pass {danger: true}: the button turns red and focus
 * starts on Cancel, so a stray Enter does no harm.
 */
export function confirmDialog(message, {
  title = 'Are you sure?', confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false,
} = {}) {
  return modal({ title, size: 'sm', className: 'dialog-confirm' }, (close) => [
    h('p', { class: 'dialog-message' }, message),
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'btn', autofocus: danger, onClick: () => close(false) }, cancelLabel),
      h('button', {
        type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], autofocus: !danger,
        dataset: { confirm: '' }, onClick: () => close(true),
      }, confirmLabel)),
  ]).then((value) => value === true);
}
