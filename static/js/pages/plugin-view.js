// A plugin's own page, /plugin/:id. Loads /api/plugins/<id>/bundle.js as a
// classic <script> (script-src 'self' allows it: the CSP stays strict),
// finds what it registered — window.ToruPlugins[id], or the older
// window["toru_plugin_" + id] — and calls mount(container, api); leaving
// (ctx.signal aborts) calls the bundle's unmount(container) and removes the
// script again. Whatever goes
// wrong (unknown or disabled plugin, not running, bundle missing or broken,
// mount throws) ends in an error panel linking to the plugin's details and
// logs, never in a blank page. The contract is in docs/plugins.md. The
// plugin kit (css/plugin-kit.css: Toru's buttons, inputs and cards for
// bundles, every rule under .toru-plugin) is added to <head> once, with the
// first bundle, and the container gets the class `toru-plugin`.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { getUser, isAdmin } from '../session.js';
import { showToast } from '../ui/toast.js';
import { page } from '../ui/page.js';
import { healthDot, healthOf, pluginIcon } from '../ui/plugin-health.js';
import { loadError } from '../ui/load-error.js';
import { later, onAbort } from '../lifetime.js';
import { fetchPlugin, watchPlugins } from '../stores/plugins.js';

const TOAST_TYPES = new Set(['success', 'error', 'info']);
// How long a plugin that is starting (or waiting to retry) gets before the
// page says so instead of "Starting…".
const START_PATIENCE_MS = 15000;
const KIT_HREF = '/static/css/plugin-kit.css';
// The class that scopes the kit; the container handed to mount() has it.
export const KIT_CLASS = 'toru-plugin';
let kitLoaded = null;

// Plugins may also ask for a toast without the api object:
// window.dispatchEvent(new CustomEvent('plugin-toast', {detail: {message, type}})).
// One listener for the whole app, added when this module first loads.
window.addEventListener('plugin-toast', (event) => {
  const detail = event.detail || {};
  if (detail.message == null || detail.message === '') return;
  showToast(String(detail.message), TOAST_TYPES.has(detail.type) ? detail.type : 'info');
});

export function mount(root, ctx) {
  const id = ctx.params.id;
  const view = {
    id,
    ctx,
    plugin: null,
    module: null,      // what the bundle registered, once mounted
    container: null,   // the element handed to the bundle
    script: null,
    mounted: false,
    disposed: false,
    cancelWait: () => {},
  };
  view.title = h('h1', { class: 'page-title plugin-view-title' }, id);
  view.icon = h('span', { class: 'plugin-view-icon' });
  view.dot = h('span', { class: 'plugin-view-health' });
  view.notice = h('div', { class: 'notice-slot' });
  view.body = h('div', { class: 'plugin-view-body', 'aria-busy': 'true' },
    h('p', { class: 'muted plugin-view-loading' }, 'Loading the plugin…'));
  root.append(page(
    h('header', { class: 'page-header plugin-view-header' },
      h('div', { class: 'plugin-view-heading' }, view.icon, view.title, view.dot),
      h('a', { class: 'btn btn-sm', href: detailsHref(id) }, icon('info'), h('span', null, isAdmin() ? 'Details and logs' : 'Details'))),
    view.notice,
    view.body));
  view.root = root;
  onAbort(ctx.signal, () => dispose(view));
  start(view);
}

function detailsHref(id) {
  return `/plugins/${encodeURIComponent(id)}`;
}

async function start(view) {
  let plugin;
  try {
    plugin = await fetchPlugin(view.id, { signal: view.ctx.signal });
  } catch (err) {
    if (view.disposed || err.name === 'AbortError' || err.handled) return;
    if (err.status === 404) {
      fail(view, 'There is no such plugin', `No plugin has the id “${view.id}”. It may have been removed from the plugins directory.`, { details: false });
    } else {
      fail(view, 'The plugin could not be looked up', err.message);
    }
    return;
  }
  if (view.disposed) return;
  showPlugin(view, plugin);
  // Follow its state while the page is open: a plugin that is starting gets
  // its page as soon as it runs; one that stops while shown is flagged.
  watchPlugins((plugins, change) => {
    if (change && change.id !== view.id) return;
    const next = plugins.find((p) => p.id === view.id);
    if (next) onChange(view, next);
  }, { signal: view.ctx.signal });
  proceed(view, plugin);
}

function showPlugin(view, plugin) {
  view.plugin = plugin;
  view.title.textContent = plugin.name;
  view.icon.replaceChildren(pluginIcon(plugin));
  view.dot.replaceChildren(healthDot(plugin), h('span', { class: 'plugin-view-state' }, healthOf(plugin).label));
  view.ctx.setTitle(plugin.name);
}

