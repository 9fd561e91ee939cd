// Settings → Plugins (admin): the sections plugins contribute. Each running
// plugin's bundle.js is run (asked with ?optional=1, so a plugin without one
// answers an empty script, not an error); a bundle whose registration has
// mountSettings(container, api) gets a card here with its own container.
// Leaving (ctx.signal aborts) calls its unmountSettings(container) — or
// unmount(container) when it has none — and removes the script, as plugin
// pages do (pages/plugin-view.js). The contract is in docs/plugins.md.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { pluginIcon } from '../../ui/plugin-health.js';
import { loadError } from '../../ui/load-error.js';
import { onAbort } from '../../lifetime.js';
import { bundleApi, forget, registration, runBundle } from '../plugin-view.js';

export function render(container, ctx) {
  const { signal } = ctx;
  const status = h('p', { class: 'muted', role: 'status' }, 'Looking for plugin settings…');
  const list = h('div', { class: 'plugin-settings-list' });
  container.append(h('div', { class: 'plugin-settings' }, status, list));
  const mounted = [];   // {id, module, box, card}
  const scripts = [];
  onAbort(signal, () => {
    for (const { id, module, box, card } of mounted.splice(0)) {
      try {
        const undo = typeof module.unmountSettings === 'function' ? module.unmountSettings : module.unmount;
        if (typeof undo === 'function') undo.call(module, box);
      } catch (err) {
        console.error(`Plugin ${id}: unmounting its settings failed`, err);
      }
      card.remove();
    }
    for (const { id, script } of scripts.splice(0)) {
      script.remove();
      forget(id);
    }
  });

  const load = async () => {
    let plugins;
    try {
      plugins = (await api.get('/api/plugins', { signal })).plugins || [];
    } catch (err) {
      if (signal.aborted || err.handled) return;
      status.replaceChildren(loadError(`The plugins could not be loaded: ${err.message}`, load));
      return;
    }
    // One bundle at a time: each registers itself under its id on window.
    for (const plugin of plugins.filter((p) => p.enabled && p.state === 'running' && p.route)) {
      if (signal.aborted) return;
      await addSection(plugin);
    }
    if (signal.aborted) return;
    status.textContent = 'No running plugin adds settings here. (A plugin does by exporting mountSettings from its bundle.js.)';
    status.hidden = mounted.length > 0;
  };

  async function addSection(plugin) {
    const url = `/api/plugins/${encodeURIComponent(plugin.id)}/bundle.js?optional=1`;
    const { script, loaded, error } = await runBundle(plugin.id, url);
    scripts.push({ id: plugin.id, script });
    if (signal.aborted || !loaded || error) return;
    const module = registration(plugin.id);
    if (!module || typeof module.mountSettings !== 'function') return;
    const box = h('div', { class: 'card-body plugin-settings-container toru-plugin', dataset: { pluginSettings: plugin.id } });
    const card = h('section', { class: 'card card-flush plugin-settings-card', 'aria-labelledby': `plugin-settings-${plugin.id}`, dataset: { plugin: plugin.id } },
      h('div', { class: 'card-head' },
        h('h2', { class: 'card-title', id: `plugin-settings-${plugin.id}` }, pluginIcon(plugin), plugin.name),
        h('a', { class: 'btn btn-sm', href: `/plugins/${encodeURIComponent(plugin.id)}` }, icon('info'), h('span', null, 'Details'))),
      box);
    list.append(card);
    mounted.push({ id: plugin.id, module, box, card });
    try {
      await module.mountSettings(box, bundleApi(plugin, ctx.navigate));
    } catch (err) {
      if (signal.aborted) return;
      console.error(`Plugin ${plugin.id}: mountSettings failed`, err);
      box.replaceChildren(h('p', { class: 'field-error', role: 'alert' },
        `${plugin.name} could not show its settings: ${err && err.message ? err.message : err}`));
    }
  }
  load();
}
