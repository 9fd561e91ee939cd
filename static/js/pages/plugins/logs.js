// The logs viewer of a plugin's details (admins): GET /api/plugins/:id/logs
// a page at a time, newest first, filtered by level ("and above") on the
// server; search narrows the lines of the page shown. Live tail reloads the
// newest page every TAIL_MS while it is on. Only the page shown is in the
// DOM, so a huge log stays as light as a small one: the server reads it
// from the end.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { pager } from '../../ui/pager.js';
import { api } from '../../api.js';
import { showError, showToast } from '../../ui/toast.js';
import { loadError } from '../../ui/load-error.js';
import { every, later, scope } from '../../lifetime.js';

const TAIL_MS = 2000;
const SEARCH_DELAY_MS = 150;
const PAGE_SIZES = [50, 100, 250];
const LEVELS = [
  ['', 'All levels'], ['debug', 'Debug and above'], ['info', 'Info and above'], ['warn', 'Warnings and errors'],
  ['error', 'Errors only'],
];
const LEVEL_TONES = { trace: 'neutral', debug: 'neutral', info: 'primary', warn: 'warning', warning: 'warning', error: 'danger', fatal: 'danger', critical: 'danger' };

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

let counter = 0;

/** The logs card for plugin `id`; it stops tailing when `signal` aborts. */
export function logsViewer(id, { signal }) {
  counter += 1;
  const uid = `plugin-logs-${counter}`;
  const state = { page: 0, level: '', pageSize: 100, search: '', tail: false, lines: [] };
  let inflight = null;
  let stopTail = () => {};
  let cancelSearch = () => {};

  const level = h('select', {
    id: `${uid}-level`, class: 'input select input-sm', dataset: { logs: 'level' },
    onChange: () => { state.level = level.value; go(0); },
  }, LEVELS.map(([value, label]) => h('option', { value }, label)));
  const size = h('select', {
    id: `${uid}-size`, class: 'input select input-sm', dataset: { logs: 'page-size' },
    onChange: () => { state.pageSize = Number(size.value); go(0); },
  }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.pageSize }, `${n} lines`)));
  const search = h('input', {
    id: `${uid}-search`, type: 'search', class: 'input input-sm', placeholder: 'Search this page', autocomplete: 'off',
    spellcheck: 'false', dataset: { logs: 'search' },
    onInput: () => {
      cancelSearch();
      cancelSearch = later(signal, SEARCH_DELAY_MS, () => { state.search = search.value.trim(); render(); });
    },
  });
  const tail = h('input', {
    type: 'checkbox', role: 'switch', id: `${uid}-tail`, class: 'switch-input', dataset: { logs: 'tail' },
    onChange: () => setTail(tail.checked),
  });
  const refresh = h('button', { type: 'button', class: 'btn btn-sm', onClick: () => load() },
    icon('refresh'), h('span', null, 'Refresh'));
  const list = h('ol', { class: 'log-list', 'aria-label': 'Log lines, newest first' });
  const status = h('div', { class: 'log-status', 'aria-live': 'polite' });
  const body = h('div', { class: 'log-body', 'aria-busy': 'true' }, status, list);
  const paging = pager({ go: (delta) => go(state.page + delta), back: 'Newer', forward: 'Older',
    dataset: { summary: { logs: 'summary' }, back: { logs: 'newer' }, forward: { logs: 'older' } } });

  const el = h('section', { class: 'card card-flush plugin-logs', 'aria-labelledby': `${uid}-title` },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: `${uid}-title` }, icon('list'), 'Logs'),
        h('p', { class: 'card-lead' }, 'What the plugin printed, newest first. Times are in your time zone.')),
      h('div', { class: 'log-head-actions' },
        h('label', { class: 'switch', for: `${uid}-tail` }, tail, h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
          h('span', { class: 'switch-text' }, 'Live tail')),
        refresh)),
    h('div', { class: 'filters log-filters', role: 'search', 'aria-label': 'Filter log lines' },
      h('div', { class: 'field' }, h('label', { for: `${uid}-level` }, 'Level'), level),
      h('div', { class: 'field' }, h('label', { for: `${uid}-search` }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: `${uid}-size` }, 'Per page'), size)),
    body,
    paging.el);

  function go(pageNumber) {
    state.page = Math.max(0, pageNumber);
    // Tailing shows the newest lines; paging back through history stops it.
    if (state.page > 0 && state.tail) setTail(false);
    load();
  }

  function setTail(on) {
    state.tail = on;
    tail.checked = on;
    stopTail();
    if (on) {
      if (state.page !== 0) go(0);
      else load({ quiet: true });
      stopTail = every(signal, TAIL_MS, () => {
        if (!inflight) load({ quiet: true });
      });
    }
  }

  async function load({ quiet = false } = {}) {
    if (signal.aborted) return;
    if (inflight) inflight.abort();
    const controller = scope(signal);
    inflight = controller;
    if (!quiet) body.setAttribute('aria-busy', 'true');
    const query = new URLSearchParams({ page: String(state.page), page_size: String(state.pageSize) });
    if (state.level) query.set('level', state.level);
    let data;
    try {
      data = await api.get(`/api/plugins/${encodeURIComponent(id)}/logs?${query}`, { signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted || err.handled) return;
      body.removeAttribute('aria-busy');
      status.replaceChildren(loadError(`The logs could not be loaded: ${err.message}`, () => load()));
      list.replaceChildren();
      if (!quiet) showError(err, 'Plugin logs');
      return;
    } finally {
      if (inflight === controller) inflight = null;
      controller.abort(); // done: let go of the page's signal
    }
    body.removeAttribute('aria-busy');
    state.lines = Array.isArray(data.logs) ? data.logs : [];
    state.full = state.lines.length >= state.pageSize;
    render();
  }

  function render() {
    const needle = state.search.toLowerCase();
    const shown = needle ? state.lines.filter((line) => lineText(line).toLowerCase().includes(needle)) : state.lines;
    list.replaceChildren(...shown.map(logLine));
    if (!state.lines.length) {
      status.textContent = state.page > 0 ? 'No older lines.'
        : state.level ? 'No lines at this level.' : 'This plugin has not logged anything yet.';
    } else if (needle && !shown.length) {
      status.textContent = `No line on this page contains “${state.search}”.`;
    } else {
      status.textContent = '';
    }
    const first = state.page * state.pageSize + 1;
    const last = state.page * state.pageSize + state.lines.length;
    paging.show({ text: !state.lines.length ? '' : needle
      ? `${shown.length} of ${state.lines.length} lines on this page match`
      : `Lines ${first}–${last}, newest first`, page: state.page, more: state.full });
  }

  load();
  return { el };
}

