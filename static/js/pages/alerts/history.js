// The Alerts page's history: resolved and one-shot alerts, newest first, a
// page at a time (GET /api/alerts?page=&page_size=), as a timeline.
import { h } from '../../ui/dom.js';
import { pager } from '../../ui/pager.js';
import { listLoader } from '../../ui/list-loader.js';
import { formatDateTime, formatDuration, isoTime } from '../../ui/format.js';
import { labelText, severityBadge } from './words.js';

const PAGE_SIZE = 20;

/** {el, load(): reloads the current page}. */
export function alertHistory({ signal }) {
  let pageNumber = 0;
  const list = h('ol', { class: 'alert-timeline', 'aria-live': 'polite', dataset: { history: '' } });
  const paging = pager({ go: (delta) => go(pageNumber + delta), back: 'Newer', forward: 'Older' });
  const load = listLoader(list, { signal, what: 'The alert history', title: 'Alert history', retry: () => reload() });

  async function reload() {
    const data = await load(`/api/alerts?page=${pageNumber}&page_size=${PAGE_SIZE}`);
    if (!data) return;
    const count = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    if (pageNumber >= count && data.total > 0) {
      go(count - 1);
      return;
    }
    paging.show({ text: data.total === 1 ? '1 alert in the history' : `${data.total} alerts in the history`,
      page: pageNumber, pages: count });
    list.replaceChildren(...(data.history.length ? data.history.map(entry)
      : [h('li', { class: 'table-note' }, 'No alert has ended yet.')]));
  }

  function go(n) {
    pageNumber = Math.max(0, n);
    reload();
  }

  const el = h('div', null, list, paging.el);
  return { el, load: reload };
}

function entry(alert) {
  const end = alert.resolved_at;
  const when = end || alert.started_at;
  const reason = alert.resolved_reason || null; // in words: "rule deleted", "rule changed"…
  let what;
  if (alert.status === 'event') what = 'Happened';
  else if (alert.fired_at) what = `Fired for ${formatDuration((end || alert.fired_at) - alert.fired_at)}, then resolved`;
  else what = 'Pending, then cleared';
  return h('li', { class: `alert-entry alert-entry-${alert.severity}`, dataset: { alertId: alert.id, status: alert.status } },
    h('time', { class: 'alert-entry-time', datetime: isoTime(when) }, formatDateTime(when)),
    h('div', { class: 'alert-entry-body' },
      h('div', { class: 'alert-item-head' }, severityBadge(alert.severity),
        h('span', { class: 'alert-name' }, alert.rule_name),
        h('span', { class: 'alert-labels' }, labelText(alert.labels))),
      h('p', { class: 'alert-summary' }, alert.summary || ''),
      h('p', { class: 'alert-since' }, what, reason ? ` (ended quietly: ${reason})` : '',
        alert.notifications ? ` · ${alert.notifications} notification${alert.notifications === 1 ? '' : 's'}` : '')));
}
