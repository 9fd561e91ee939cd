// Copying a value to the clipboard. Without clipboard access (plain http on
// a remote host, a browser that refuses) the text is selected instead, so
// the user can copy it with the keyboard.
import { showToast } from './toast.js';

/** Copies the text of `element` (the value of an input or textarea); on
 *  failure selects it and says how to copy it. */
export async function copyText(element) {
  const field = element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement;
  const text = field ? element.value : element.textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    showToast('Copied', 'success');
  } catch {
    select(element, field);
    showToast('Selected. Press Ctrl+C (⌘C on a Mac) to copy.', 'info');
  }
}

function select(element, field) {
  if (field) {
    element.focus();
    element.select();
    return;
  }
  const selection = window.getSelection();
  selection.removeAllRanges();
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.addRange(range);
}
