// The recent events of one plugin (admins): a timeline from
// GET /api/plugins/:id/events, newest first, with events pushed on the
// "plugins" topic added at the top as they happen.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { eventDetail, eventTitle, eventTone, liveEventList } from '../../ui/plugin-events.js';

const LIMIT = 50;

/** The events card for plugin `id`; it follows pushes until `signal` aborts. */
export function eventsTimeline(id, { signal }) {
  const { list, status, load } = liveEventList({
    url: `/api/plugins/${encodeURIComponent(id)}/events?limit=${LIMIT}`, limit: LIMIT,
    keep: (event) => event.plugin_id === id, render: eventItem, label: 'Events, newest first',
    empty: 'No events in the last 7 days.', failed: 'The events could not be loaded', signal,
  });
  const el = h('section', { class: 'card plugin-events', 'aria-labelledby': 'plugin-events-title' },
    h('h2', { class: 'card-title', id: 'plugin-events-title' }, icon('history'), 'Recent events'),
    status, list);
  load();
  return { el };
}

function eventItem(event) {
  const detail = eventDetail(event);
  return h('li', { class: 'event-item', dataset: { eventType: event.event_type, tone: eventTone(event) } },
    h('span', { class: 'event-marker', 'aria-hidden': 'true' }),
    h('div', { class: 'event-body' },
      h('p', { class: 'event-title' }, eventTitle(event)),
      detail ? h('p', { class: 'event-detail' }, detail) : null,
      h('time', { class: 'event-time', datetime: isoTime(event.timestamp), title: formatDateTime(event.timestamp) },
        `${formatDateTime(event.timestamp)} · ${formatAgo(event.timestamp)}`)));
}
