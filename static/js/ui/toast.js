// Toast notifications: showToast(message, type) with type success/error/info.
import { h } from './dom.js';
import { icon } from './icons.js';

const DURATION_MS = { success: 4000, info: 4000, error: 8000 };
const MAX_TOASTS = 5;
const LEAVE_MS = 160;

let container = null;

/** Creates the live region early: screen readers announce changes only in a
 *  region that already existed when the change happened. */
export function initToasts() {
  if (container && container.isConnected) return container;
  container = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', 'aria-label': 'Notifications' });
  document.body.append(container);
  return container;
}

export function showToast(message, type = 'info') {
  if (!(type in DURATION_MS)) type = 'info';
  const region = initToasts();
  const text = String(message);

  // The same message twice (a retry loop, a double click) restarts the first
  // toast instead of stacking copies.
  for (const existing of region.children) {
    if (existing.dataset.type === type && existing.dataset.message === text && !existing.classList.contains('toast-leaving')) {
      existing.toastTimer.restart();
      return existing;
    }
  }

  const toast = h('div', { class: ['toast', `toast-${type}`], role: type === 'error' ? 'alert' : null, dataset: { type, message: text } },
    icon(type, 'toast-icon'),
    h('p', { class: 'toast-message' }, text),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss notification', onClick: () => dismiss(toast) },
      icon('close')));

  toast.toastTimer = timer(() => dismiss(toast), DURATION_MS[type]);
  // Do not let a toast vanish while the user is reading or pointing at it.
  toast.addEventListener('mouseenter', () => toast.toastTimer.stop());
  toast.addEventListener('mouseleave', () => toast.toastTimer.restart());
  toast.addEventListener('focusin', () => toast.toastTimer.stop());
  toast.addEventListener('focusout', () => toast.toastTimer.restart());

  region.append(toast);
  const live = [...region.children].filter((el) => !el.classList.contains('toast-leaving'));
  for (const old of live.slice(0, Math.max(0, live.length - MAX_TOASTS))) dismiss(old);
  toast.toastTimer.restart();
  return toast;
}

/** Toast for a caught error; skips aborted requests and errors already
 *  handled (a 401 that redirected to the login page). */
export function showError(err, context = '') {
  if (!err || err.name === 'AbortError' || err.handled) return null;
  const message = err.message || String(err);
  return showToast(context ? `${context}: ${message}` : message, 'error');
}

function dismiss(toast) {
  if (toast.classList.contains('toast-leaving')) return;
  toast.toastTimer.stop();
  toast.classList.add('toast-leaving');
  setTimeout(() => toast.remove(), LEAVE_MS);
}

function timer(fn, ms) {
  let id = null;
  return {
    stop() { clearTimeout(id); id = null; },
    restart() { clearTimeout(id); id = setTimeout(fn, ms); },
  };
}
