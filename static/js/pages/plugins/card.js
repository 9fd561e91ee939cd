// One plugin's card on the Plugins page: what it is, how it runs, and (for
// admins) its enable switch and restart button. update(plugin) changes the
// card in place, so a pushed state change never steals focus from a control.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { formatBytes, formatDateTime, formatDuration, formatPercent } from '../../ui/format.js';
import { healthDot, healthOf, pluginIcon } from '../../ui/plugin-health.js';
import { enableSwitch, restartButton } from './actions.js';

const DASH = '—';
const TONES = { green: 'success', amber: 'warning', red: 'danger', grey: 'neutral' };

/** "1.2.0" → "v1.2.0"; other version strings as they are. */
export function versionText(version) {
  return /^\d/.test(String(version)) ? `v${version}` : String(version);
}

export function detailsHref(id) {
  return `/plugins/${encodeURIComponent(id)}`;
}

/** A badge with the plugin's condition, coloured like its health dot. */
export function stateBadge(plugin) {
  const { tone, label } = healthOf(plugin);
  return h('span', {
    class: ['badge', `badge-${TONES[tone]}`, 'plugin-state'],
    dataset: { state: plugin.state, condition: plugin.condition, health: tone },
  }, h('span', { class: 'dot', 'aria-hidden': 'true' }), label);
}

/** Why the plugin is in its state, in words ('' when there is nothing to say). */
export function stateReason(plugin, now = Date.now()) {
  if (plugin.state === 'invalid') return plugin.reason || 'Its metadata is not valid.';
  if (plugin.state === 'failed') return plugin.reason || `Gave up after ${plugin.crashes} crashes in a row.`;
  if (plugin.state === 'backoff') {
    const wait = plugin.retry_at ? Math.max(0, Math.ceil(plugin.retry_at - now / 1000)) : null;
    const crashes = `crashed ${plugin.crashes} ${plugin.crashes === 1 ? 'time' : 'times'} in a row`;
    return wait != null ? `It ${crashes}; next try in ${wait} s.` : `It ${crashes}.`;
  }
  if (plugin.state === 'starting' && plugin.crashes) {
    return `It crashed ${plugin.crashes} ${plugin.crashes === 1 ? 'time' : 'times'} in a row; starting again.`;
  }
  if (plugin.state === 'running' && plugin.health !== 'healthy') return 'Its socket stopped answering properly; see its events.';
  if (plugin.state === 'stopped' && plugin.last_exit && plugin.enabled) return `Last exit: ${describeExit(plugin.last_exit)}.`;
  return '';
}

export function describeExit(exit) {
  if (!exit) return DASH;
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return exit.at ? `${how} at ${formatDateTime(exit.at)}` : how;
}

/** Seconds the plugin's process has been up (null when none runs). */
export function uptimeOf(plugin, now = Date.now()) {
  if (!plugin.pid || !plugin.started_at) return null;
  return Math.max(0, now / 1000 - plugin.started_at);
}

/** The runtime figures as [label, key, text] rows. */
export function figures(plugin, now = Date.now()) {
  const uptime = uptimeOf(plugin, now);
  return [
    ['Uptime', 'uptime', uptime == null ? DASH : formatDuration(uptime)],
    ['Restarts', 'restarts', String(plugin.restarts ?? 0)],
    ['PID', 'pid', plugin.pid ? String(plugin.pid) : DASH],
    ['CPU', 'cpu', plugin.cpu_percent == null ? DASH : formatPercent(plugin.cpu_percent)],
    ['Memory', 'rss', plugin.rss == null ? DASH : formatBytes(plugin.rss)],
  ];
}

export function pluginCard(initial, { admin }) {
  let plugin = initial;
  const iconSlot = h('span', { class: 'plugin-card-icon' });
  const name = h('a', { class: 'plugin-card-name', href: detailsHref(plugin.id) });
  const version = h('span', { class: 'plugin-card-version' });
  const author = h('span', { class: 'plugin-card-author' });
  const description = h('p', { class: 'plugin-card-description' });
  const badgeSlot = h('span', { class: 'plugin-card-badge' });
  const reason = h('p', { class: 'plugin-card-reason', dataset: { field: 'reason' } });
  const values = {};
  const stats = h('dl', { class: 'plugin-stats' }, figures(plugin).map(([label, key]) => {
    values[key] = h('dd', { dataset: { figure: key } });
    return h('div', null, h('dt', null, label), values[key]);
  }));
  const toggle = admin ? enableSwitch(plugin) : null;
  const restart = admin ? restartButton(plugin) : null;
  const open = h('a', { class: 'btn btn-sm', href: `/plugin/${encodeURIComponent(plugin.id)}` }, 'Open page');
  const details = h('a', { class: 'btn btn-sm', href: detailsHref(plugin.id) }, admin ? 'Details and logs' : 'Details');
  const el = h('article', { class: 'card plugin-card', dataset: { plugin: plugin.id } },
    h('div', { class: 'plugin-card-head' },
      iconSlot,
      h('div', { class: 'plugin-card-title' },
        h('h2', { class: 'plugin-card-heading' }, name),
        h('p', { class: 'plugin-card-meta' }, version, author)),
      badgeSlot),
    description,
    reason,
    stats,
    h('div', { class: 'plugin-card-actions' },
      toggle ? toggle.el : null,
      h('div', { class: 'plugin-card-buttons' }, restart ? restart.el : null, open, details)));

  function update(next, now = Date.now()) {
    plugin = next;
    el.dataset.state = next.state;
    iconSlot.replaceChildren(pluginIcon(next, 'plugin-icon plugin-icon-lg'), healthDot(next));
    name.textContent = next.name;
    version.textContent = next.state === 'invalid' ? next.file : versionText(next.version);
    author.textContent = next.author ? `by ${next.author}` : '';
    description.textContent = next.description || '';
    description.hidden = !next.description;
    badgeSlot.replaceChildren(stateBadge(next));
    tick(now);
    open.hidden = next.state === 'invalid' || !next.route;
    if (toggle) toggle.update(next);
    if (restart) restart.update(next);
  }
  // Uptime and "next try in" move with the clock: the page ticks every second.
  function tick(now = Date.now()) {
    const text = stateReason(plugin, now);
    reason.textContent = text;
    reason.hidden = !text;
    reason.classList.toggle('plugin-card-reason-bad', healthOf(plugin).tone === 'red');
    for (const [, key, value] of figures(plugin, now)) {
      if (values[key].textContent !== value) values[key].textContent = value;
    }
  }
  update(initial);
  return { el, update, tick, get plugin() { return plugin; } };
}

export function emptyCard(admin) {
  return h('section', { class: 'card plugin-empty' },
    h('h2', { class: 'card-title' }, icon('plugins'), 'No plugins yet'),
    h('p', null, 'A plugin is an executable named ', h('code', null, '*.binary'), ' in the ', h('code', null, 'plugins'),
      ' directory of the data directory.'),
    admin ? h('p', null, 'Copy one there, then press Rescan (Toru also notices new files within 10 seconds).') : null);
}
