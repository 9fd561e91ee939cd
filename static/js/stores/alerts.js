// What fires now, as the signed-in user may see it (the server filters):
// shared by the sidebar's count, the critical banner and the Alerts page.
// Loaded from GET /api/alerts, loaded again on every push of the "alerts"
// WebSocket topic (a push says something changed; the values of active
// alerts change with every sample without one), after a reconnect (pushes
// may have been missed) and when a silence ends (nothing is pushed then).
import { api } from '../api.js';
import { onConnectionChange, subscribe } from '../live.js';
import { later, scope, until } from '../lifetime.js';

const RELOAD_DELAY_MS = 250; // pushes come in bursts: one load each

const watchers = new Set(); // fn(state, message|null)
let state = { firing: [], pending: [], loaded: false, error: null };
let life = null;      // the AbortController of the topic, timers and loads
let inflight = null;
let cancelReload = () => {};
let cancelSilenceEnd = () => {};

/** The last answer: {firing, pending, loaded, error}. */
export function alertState() {
  return state;
}

/**
 * Calls fn(state, message) now (when loaded) and after every load until
 * `signal` aborts; `message` is the push that caused it ({event, alert})
 * or null. The first watcher subscribes to the topic; returns the function
 * that stops sooner.
 */
export function watchAlerts(fn, { signal } = {}) {
  watchers.add(fn);
  start();
  if (state.loaded || state.error) call(fn, null);
  return until(signal, () => {
    watchers.delete(fn);
    if (!watchers.size) stop();
  });
}

/** Loads again now (after a silence, or to refresh the values). */
export function refreshAlerts(message = null) {
  if (!life) return Promise.resolve();
  cancelReload();
  if (inflight) inflight.abort();
  const controller = scope(life.signal);
  inflight = controller;
  return api.get('/api/alerts?page_size=1', { signal: controller.signal }).then((data) => {
    if (controller.signal.aborted) return;
    state = { firing: data.firing || [], pending: data.pending || [], loaded: true, error: null };
    watchSilences();
    notify(message);
  }, (err) => {
    if (controller.signal.aborted || err.handled) return;
    state = { ...state, error: err };
    notify(message);
  }).finally(() => {
    if (inflight === controller) inflight = null;
    controller.abort();
  });
}

function start() {
  if (life) return;
  life = new AbortController();
  const { signal } = life;
  let down = false;
  subscribe('alerts', (data) => reloadSoon(data || null), { signal });
  onConnectionChange((connection) => {
    if (connection === 'connected' && down) reloadSoon(null);
    down = connection === 'reconnecting';
  }, { signal });
  refreshAlerts();
}

function stop() {
  if (!life) return;
  life.abort();
  life = null;
  cancelReload();
  cancelSilenceEnd();
  state = { firing: [], pending: [], loaded: false, error: null };
}

function reloadSoon(message) {
  if (!life) return;
  cancelReload();
  cancelReload = later(life.signal, RELOAD_DELAY_MS, () => refreshAlerts(message));
}

// A silence ends without a push: load again just after the first one ends.
function watchSilences() {
  cancelSilenceEnd();
  const ends = [...state.firing, ...state.pending].map((a) => a.silenced_until).filter((t) => t != null);
  if (!ends.length || !life) return;
  const wait = Math.max(0, Math.min(...ends) * 1000 - Date.now()) + 500;
  cancelSilenceEnd = later(life.signal, Math.min(wait, 2 ** 31 - 1), () => refreshAlerts());
}

function notify(message) {
  for (const fn of [...watchers]) call(fn, message);
}

function call(fn, message) {
  try {
    fn(state, message);
  } catch (err) {
    console.error('An alerts watcher failed', err);
  }
}
