// Recent deliveries (admins): every attempt to hand a notification to a
// channel, newest first, a page at a time (GET /api/alerts/deliveries).
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { pager } from '../../ui/pager.js';
import { listLoader } from '../../ui/list-loader.js';
import { formatDateTime, formatTime, isoTime } from '../../ui/format.js';

const PAGE_SIZE = 20;
const STATUSES = { firing: 'Firing', resolved: 'Resolved', test: 'Test' };

/** {el, load()}. */
export function deliveriesCard({ signal }) {
  let pageNumber = 0;
  const body = h('div', { class: 'table-wrap', 'aria-live': 'polite' }, h('p', { class: 'table-note' }, 'Loading deliveries…'));
  const load = listLoader(body, { signal, what: 'The deliveries', title: 'Deliveries', retry: () => reload() });
  const paging = pager({ go: (delta) => go(pageNumber + delta), back: 'Newer', forward: 'Older' });

  async function reload() {
    const data = await load(`/api/alerts/deliveries?page=${pageNumber}&page_size=${PAGE_SIZE}`);
    if (!data) return;
    paging.show({ text: data.total === 1 ? '1 delivery attempt' : `${data.total} delivery attempts`,
      page: pageNumber, pages: Math.max(1, Math.ceil(data.total / PAGE_SIZE)) });
    const rows = data.deliveries || [];
    if (!rows.length) {
      body.replaceChildren(h('p', { class: 'table-note', dataset: { empty: 'deliveries' } },
        'Nothing was sent yet. "Send test" on a channel tries it now.'));
      return;
    }
    body.replaceChildren(h('table', { class: 'table table-cards alert-deliveries-table' },
      h('caption', { class: 'visually-hidden' }, 'Delivery attempts, newest first'),
      h('thead', null, h('tr', null, ['When', 'Channel', 'Alert', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.map(row))));
  }

  function go(n) {
    pageNumber = Math.max(0, n);
    reload();
  }

  const el = h('section', { class: 'card card-flush', 'aria-labelledby': 'alert-deliveries-title', dataset: { editor: 'deliveries' } },
    h('div', { class: 'card-head' }, h('div', { class: 'card-head-text' },
      h('h2', { class: 'card-title', id: 'alert-deliveries-title' }, icon('upload'), 'Recent deliveries'),
      h('p', { class: 'card-lead' }, 'Each attempt to send a notification; failures worth it are tried three times.'))),
    body,
    paging.el);
  return { el, load: reload };
}

function row(d) {
  return h('tr', { dataset: { deliveryId: d.id, ok: String(Boolean(d.ok)) } },
    h('td', { dataset: { label: 'When' } },
      h('time', { datetime: isoTime(d.at), title: formatDateTime(d.at) }, formatTime(d.at))),
    h('td', { dataset: { label: 'Channel' } }, d.channel_name || `#${d.channel_id}`),
    h('td', { dataset: { label: 'Alert' } }, d.alert || '—',
      h('span', { class: 'muted' }, ` · ${STATUSES[d.status] || d.status}${d.attempt > 1 ? `, attempt ${d.attempt}` : ''}`)),
    h('td', { dataset: { label: 'Result' } }, h('span', { class: ['channel-result', d.ok ? 'channel-result-ok' : 'channel-result-failed'] },
      icon(d.ok ? 'success' : 'error', 'channel-result-icon'), h('span', null, d.result),
      d.duration != null ? h('span', { class: 'muted' }, ` · ${Number(d.duration).toFixed(2)} s`) : null)));
}