function onChange(view, plugin) {
  if (view.disposed) return;
  const was = view.plugin;
  showPlugin(view, plugin);
  if (view.mounted) {
    view.notice.replaceChildren(...(plugin.state === 'running' ? [] : [h('p', { class: 'notice notice-warning', role: 'status' },
      icon('error', 'notice-icon'),
      h('span', null, `${plugin.name} is ${stateText(plugin)}: what this page shows may not work until it runs again.`),
      h('a', { href: detailsHref(view.id) }, 'Details'))]));
    return;
  }
  if (view.waiting && plugin.state !== (was && was.state)) proceed(view, plugin);
}

// Decides what to do with the plugin as it is now: load its bundle, wait
// for it to start, or explain why it cannot be shown.
function proceed(view, plugin) {
  view.waiting = false;
  view.cancelWait();
  if (plugin.state === 'invalid') {
    fail(view, `${plugin.name} is not a valid plugin`, plugin.reason || 'Its binary failed the metadata check.');
  } else if (!plugin.enabled) {
    fail(view, `${plugin.name} is disabled`, plugin.state === 'failed' && plugin.reason
      ? `Toru stopped restarting it: ${plugin.reason}.`
      : 'Enable it on the Plugins page to use its page.');
  } else if (plugin.state === 'running') {
    load(view);
  } else if (plugin.state === 'starting' || plugin.state === 'backoff') {
    view.waiting = true;
    view.body.replaceChildren(h('p', { class: 'muted plugin-view-loading' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }), ` ${plugin.name} is starting…`));
    view.cancelWait = later(view.ctx.signal, START_PATIENCE_MS, () => {
      if (!view.disposed && view.waiting) {
        fail(view, `${plugin.name} is not running`, `It is ${stateText(plugin)}; its logs may say why.`, { keepWaiting: true });
      }
    });
  } else {
    view.waiting = true; // it may be started from elsewhere: then the page loads
    fail(view, `${plugin.name} is not running`, `It is ${stateText(plugin)}.`, { keepWaiting: true });
  }
}

function stateText(plugin) {
  const state = plugin.state === 'backoff' ? 'waiting to restart after a crash' : plugin.state;
  return plugin.reason && plugin.state !== 'running' ? `${state} (${plugin.reason})` : state;
}

function bundleUrl(id) {
  return `/api/plugins/${encodeURIComponent(id)}/bundle.js`;
}

/** Adds the plugin kit's <link> to <head> once (it stays: its rules only
 *  match inside .toru-plugin); resolves true when it has loaded, false when
 *  it failed — a page works without it, only plainer. */
export function loadPluginKit() {
  if (!kitLoaded) {
    const link = h('link', { rel: 'stylesheet', href: KIT_HREF, dataset: { pluginKit: '' } });
    kitLoaded = new Promise((resolve) => {
      link.addEventListener('load', () => resolve(true), { once: true });
      link.addEventListener('error', () => {
        link.remove();
        kitLoaded = null; // the next bundle tries again
        resolve(false);
      }, { once: true });
    });
    document.head.append(link);
  }
  return kitLoaded;
}

/** Runs a plugin's bundle.js afresh as a classic <script> (appended to
 *  <head>; the caller removes it): resolves {script, loaded, error} —
 *  `loaded` false when the script could not be fetched, `error` what it
 *  threw while running. The plugin kit is loaded alongside, so a bundle's
 *  first paint is styled. Also used by Settings (plugin sections). */
export async function runBundle(id, url = bundleUrl(id)) {
  const kit = loadPluginKit();
  // A registration left by an earlier visit would hide a bundle that now
  // fails to register: each visit runs the bundle afresh.
  forget(id);
  let error = null;
  const onError = (event) => {
    if (event.filename && event.filename.includes(url)) error = event.error || new Error(event.message);
  };
  window.addEventListener('error', onError);
  const script = h('script', { src: url, async: false, dataset: { pluginBundle: id } });
  const loaded = await new Promise((resolve) => {
    script.addEventListener('load', () => resolve(true), { once: true });
    script.addEventListener('error', () => resolve(false), { once: true });
    document.head.append(script);
  });
  window.removeEventListener('error', onError);
  await kit;
  return { script, loaded, error };
}

export function registration(id) {
  const registry = window.ToruPlugins;
  const found = (registry && typeof registry === 'object' && registry[id])
    || window[`toru_plugin_${id}`]
    || window[`toru_plugin_${id.replace(/-/g, '_')}`];
  return found && typeof found.mount === 'function' ? found : null;
}

export function forget(id) {
  if (window.ToruPlugins && typeof window.ToruPlugins === 'object') delete window.ToruPlugins[id];
  delete window[`toru_plugin_${id}`];
  delete window[`toru_plugin_${id.replace(/-/g, '_')}`];
}

