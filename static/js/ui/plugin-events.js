// Plugin events as people read them, and the live list both the plugin's
// details page and the dashboard show: the recent events from the API,
// newest first, with events pushed on the "plugins" topic added at the top.
import { h } from './dom.js';
import { api } from '../api.js';
import { loadError } from './load-error.js';
import { watchPluginEvents } from '../stores/plugins.js';

const TONES = {
  started: 'success', enabled: 'success', discovered: 'primary', config_changed: 'primary',
  exited: 'warning', killed: 'warning', restarting_with_backoff: 'warning', connection_problem: 'warning',
  start_failed: 'danger', invalid: 'danger', disabled_after_max_restarts: 'danger',
};

export function eventTone(event) {
  return TONES[event.event_type] || 'neutral';
}

export function eventTitle(event) {
  const d = event.details || {};
  switch (event.event_type) {
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

/** The details a title does not already say ("reason: …"), or ''. */
export function eventDetail(event) {
  const skip = new Set(['old', 'new', 'pid', 'delay', 'crashes', 'code', 'signal', 'by']);
  return Object.entries(event.details || {}).filter(([k, v]) => !skip.has(k) && v != null && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ');
}

/**
 * liveEventList({url, limit, keep(event), render(event), label, empty, failed, signal})
 *   → {list, status, load()}
 * `url` answers {events: [...]} newest first; pushed events that `keep`
 * accepts join at the top; an event is shown once; at most `limit` stay.
 */
export function liveEventList({ url, limit, keep = () => true, render, label, empty, failed, signal }) {
  const list = h('ol', { class: 'event-list', 'aria-label': label });
  const status = h('div', { class: 'muted event-status' }, 'Loading events…');
  const seen = new Set();
  let ready = false;
  const early = []; // pushed before the first answer: added after it

  watchPluginEvents((event) => {
    if (!keep(event)) return;
    if (!ready) early.push(event);
    else add(event, true);
  }, { signal });

  function add(event, atTop) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const item = render(event);
    if (atTop) list.prepend(item);
    else list.append(item);
    while (list.children.length > limit) list.lastElementChild.remove();
    status.hidden = true;
  }

  async function load() {
    let data;
    status.hidden = false;
    status.textContent = 'Loading events…';
    try {
      data = await api.get(url, { signal });
    } catch (err) {
      if (signal.aborted || err.handled) return;
      status.replaceChildren(loadError(`${failed}: ${err.message}`, load));
      return;
    }
    for (const event of data.events || []) add(event, false);
    ready = true;
    for (const event of early.splice(0)) add(event, true);
    if (!list.children.length) status.textContent = empty;
  }
  return { list, status, load };
}
