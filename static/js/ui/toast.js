// Toast notifications: showToast(message, type, {action}) with type
// success/error/info. An action is a link ({label, href}) or a button
// ({label, onClick}) after the message; using it dismisses the toast.
import { h } from './dom.js';
import { icon } from './icons.js';

const DURATION_MS = { success: 4000, info: 4000, error: 8000 };
// A toast with something to click stays long enough to reach it.
const ACTION_DURATION_MS = 10000;
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

export function showToast(message, type = 'info', { action = null } = {}) {
  if (!(type in DURATION_MS)) type = 'info';
  const region = initToasts();
  const text = String(message);
  const target = action ? String(action.href || action.label) : '';

  // The same message twice (a retry loop, a double click) restarts the first
  // toast instead of stacking copies; one whose link goes elsewhere (the
  // same script started twice) is a different toast.
  for (const existing of region.children) {
    if (existing.dataset.type === type && existing.dataset.message === text && (existing.dataset.action || '') === target
        && !existing.classList.contains('toast-leaving')) {
      existing.toastTimer.restart();
      return existing;
    }
  }

  const toast = h('div', {
    class: ['toast', `toast-${type}`], role: type === 'error' ? 'alert' : null,
    dataset: { type, message: text, action: target || null },
  },
  icon(type, 'toast-icon'),
  h('div', { class: 'toast-body' },
    h('p', { class: 'toast-message' }, text),
    action ? actionElement(action, () => dismiss(toast)) : null),
  h('button', { type: 'button', class: 'icon-button toast-close', 'aria-label': 'Dismiss notification', onClick: () => dismiss(toast) },
    icon('close')));

  toast.toastTimer = timer(() => dismiss(toast), action ? Math.max(ACTION_DURATION_MS, DURATION_MS[type]) : DURATION_MS[type]);
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

// A link is followed by the router (a same-site href) or the browser.
function actionElement({ label, href = null, onClick = null }, done) {
  if (href) {
    return h('a', { class: 'link-button toast-action', href, onClick: () => done() }, label);
  }
  return h('button', {
    type: 'button', class: 'link-button toast-action',
    onClick: (event) => {
      done();
      if (onClick) onClick(event);
    },
  }, label);
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
