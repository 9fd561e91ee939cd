// The dashboard's plugin health card: how many plugins run and how many
// are in trouble, kept current by the plugin store (pushed over the
// "plugins" WebSocket topic), with a link to the Plugins page.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { healthOf } from '../../ui/plugin-health.js';
import { storeStatus, watchPlugins } from '../../stores/plugins.js';

/** The card's element; it follows the store until `signal` aborts. Only
 *  admins get the "Manage" link: clients cannot manage plugins. */
export function pluginHealthCard({ signal, admin = false }) {
  const running = h('span', { class: 'stat-value', dataset: { metric: 'plugins-running' } }, '—');
  const failed = h('span', { class: 'stat-value', dataset: { metric: 'plugins-failed' } }, '—');
  const other = h('p', { class: 'stat-foot stat-foot-near plugin-health-other', dataset: { metric: 'plugins-other' } });
  const problems = h('ul', { class: 'plugin-health-problems' });
  const el = h('section', { class: 'card stat-card plugin-health-card', 'aria-labelledby': 'plugins-card-title', dataset: { card: 'plugins' } },
    h('div', { class: 'task-card-head' },
      h('h2', { class: 'card-title', id: 'plugins-card-title' }, icon('plugins'), 'Plugins'),
      admin ? h('a', { class: 'task-card-link', href: '/plugins' }, 'Manage') : null),
    h('div', { class: 'plugin-health-counts' },
      h('div', { class: 'plugin-health-count', dataset: { tone: 'green' } }, running, h('span', { class: 'stat-sub' }, 'running')),
      h('div', { class: 'plugin-health-count', dataset: { tone: 'red' } }, failed, h('span', { class: 'stat-sub' }, 'failed'))),
    problems,
    other);

  watchPlugins((plugins) => {
    const { loaded, error } = storeStatus();
    if (!loaded) {
      if (error) other.textContent = `Plugin states could not be loaded: ${error.message}`;
      return;
    }
    const tones = plugins.map((p) => ({ plugin: p, ...healthOf(p) }));
    const up = tones.filter((t) => t.tone === 'green');
    const bad = tones.filter((t) => t.tone === 'red');
    const rest = tones.length - up.length - bad.length;
    running.textContent = String(up.length);
    failed.textContent = String(bad.length);
    el.dataset.health = bad.length ? 'red' : 'green';
    problems.replaceChildren(...bad.slice(0, 3).map((t) => h('li', null,
      h('a', { href: `/plugins/${encodeURIComponent(t.plugin.id)}` }, t.plugin.name), ` — ${t.label.toLowerCase()}`)));
    other.textContent = !tones.length ? 'No plugins installed.'
      : rest ? `${rest} more ${rest === 1 ? 'is' : 'are'} disabled, stopped or starting.` : `All ${tones.length} enabled plugins are fine.`;
    if (!rest && bad.length) other.textContent = '';
  }, { signal });
  return { el };
}
