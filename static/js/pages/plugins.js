// Plugins: the manager. /plugins shows a card per plugin (state and reason,
// uptime, restarts, PID, CPU, memory; admins also get the enable switch,
// restart and rescan); /plugins/:id shows one plugin's details, events and
// logs (pages/plugins/details.js). Cards follow the plugin store, which the
// server keeps current over the "plugins" WebSocket topic; CPU and memory
// are sampled by the server on request, so this page asks again every
// FIGURES_MS while it is open and visible.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { isAdmin } from '../session.js';
import { liveStatus } from '../ui/live-status.js';
import { page, pageHeader } from '../ui/page.js';
import { loadError } from '../ui/load-error.js';
import { every } from '../lifetime.js';
import { refreshPlugins, storeStatus, watchPlugins } from '../stores/plugins.js';
import { emptyCard, pluginCard } from './plugins/card.js';
import { rescanButton } from './plugins/actions.js';
import { renderDetails } from './plugins/details.js';

const FIGURES_MS = 5000;

export function mount(root, ctx) {
  const { signal } = ctx;
  const admin = isAdmin();
  // One clock for uptimes and "next try in" texts.
  let tick = () => {};
  every(signal, 1000, () => tick());
  every(signal, FIGURES_MS, () => {
    if (document.visibilityState === 'visible') refreshPlugins();
  });

  if (ctx.params.id) {
    const details = renderDetails(root, ctx, ctx.params.id, { admin });
    tick = () => details.tick();
    return;
  }

  const live = liveStatus({ signal });
  const notice = h('div', { class: 'notice-slot' });
  const grid = h('div', { class: 'grid plugin-grid', 'aria-busy': 'true' },
    h('p', { class: 'muted' }, 'Loading plugins…'));
  root.append(page(
    pageHeader('Plugins',
      admin ? 'Plugins run as separate processes. Enable, restart and inspect them here.'
        : 'Plugins add pages to Toru. Their state is shown here; an admin manages them.',
      live.el, admin ? rescanButton() : null),
    notice,
    grid));

  const cards = new Map(); // id → card
  watchPlugins((plugins) => {
    const { loaded, error, configProblem } = storeStatus();
    if (!loaded) {
      if (error) {
        grid.removeAttribute('aria-busy');
        grid.replaceChildren(loadError(`The plugins could not be loaded: ${error.message}`, () => refreshPlugins(), { card: true }));
      }
      return;
    }
    grid.removeAttribute('aria-busy');
    notice.replaceChildren(...(configProblem ? [h('p', { class: 'notice', role: 'alert' },
      icon('error', 'notice-icon'), h('span', null, `plugins/.metadata/config.json: ${configProblem}`))] : []));
    if (!plugins.length) {
      cards.clear();
      grid.replaceChildren(emptyCard(admin));
      return;
    }
    const seen = new Set();
    const els = plugins.map((plugin) => {
      seen.add(plugin.id);
      let card = cards.get(plugin.id);
      if (card) card.update(plugin);
      else {
        card = pluginCard(plugin, { admin });
        cards.set(plugin.id, card);
      }
      return card.el;
    });
    for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
    // Keep nodes in place when the order did not change (focus stays put).
    const same = els.length === grid.children.length && els.every((el, i) => grid.children[i] === el);
    if (!same) grid.replaceChildren(...els);
  }, { signal });
  tick = () => {
    const now = Date.now();
    for (const card of cards.values()) card.tick(now);
  };
}
