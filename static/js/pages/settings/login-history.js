// Settings → Login history (admin): every sign-in attempt of the last 30
// days, newest first, filtered by username and result, a page at a time.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { pager } from '../../ui/pager.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { listLoader } from '../../ui/list-loader.js';
import { later } from '../../lifetime.js';

export const PAGE_SIZE = 25;
const FILTER_DELAY_MS = 300;

export const REASONS = {
  ok: 'Signed in',
  bad_password: 'Wrong password',
  unknown_user: 'Unknown username',
  inactive: 'Account deactivated',
  locked: 'Locked out (too many failures)',
};

export function render(container, ctx) {
  const state = { page: 0, username: '', success: '' };
  let cancelFilter = () => {};

  const username = h('input', {
    id: 'history-username', type: 'search', class: 'input', placeholder: 'Any user', autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false',
    onInput: () => {
      cancelFilter();
      cancelFilter = later(ctx.signal, FILTER_DELAY_MS, () => applyFilters());
    },
    onKeydown: (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        applyFilters();
      }
    },
  });
  const result = h('select', { id: 'history-result', class: 'input select', onChange: () => applyFilters() },
    h('option', { value: '' }, 'All results'),
    h('option', { value: 'true' }, 'Successful'),
    h('option', { value: 'false' }, 'Failed'));

  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading sign-in attempts…'));
  const paging = pager({ go: (delta) => go(state.page + delta) });

  container.append(h('section', { class: 'card card-flush', 'aria-labelledby': 'history-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'history-title' }, icon('history'), 'Login history'),
        h('p', { class: 'card-lead' }, 'Every sign-in attempt of the last 30 days, newest first.'))),
    h('div', { class: 'filters', role: 'search', 'aria-label': 'Filter sign-in attempts' },
      h('div', { class: 'field' }, h('label', { for: 'history-username' }, 'Username'), username),
      h('div', { class: 'field' }, h('label', { for: 'history-result' }, 'Result'), result)),
    list,
    paging.el));

  function applyFilters() {
    cancelFilter();
    const changed = state.username !== username.value.trim() || state.success !== result.value;
    state.username = username.value.trim();
    state.success = result.value;
    if (changed) go(0);
  }

  function go(page) {
    state.page = Math.max(0, page);
    load();
  }

  const fetchPage = listLoader(list, { signal: ctx.signal, what: 'The login history', title: 'Login history',
    retry: () => load() });
  async function load() {
    const query = new URLSearchParams({ page: String(state.page), page_size: String(PAGE_SIZE) });
    if (state.username) query.set('username', state.username);
    if (state.success) query.set('success', state.success);
    const data = await fetchPage(`/api/auth/login-history?${query}`);
    if (!data) return;
    const count = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    if (state.page >= count && data.total > 0) {
      go(count - 1); // the list shrank under us
      return;
    }
    list.replaceChildren(data.attempts.length ? attemptsTable(data.attempts)
      : h('p', { class: 'table-note' }, state.username || state.success
        ? 'No sign-in attempts match these filters.' : 'No sign-in attempts in the last 30 days.'));
    paging.show({ text: `${data.total} ${data.total === 1 ? 'attempt' : 'attempts'}`, page: state.page, pages: count });
  }

  load();
}

function attemptsTable(attempts) {
  return h('table', { class: 'table table-cards history-table' },
    h('caption', { class: 'visually-hidden' }, 'Sign-in attempts, newest first'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Time'),
      h('th', { scope: 'col' }, 'Username'),
      h('th', { scope: 'col' }, 'Result'),
      h('th', { scope: 'col' }, 'IP address'),
      h('th', { scope: 'col' }, 'Browser'))),
    h('tbody', null, attempts.map(attemptRow)));
}

function attemptRow(attempt) {
  const browser = attempt.device;  // the server's words, as for sessions
  return h('tr', { dataset: { result: attempt.success ? 'success' : 'failure', reason: attempt.reason } },
    h('td', { class: 'cell-primary' },
      h('time', { class: 'time-cell', datetime: isoTime(attempt.created_at) },
        h('span', null, formatDateTime(attempt.created_at)),
        h('span', { class: 'time-ago' }, formatAgo(attempt.created_at)))),
    h('td', { dataset: { label: 'Username' } }, h('span', { class: 'mono-soft' }, attempt.username)),
    h('td', { dataset: { label: 'Result' } },
      h('span', { class: 'result-cell' },
        attempt.success
          ? h('span', { class: 'badge badge-success' }, icon('check', 'badge-icon'), 'Success')
          : h('span', { class: 'badge badge-danger' }, icon('close', 'badge-icon'), 'Failed'),
        h('span', { class: 'result-reason' }, REASONS[attempt.reason] || attempt.reason))),
    h('td', { dataset: { label: 'IP address' } }, h('code', { class: 'mono-soft' }, attempt.ip)),
    h('td', { dataset: { label: 'Browser' } },
      browser ? h('span', { title: attempt.user_agent }, browser) : h('span', { class: 'muted' }, 'Unknown')));
}
