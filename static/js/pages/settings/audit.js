// Settings → Audit log (admin): every state-changing request and security
// event, newest first, filtered by actor, action, outcome and dates, a page
// at a time; a row's details in a dialog; the filtered rows as CSV or JSON;
// a check of the hash chain (docs/security.md#audit-trail).
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { pager } from '../../ui/pager.js';
import { api } from '../../api.js';
import { modal } from '../../ui/dialog.js';
import { showError } from '../../ui/toast.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { listLoader } from '../../ui/list-loader.js';
import { later } from '../../lifetime.js';

export const PAGE_SIZE = 25;
const FILTER_DELAY_MS = 300;

const OUTCOMES = {
  ok: { label: 'OK', badge: 'badge-success', icon: 'check' },
  denied: { label: 'Denied', badge: 'badge-danger', icon: 'lock' },
  invalid: { label: 'Invalid', badge: 'badge-warning', icon: 'info' },
  error: { label: 'Error', badge: 'badge-danger', icon: 'error' },
};
// Offered in the action filter; any prefix works.
const ACTION_PREFIXES = ['auth', 'account', 'user', 'token', 'settings', 'task', 'quick_action', 'schedule',
  'plugin', 'audit'];

export function render(container, ctx) {
  const state = { page: 0, actor: '', action: '', outcome: '', since: '', until: '' };
  let cancelFilter = () => {};

  const typed = () => {
    cancelFilter();
    cancelFilter = later(ctx.signal, FILTER_DELAY_MS, () => applyFilters());
  };
  const onEnter = (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      applyFilters();
    }
  };
  const textFilter = (id, placeholder, extra = {}) => h('input', {
    id, type: 'search', class: 'input', placeholder, autocomplete: 'off', autocapitalize: 'none',
    spellcheck: 'false', onInput: typed, onKeydown: onEnter, ...extra,
  });
  const actor = textFilter('audit-actor', 'Anyone');
  const action = textFilter('audit-action', 'Any action', { list: 'audit-action-prefixes' });
  const outcome = h('select', { id: 'audit-outcome', class: 'input select', onChange: () => applyFilters() },
    h('option', { value: '' }, 'All outcomes'),
    Object.entries(OUTCOMES).map(([value, o]) => h('option', { value }, o.label)));
  const since = h('input', { id: 'audit-since', type: 'date', class: 'input', onChange: () => applyFilters() });
  const until = h('input', { id: 'audit-until', type: 'date', class: 'input', onChange: () => applyFilters() });

  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading the audit log…'));
  const paging = pager({ go: (delta) => go(state.page + delta) });
  const csv = h('a', { class: 'btn', download: '', 'data-export': 'csv' }, icon('download'), h('span', null, 'CSV'));
  const json = h('a', { class: 'btn', download: '', 'data-export': 'json' }, icon('download'), h('span', null, 'JSON'));
  const chainStatus = h('p', { class: 'audit-chain', 'aria-live': 'polite' });
  const check = h('button', { type: 'button', class: 'btn', onClick: () => verify() },
    icon('shield'), h('span', null, 'Check chain'));

  container.append(h('section', { class: 'card card-flush', 'aria-labelledby': 'audit-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'audit-title' }, icon('shield'), 'Audit log'),
        h('p', { class: 'card-lead' },
          'Every change made through Toru and every security event, newest first. ',
          'Rows are chained by hash: an edited or deleted row shows when the chain is checked.')),
      h('div', { class: 'card-head-actions' }, check, csv, json)),
    chainStatus,
    h('div', { class: 'filters audit-filters', role: 'search', 'aria-label': 'Filter the audit log' },
      h('div', { class: 'field' }, h('label', { for: 'audit-actor' }, 'Actor'), actor),
      h('div', { class: 'field' }, h('label', { for: 'audit-action' }, 'Action'), action,
        h('datalist', { id: 'audit-action-prefixes' }, ACTION_PREFIXES.map((p) => h('option', { value: p })))),
      h('div', { class: 'field' }, h('label', { for: 'audit-outcome' }, 'Outcome'), outcome),
      h('div', { class: 'field' }, h('label', { for: 'audit-since' }, 'From'), since),
      h('div', { class: 'field' }, h('label', { for: 'audit-until' }, 'To'), until)),
    list,
    paging.el));

  function applyFilters() {
    cancelFilter();
    const wanted = { actor: actor.value.trim(), action: action.value.trim(), outcome: outcome.value,
      since: since.value, until: until.value };
    const changed = Object.keys(wanted).some((k) => wanted[k] !== state[k]);
    Object.assign(state, wanted);
    if (changed) go(0);
  }

  function filterQuery() {
    const query = new URLSearchParams();
    for (const key of ['actor', 'action', 'outcome']) if (state[key]) query.set(key, state[key]);
    // Dates are this browser's days: local midnight to the end of the day.
    if (state.since) query.set('since', String(new Date(`${state.since}T00:00:00`).getTime() / 1000));
    if (state.until) query.set('until', String(new Date(`${state.until}T23:59:59.999`).getTime() / 1000));
    return query;
  }

  function go(page) {
    state.page = Math.max(0, page);
    load();
  }

  const fetchPage = listLoader(list, { signal: ctx.signal, what: 'The audit log', title: 'Audit log',
    retry: () => load() });
  async function load() {
    const query = filterQuery();
    for (const [link, format] of [[csv, 'csv'], [json, 'json']]) {
      const exportQuery = new URLSearchParams(query);
      exportQuery.set('format', format);
      link.href = `/api/audit/export?${exportQuery}`;
    }
    query.set('page', String(state.page));
    query.set('page_size', String(PAGE_SIZE));
    const data = await fetchPage(`/api/audit?${query}`);
    if (!data) return;
    const count = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    if (state.page >= count && data.total > 0) {
      go(count - 1); // the list shrank under us
      return;
    }
    const filtered = state.actor || state.action || state.outcome || state.since || state.until;
    list.replaceChildren(data.entries.length ? entriesTable(data.entries)
      : h('p', { class: 'table-note' }, filtered ? 'No rows match these filters.' : 'Nothing recorded yet.'));
    paging.show({ text: `${data.total} ${data.total === 1 ? 'row' : 'rows'}`, page: state.page, pages: count });
  }

  async function verify() {
    check.disabled = true;
    chainStatus.textContent = 'Checking the chain…';
    chainStatus.dataset.ok = '';
    try {
      const result = await api.get('/api/audit/verify', { signal: ctx.signal });
      chainStatus.textContent = result.ok ? `Chain intact: ${result.message}.` : `Chain broken: ${result.message}.`;
      chainStatus.dataset.ok = String(result.ok);
    } catch (err) {
      if (ctx.signal.aborted) return;
      chainStatus.textContent = '';
      showError(err, 'Checking the audit chain');
    } finally {
      check.disabled = false;
    }
  }

  load();
}

