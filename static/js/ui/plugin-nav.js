// The sidebar's plugin links: every enabled plugin (icon, name) with a
// health dot, kept current by the plugin store (pushed over the "plugins"
// WebSocket topic; no polling). Started by the layout for a signed-in user.
import { h } from './dom.js';
import { healthDot, healthOf, pluginIcon } from './plugin-health.js';
import { getUser, onUserChange } from '../session.js';
import { inSidebar, watchPlugins } from '../stores/plugins.js';

let list = null;
let stop = null;

/** Fills `listElement` (the sidebar's #nav-plugins) while someone is signed in. */
export function startPluginNav(listElement) {
  list = listElement;
  onUserChange(follow);
  follow(getUser());
}

function follow(user) {
  if (user && !stop) {
    stop = watchPlugins(render);
  } else if (!user && stop) {
    stop();
    stop = null;
    list.replaceChildren(note('Enabled plugins will be listed here.'));
  }
}

function note(text) {
  return h('li', { class: 'nav-empty' }, text);
}

function render(plugins) {
  const shown = plugins.filter(inSidebar);
  if (!shown.length) {
    list.replaceChildren(note('No plugins enabled.'));
    return;
  }
  // Rebuild only what changed: an unchanged link keeps focus and hover.
  const existing = new Map([...list.querySelectorAll('li[data-plugin]')].map((li) => [li.dataset.plugin, li]));
  const items = shown.map((plugin) => {
    const key = `${plugin.name}\u0000${plugin.icon}\u0000${healthOf(plugin).tone}`;
    const old = existing.get(plugin.id);
    if (old && old.dataset.key === key) return old;
    return h('li', { dataset: { plugin: plugin.id, key } },
      h('a', { class: 'nav-link plugin-link', href: `/plugin/${encodeURIComponent(plugin.id)}`, dataset: { nav: '' } },
      pluginIcon(plugin, 'plugin-icon nav-plugin-icon'),
      h('span', { class: 'nav-label' }, plugin.name),
      healthDot(plugin)));
  });
  list.replaceChildren(...items);
  markActive();
}

// The router marks the links that exist when it navigates; plugin links
// drawn later mark themselves.
function markActive() {
  if (!list) return;
  for (const link of list.querySelectorAll('a[data-nav]')) {
    if (link.getAttribute('href') === window.location.pathname) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}
