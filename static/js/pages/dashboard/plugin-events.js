// The dashboard's recent plugin events (admins: GET /api/plugins/events is
// theirs, as each plugin's events are): newest first, each naming and
// linking to its plugin; events pushed on the "plugins" topic are added at
// the top as they happen.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';
import { getPlugin, watchPluginEvents } from '../../stores/plugins.js';
import { eventTitle, eventTone } from '../plugins/events.js';

const LIMIT = 8;

/** {el, load()}; follows pushes until `signal` aborts. */
export function pluginEventsCard({ signal }) {
  const list = h('ol', { class: 'event-list dashboard-events', 'aria-label': 'Plugin events, newest first' });
  const status = h('p', { class: 'muted event-status' }, 'Loading events…');
  const el = h('section', { class: 'card stat-card plugin-events-card', 'aria-labelledby': 'plugin-events-card-title', dataset: { card: 'plugin-events' } },
    h('div', { class: 'task-card-head' },
      h('h2', { class: 'card-title', id: 'plugin-events-card-title' }, icon('history'), 'Plugin events'),
      h('a', { class: 'task-card-link', href: '/plugins' }, 'Plugins')),
    status, list);
  const seen = new Set();
  let ready = false;
  const early = [];

  watchPluginEvents((event) => {
    if (!ready) early.push(event);
    else add(event, true);
  }, { signal });

  function add(event, atTop) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const item = eventRow(event);
    if (atTop) list.prepend(item);
    else list.append(item);
    while (list.children.length > LIMIT) list.lastElementChild.remove();
    status.hidden = true;
  }

  const load = async () => {
    let data;
    try {
      data = await api.get(`/api/plugins/events?limit=${LIMIT}`, { signal });
    } catch (err) {
      if (signal.aborted || err.handled) return;
      status.replaceChildren(loadError(`Plugin events could not be loaded: ${err.message}`, load));
      return;
    }
    for (const event of data.events || []) add(event, false);
    ready = true;
    for (const event of early.splice(0)) add(event, true);
    if (!list.children.length) status.textContent = 'No plugin events in the last 7 days.';
  };
  return { el, load };
}

function eventRow(event) {
  const plugin = getPlugin(event.plugin_id);
  return h('li', { class: 'event-item', dataset: { eventType: event.event_type, tone: eventTone(event), plugin: event.plugin_id } },
    h('span', { class: 'event-marker', 'aria-hidden': 'true' }),
    h('div', { class: 'event-body' },
      h('p', { class: 'event-title' },
        h('a', { href: `/plugins/${encodeURIComponent(event.plugin_id)}` }, plugin ? plugin.name : event.plugin_id),
        ` — ${eventTitle(event)}`),
      h('time', { class: 'event-time', datetime: isoTime(event.timestamp), title: formatDateTime(event.timestamp) },
        formatAgo(event.timestamp))));
}