function outcomeBadge(outcome) {
  const o = OUTCOMES[outcome] || { label: outcome, badge: 'badge-neutral', icon: 'info' };
  return h('span', { class: ['badge', o.badge] }, icon(o.icon, 'badge-icon'), o.label);
}

function entriesTable(entries) {
  return h('table', { class: 'table table-cards audit-table' },
    h('caption', { class: 'visually-hidden' }, 'Audit log rows, newest first'),
    h('thead', null, h('tr', null,
      ['Time', 'Actor', 'Action', 'Target', 'Outcome', 'IP address'].map((t) => h('th', { scope: 'col' }, t)),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Details')))),
    h('tbody', null, entries.map(entryRow)));
}

function entryRow(entry) {
  return h('tr', { dataset: { id: String(entry.id), action: entry.action, outcome: entry.outcome } },
    h('td', { class: 'cell-primary' },
      h('time', { class: 'time-cell', datetime: isoTime(entry.at) },
        h('span', null, formatDateTime(entry.at)),
        h('span', { class: 'time-ago' }, formatAgo(entry.at)))),
    h('td', { dataset: { label: 'Actor' } }, h('span', { class: 'mono-soft' }, entry.actor)),
    h('td', { dataset: { label: 'Action' } }, h('code', { class: 'mono-soft' }, entry.action)),
    h('td', { dataset: { label: 'Target' } }, entry.target
      ? h('span', { class: 'mono-soft audit-target', title: entry.target }, entry.target)
      : h('span', { class: 'muted' }, '—')),
    h('td', { dataset: { label: 'Outcome' } }, outcomeBadge(entry.outcome)),
    h('td', { dataset: { label: 'IP address' } }, entry.ip
      ? h('code', { class: 'mono-soft' }, entry.ip) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'cell-actions' },
      h('button', { type: 'button', class: 'btn btn-sm', onClick: () => showDetails(entry) },
        h('span', null, 'Details'))));
}

function showDetails(entry) {
  modal({ title: `${entry.action} · row ${entry.id}`, className: 'audit-details' }, () => [
    h('dl', { class: 'audit-summary' },
      [['Time', `${formatDateTime(entry.at)} (${entry.at_rfc3339})`], ['Actor', entry.actor],
        ['Target', entry.target || '—'], ['Outcome', entry.outcome], ['IP address', entry.ip || '—']]
        .map(([term, value]) => [h('dt', null, term), h('dd', null, value)])),
    h('h3', { class: 'audit-details-title' }, 'Details'),
    h('pre', { class: 'audit-json', tabindex: '0' }, JSON.stringify(entry.details, null, 2)),
  ]);
}
