// The plugins of this server as the UI knows them, shared by the sidebar,
// the Plugins page, plugin pages and the dashboard card: loaded once from
// GET /api/plugins, then kept current by the "plugins" WebSocket topic,
// where the server pushes {"type": "plugins", "data": {...card, "event"}}
// on every state change. Nothing here polls; after the socket reconnects
// the list is loaded again, since pushes may have been missed. A card
// carries `condition` (running, unhealthy, crash-looping, …), computed by
// the server; ui/plugin-health.js only names and colours it.
import { api } from '../api.js';
import { onConnectionChange, subscribe } from '../live.js';
import { until } from '../lifetime.js';

const plugins = new Map(); // id → card (GET /api/plugins/:id shape)
const watchers = new Set(); // fn(list, change)
const eventWatchers = new Set(); // fn(event, card)
let configProblem = null;
let loaded = false;
let loading = null;
let error = null;
// Ids pushed while a GET was in flight: the push is newer than the answer.
const pushedDuring = new Set();
let generation = 0; // bumped when the last watcher leaves (sign-out): late answers are dropped
let stops = [];

/** The known plugins, sorted by name (as the server sorts them). */
export function listPlugins() {
  return [...plugins.values()].sort((a, b) => String(a.name).toLowerCase().localeCompare(String(b.name).toLowerCase())
    || String(a.id).localeCompare(String(b.id)));
}

export function getPlugin(id) {
  return plugins.get(id) || null;
}

/** {loaded, error, configProblem}: whether the list arrived, and why not. */
export function storeStatus() {
  return { loaded, error, configProblem };
}

/**
 * Calls fn(list, change) now (when the list is loaded) and on every change
 * until `signal` aborts; change is {id, event} for a pushed change, null for
 * a full load. The first watcher connects to the "plugins" topic; returns
 * the function that stops sooner.
 */
export function watchPlugins(fn, { signal } = {}) {
  watchers.add(fn);
  start();
  if (loaded || error) call(fn, null);
  return until(signal, () => {
    watchers.delete(fn);
    maybeStop();
  });
}

/** Calls fn(event, card) for every pushed plugin event until `signal`
 *  aborts; returns the function that stops sooner. */
export function watchPluginEvents(fn, { signal } = {}) {
  eventWatchers.add(fn);
  start();
  return until(signal, () => {
    eventWatchers.delete(fn);
    maybeStop();
  });
}

/** Loads the list again (after an action, for fresh CPU and memory figures). */
export function refreshPlugins() {
  if (loading) return loading;
  const gen = generation;
  pushedDuring.clear();
  loading = (async () => {
    try {
      const data = await api.get('/api/plugins');
      if (gen !== generation) return;
      const pushed = new Map([...pushedDuring].map((id) => [id, plugins.get(id)]));
      plugins.clear();
      for (const plugin of data.plugins || []) plugins.set(plugin.id, plugin);
      for (const [id, card] of pushed) {
        if (card) plugins.set(id, card);
        else plugins.delete(id); // removed meanwhile
      }
      configProblem = data.config_problem || null;
      loaded = true;
      error = null;
    } catch (err) {
      if (err.handled || gen !== generation) return; // signed out: the login page takes over
      error = err;
    } finally {
      if (gen === generation) loading = null;
    }
    notify(null);
  })();
  return loading;
}

/** One plugin's card, fresh from the server (also updates the store). */
export async function fetchPlugin(id, options) {
  const data = await api.get(`/api/plugins/${encodeURIComponent(id)}`, options);
  plugins.set(data.plugin.id, data.plugin);
  notify({ id: data.plugin.id, event: null });
  return data.plugin;
}

/** Whether the sidebar lists the plugin: enabled ones, and ones Toru gave
 *  up on after too many crashes (disabled, but not by anyone's choice). */
export function inSidebar(plugin) {
  return plugin.state !== 'invalid' && Boolean(plugin.route) && (plugin.enabled || plugin.state === 'failed');
}

function start() {
  if (stops.length) return;
  let wasConnected = false;
  stops = [
    subscribe('plugins', (data) => {
      if (data) apply(data);
    }),
    onConnectionChange((state) => {
      if (state === 'connected') {
        // Pushes missed while the socket was down: load everything again.
        if (wasConnected) refreshPlugins();
        wasConnected = true;
      }
    }),
  ];
  if (!loaded && !loading) refreshPlugins();
}

function maybeStop() {
  if (watchers.size || eventWatchers.size) return;
  for (const stop of stops) stop();
  stops = [];
  // Without a subscription pushes are missed: the next watcher reloads.
  generation += 1;
  loading = null;
  loaded = false;
  error = null;
  plugins.clear();
}

function apply(data) {
  const id = data.id;
  if (!id) return;
  const event = data.event || null;
  if (loading) pushedDuring.add(id);
  if (data.removed) {
    plugins.delete(id);
  } else {
    const card = { ...data };
    delete card.event;
    plugins.set(id, card);
  }
  if (event) {
    for (const fn of [...eventWatchers]) {
      try {
        fn(event, plugins.get(id) || null);
      } catch (err) {
        console.error('A plugin event watcher failed', err);
      }
    }
  }
  if (loaded) notify({ id, event });
}

function notify(change) {
  for (const fn of [...watchers]) call(fn, change);
}

function call(fn, change) {
  try {
    fn(listPlugins(), change);
  } catch (err) {
    console.error('A plugin list watcher failed', err);
  }
}
