// The recent events of one plugin (admins): a timeline from
// GET /api/plugins/:id/events, newest first, with events pushed on the
// "plugins" topic added at the top as they happen.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';
import { watchPluginEvents } from '../../stores/plugins.js';

const LIMIT = 50;
const TONES = {
  started: 'success', enabled: 'success', discovered: 'primary',
  exited: 'warning', killed: 'warning', start_failed: 'danger', restarting_with_backoff: 'warning',
  invalid: 'danger', connection_problem: 'warning', disabled_after_max_restarts: 'danger', config_changed: 'primary',
};

/** The events card for plugin `id`; it follows pushes until `signal` aborts. */
export function eventsTimeline(id, { signal }) {
  const list = h('ol', { class: 'event-list', 'aria-label': 'Events, newest first' });
  const status = h('div', { class: 'muted event-status' }, 'Loading events…');
  const el = h('section', { class: 'card plugin-events', 'aria-labelledby': 'plugin-events-title' },
    h('h2', { class: 'card-title', id: 'plugin-events-title' }, icon('history'), 'Recent events'),
    status, list);
  const seen = new Set();
  let ready = false;
  const early = [];

  watchPluginEvents((event) => {
    if (event.plugin_id !== id) return;
    if (!ready) early.push(event);
    else add(event, true);
  }, { signal });

  function add(event, atTop) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const item = eventItem(event);
    if (atTop) list.prepend(item);
    else list.append(item);
    while (list.children.length > LIMIT) list.lastElementChild.remove();
    status.hidden = true;
  }

  const load = async () => {
    let data;
    status.textContent = 'Loading events…';
    try {
      data = await api.get(`/api/plugins/${encodeURIComponent(id)}/events?limit=${LIMIT}`, { signal });
    } catch (err) {
      if (signal.aborted || err.handled) return;
      status.replaceChildren(loadError(`The events could not be loaded: ${err.message}`, load));
      return;
    }
    for (const event of data.events || []) add(event, false);
    ready = true;
    for (const event of early.splice(0)) add(event, true);
    if (!list.children.length) status.textContent = 'No events in the last 7 days.';
  };
  load();

  return { el };
}

export function eventTitle(event) {
  const d = event.details || {};
  switch (event.event_type) {
    case 'state': return `${d.old} → ${d.new}`;
    case 'started': return `Started${d.pid ? ` (PID ${d.pid})` : ''}`;
    case 'exited': return d.signal ? `Exited: killed by ${d.signal}` : `Exited with code ${d.code}`;
    case 'stopped': return 'Stopped';
    case 'killed': return `Sent ${d.signal || 'a signal'}`;
    case 'restarting_with_backoff': return `Restarting in ${d.delay} s (crash ${d.crashes})`;
    case 'disabled_after_max_restarts': return `Disabled after ${d.crashes} crashes in a row`;
    case 'start_failed': return 'Could not start';
    case 'connection_problem': return 'Connection problem';
    case 'config_changed': return `Config changed${d.by ? ` by ${d.by}` : ''}`;
    default: return event.event_type.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
  }
}

function eventDetail(event) {
  const d = event.details || {};
  if (event.event_type === 'state') return d.reason || '';
  const skip = new Set(['old', 'new', 'pid', 'delay', 'crashes', 'code', 'signal', 'by']);
  return Object.entries(d).filter(([k, v]) => !skip.has(k) && v != null && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ');
}

export function eventTone(event) {
  return event.event_type === 'state' ? stateTone(event.details && event.details.new) : (TONES[event.event_type] || 'neutral');
}

function eventItem(event) {
  const tone = eventTone(event);
  const detail = eventDetail(event);
  return h('li', { class: 'event-item', dataset: { eventType: event.event_type, tone } },
    h('span', { class: 'event-marker', 'aria-hidden': 'true' }),
    h('div', { class: 'event-body' },
      h('p', { class: 'event-title' }, eventTitle(event)),
      detail ? h('p', { class: 'event-detail' }, detail) : null,
      h('time', { class: 'event-time', datetime: isoTime(event.timestamp), title: formatDateTime(event.timestamp) },
        `${formatDateTime(event.timestamp)} · ${formatAgo(event.timestamp)}`)));
}

function stateTone(state) {
  return { running: 'success', starting: 'primary', backoff: 'warning', failed: 'danger' }[state] || 'neutral';
}