async function load(view) {
  view.body.setAttribute('aria-busy', 'true');
  view.body.replaceChildren(h('p', { class: 'muted plugin-view-loading' }, `Loading ${view.plugin.name}…`));
  // A registration left by an earlier visit would hide a bundle that now
  // fails to register: each visit runs the bundle afresh.
  const url = bundleUrl(view.id);
  const { script, loaded, error: scriptError } = await runBundle(view.id, url);
  view.script = script;
  if (view.disposed) {
    removeScript(view);
    return;
  }
  if (!loaded) {
    fail(view, `${view.plugin.name}'s page could not be loaded`, await bundleProblem(url));
    return;
  }
  if (scriptError) {
    fail(view, `${view.plugin.name}'s page has an error`, `Its bundle.js failed while loading: ${scriptError.message || scriptError}`);
    return;
  }
  const module = registration(view.id);
  if (!module) {
    fail(view, `${view.plugin.name}'s page did not start`,
      `Its bundle.js loaded but registered nothing: it must set window.ToruPlugins["${view.id}"] = {mount, unmount}.`);
    return;
  }
  await mountBundle(view, module);
}

// Why the bundle's <script> failed: ask once more with fetch for the status
// and the server's message (a <script> error event carries neither).
async function bundleProblem(url) {
  try {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    let message = '';
    try {
      const data = await response.json();
      message = data && data.error ? data.error : '';
    } catch {
      message = '';
    }
    if (response.status === 404) return message || 'It has no bundle.js: neither a file in its directory nor an answer from the plugin.';
    return `The server answered ${response.status}${message ? `: ${message}` : ''}.`;
  } catch {
    return 'The server could not be reached. Check that Toru is running.';
  }
}

async function mountBundle(view, module) {
  const container = h('div', { class: ['plugin-container', KIT_CLASS], dataset: { pluginContainer: view.id } });
  view.container = container;
  view.module = module;
  view.body.replaceChildren(container);
  view.body.removeAttribute('aria-busy');
  view.mounted = true;
  try {
    await module.mount(container, pluginApi(view));
  } catch (err) {
    if (view.disposed) return;
    console.error(`Plugin ${view.id}: mount failed`, err);
    // Let it undo whatever it did before throwing.
    callUnmount(view);
    fail(view, `${view.plugin.name}'s page failed to start`, `Its mount() threw: ${err && err.message ? err.message : err}`);
  }
}

function callUnmount(view) {
  if (!view.mounted) return;
  view.mounted = false;
  const { module, container } = view;
  try {
    if (module && typeof module.unmount === 'function') module.unmount(container);
  } catch (err) {
    console.error(`Plugin ${view.id}: unmount failed`, err);
  }
}

function pluginApi(view) {
  return bundleApi(view.plugin, (path) => view.ctx.navigate(path));
}

/** The `api` a bundle's mount (and mountSettings) receives (docs/plugins.md,
 *  "Frontend bundles"). */
export function bundleApi(plugin, navigate) {
  const base = `/api/plugins/route/${plugin.route.replace(/^\//, '')}/`;
  const user = getUser() || {};
  return Object.freeze({
    id: plugin.id,
    route: plugin.route,
    baseUrl: base,
    user: Object.freeze({ username: user.username, display_name: user.display_name, role: user.role }),
    fetch(path, init = {}) {
      return window.fetch(resolvePath(base, path), { ...init, credentials: init.credentials || 'same-origin' });
    },
    navigate(path) {
      return navigate(String(path));
    },
    showToast(message, type = 'info') {
      return showToast(String(message), TOAST_TYPES.has(type) ? type : 'info');
    },
  });
}

/** Relative paths are rooted at the plugin's route; absolute paths, full
 *  URLs and Request objects pass through unchanged. */
export function resolvePath(base, path) {
  if (typeof path !== 'string') return path;
  if (path.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(path)) return path;
  return base + path.replace(/^(\.\/)+/, '');
}

function fail(view, title, message, { details = true, keepWaiting = false } = {}) {
  if (view.disposed) return;
  if (!keepWaiting) view.waiting = false;
  callUnmount(view);
  removeScript(view);
  view.body.removeAttribute('aria-busy');
  const id = view.id;
  view.body.replaceChildren(loadError(message, details ? () => retry(view) : null, {
    title,
    card: true,
    dataset: { pluginError: id },
    actions: [
      details ? h('a', { class: 'btn btn-sm btn-primary', href: detailsHref(id) },
        isAdmin() ? 'Open its details and logs' : 'Open its details') : null,
      h('a', { class: 'btn btn-sm', href: '/plugins' }, 'All plugins'),
    ],
  }));
}

async function retry(view) {
  if (view.disposed) return;
  view.body.replaceChildren(h('p', { class: 'muted plugin-view-loading' }, 'Loading the plugin…'));
  try {
    const plugin = await fetchPlugin(view.id, { signal: view.ctx.signal });
    if (view.disposed) return;
    showPlugin(view, plugin);
    proceed(view, plugin);
  } catch (err) {
    if (!view.disposed && err.name !== 'AbortError') fail(view, 'The plugin could not be looked up', err.message);
  }
}

function removeScript(view) {
  if (view.script) {
    view.script.remove();
    view.script = null;
  }
}

function dispose(view) {
  view.disposed = true;
  callUnmount(view);
  if (view.container) view.container.remove();
  view.container = null;
  view.module = null;
  removeScript(view);
  forget(view.id);
}