function lineText(line) {
  return [line.timestamp, line.level, line.message, line.error].filter((v) => v != null).join(' ');
}

/** "12 Mar 2025, 14:03:22" in the browser's time zone (RFC 3339 in, as logged). */
export function localTime(timestamp) {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp || '') : timeFormat.format(date);
}

function logLine(line) {
  const levelName = String(line.level || 'info').toLowerCase();
  const copy = h('button', {
    type: 'button', class: 'icon-button log-copy', 'aria-label': 'Copy line', title: 'Copy line',
    onClick: () => copyLine(line),
  }, icon('copy'));
  return h('li', { class: 'log-line', dataset: { level: levelName } },
    h('time', { class: 'log-time', datetime: line.timestamp || null, title: line.timestamp || null }, localTime(line.timestamp)),
    h('span', { class: ['badge', 'badge-sm', `badge-${LEVEL_TONES[levelName] || 'neutral'}`, 'log-level'] }, levelName),
    h('span', { class: 'log-message' }, String(line.message ?? ''),
      line.error ? h('span', { class: 'log-extra' }, `\n${line.error}`) : null),
    copy);
}

async function copyLine(line) {
  const text = JSON.stringify(line);
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    showToast('Log line copied.', 'success');
  } catch {
    // No clipboard (plain http on a remote host): offer the text to copy.
    window.prompt('Copy this log line:', text);
  }
}
