// /plugins/:id — one plugin in full: metadata, runtime figures, and for
// admins its controls, its config, recent events and logs. The figures follow the
// plugin store (pushed changes); CPU and memory are refreshed by the page.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { formatDateTime } from '../../ui/format.js';
import { healthDot, pluginIcon } from '../../ui/plugin-health.js';
import { loadError } from '../../ui/load-error.js';
import { fetchPlugin, watchPlugins } from '../../stores/plugins.js';
import { describeExit, figures, stateBadge, stateReason } from './card.js';
import { enableSwitch, restartButton } from './actions.js';
import { eventsTimeline } from './events.js';
import { configEditor } from './config.js';
import { logsViewer } from './logs.js';

const DASH = '—';

/** Fills `root`; returns {tick()}. Ends with ctx.signal. */
export function renderDetails(root, ctx, id, { admin }) {
  const { signal } = ctx;
  const title = h('h1', { class: 'page-title' }, id);
  const iconSlot = h('span', { class: 'plugin-card-icon' });
  const badge = h('span', { class: 'plugin-card-badge' });
  const body = h('div', { class: 'plugin-details', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading the plugin…'));
  root.append(h('div', { class: 'page' },
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '/plugins' }, icon('prev'), h('span', null, 'All plugins'))),
    h('header', { class: 'page-header plugin-details-header' },
      h('div', { class: 'plugin-view-heading' }, iconSlot, title, badge)),
    body));

  let view = null;
  const load = async () => {
    let plugin;
    body.setAttribute('aria-busy', 'true');
    try {
      plugin = await fetchPlugin(id, { signal });
    } catch (err) {
      if (signal.aborted || err.handled) return;
      body.removeAttribute('aria-busy');
      const missing = err.status === 404;
      body.replaceChildren(loadError(missing ? `No plugin has the id “${id}”.` : err.message, missing ? null : load, {
        title: missing ? 'There is no such plugin' : 'The plugin could not be loaded',
        card: true,
        actions: h('a', { class: 'btn btn-sm', href: '/plugins' }, 'All plugins'),
      }));
      return;
    }
    if (signal.aborted) return;
    body.removeAttribute('aria-busy');
    view = detailsBody(plugin, admin);
    body.replaceChildren(view.el);
    show(plugin);
    if (admin) {
      body.append(configEditor(id, { signal, guardLeave: ctx.guardLeave }).el, eventsTimeline(id, { signal }).el, logsViewer(id, { signal }).el);
    } else {
      body.append(h('p', { class: 'muted plugin-admin-note' }, 'Logs and events of plugins are shown to admins.'));
    }
    watchPlugins((plugins, change) => {
      if (change && change.id !== id) return;
      const next = plugins.find((p) => p.id === id);
      if (next) show(next);
    }, { signal });
  };
  load();

  function show(plugin) {
    title.textContent = plugin.name;
    ctx.setTitle(plugin.name);
    iconSlot.replaceChildren(pluginIcon(plugin, 'plugin-icon plugin-icon-lg'), healthDot(plugin));
    badge.replaceChildren(stateBadge(plugin));
    if (view) view.update(plugin);
  }

  return {
    tick() { if (view) view.tick(); },
  };
}

function detailsBody(initial, admin) {
  let plugin = initial;
  const meta = h('dl', { class: 'kv kv-wide plugin-meta' });
  const runtime = h('dl', { class: 'kv kv-wide plugin-runtime' });
  const reason = h('p', { class: 'plugin-card-reason', dataset: { field: 'reason' } });
  const toggle = admin ? enableSwitch(plugin) : null;
  const restart = admin ? restartButton(plugin) : null;
  const open = h('a', { class: 'btn btn-sm btn-primary', href: `/plugin/${encodeURIComponent(plugin.id)}` }, 'Open its page');
  const el = h('div', { class: 'plugin-details-grid' },
    h('section', { class: 'card', 'aria-labelledby': 'plugin-about-title' },
      h('h2', { class: 'card-title', id: 'plugin-about-title' }, icon('info'), 'About'),
      meta),
    h('section', { class: 'card', 'aria-labelledby': 'plugin-runtime-title' },
      h('h2', { class: 'card-title', id: 'plugin-runtime-title' }, icon('cpu'), 'Runtime'),
      reason,
      runtime,
      h('div', { class: 'plugin-card-actions' },
        toggle ? toggle.el : null,
        h('div', { class: 'plugin-card-buttons' }, restart ? restart.el : null, open))));

  function rows(pairs) {
    return pairs.map(([label, value, key]) => [h('dt', null, label), h('dd', { dataset: { field: key } }, value)]);
  }
  function update(next) {
    plugin = next;
    meta.replaceChildren(...rows([
      ['ID', h('code', null, next.id), 'id'],
      ['Version', next.version, 'version'],
      ['Author', next.author || DASH, 'author'],
      ['Route', next.route ? h('code', null, next.route) : DASH, 'route'],
      ['File', h('code', { class: 'path' }, next.file || DASH), 'file'],
      ['Description', next.description || DASH, 'description'],
    ]).flat());
    open.hidden = next.state === 'invalid' || !next.route;
    if (toggle) toggle.update(next);
    if (restart) restart.update(next);
    tick();
  }
  // In place, once a second (uptime): a selected value stays selected.
  const cells = new Map();
  function tick() {
    const text = stateReason(plugin);
    reason.textContent = text;
    reason.hidden = !text;
    const pairs = [
      ['State', plugin.state, 'state'],
      ['Health', plugin.health, 'health'],
      ...figures(plugin).map(([label, key, value]) => [label, value, key]),
      ['Crashes in a row', String(plugin.crashes ?? 0), 'crashes'],
      ['Started', plugin.started_at ? formatDateTime(plugin.started_at) : DASH, 'started'],
      ['Last exit', describeExit(plugin.last_exit), 'last-exit'],
    ];
    for (const [label, value, key] of pairs) {
      let cell = cells.get(key);
      if (!cell) {
        cell = h('dd', { dataset: { field: key } });
        cells.set(key, cell);
        runtime.append(h('dt', null, label), cell);
      }
      if (cell.textContent !== value) cell.textContent = value;
    }
  }
  update(initial);
  return { el, update, tick };
}
