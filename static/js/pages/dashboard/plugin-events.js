// The dashboard's recent plugin events (admins: GET /api/plugins/events is
// theirs, as each plugin's events are): newest first, each naming and
// linking to its plugin; events pushed on the "plugins" topic are added at
// the top as they happen.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { getPlugin } from '../../stores/plugins.js';
import { eventTitle, eventTone, liveEventList } from '../../ui/plugin-events.js';

const LIMIT = 8;

/** {el, load()}; follows pushes until `signal` aborts. */
export function pluginEventsCard({ signal }) {
  const { list, status, load } = liveEventList({
    url: `/api/plugins/events?limit=${LIMIT}`, limit: LIMIT, render: eventRow, label: 'Plugin events, newest first',
    empty: 'No plugin events in the last 7 days.', failed: 'Plugin events could not be loaded', signal,
  });
  list.classList.add('dashboard-events');
  const el = h('section', { class: 'card stat-card plugin-events-card', 'aria-labelledby': 'plugin-events-card-title', dataset: { card: 'plugin-events' } },
    h('div', { class: 'task-card-head' },
      h('h2', { class: 'card-title', id: 'plugin-events-card-title' }, icon('history'), 'Plugin events'),
      h('a', { class: 'task-card-link', href: '/plugins' }, 'Plugins')),
    status, list);
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
