// The System Monitor's top processes: by CPU or by memory, refreshed every
// few seconds while the page is open and the tab visible.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showError } from '../../ui/toast.js';
import { formatAgo, formatBytes, formatDateTime, formatPercent, isoTime } from '../../ui/format.js';

const REFRESH_MS = 5000;
const LIMIT = 20;
const SORTS = [
  { id: 'cpu', label: 'CPU', caption: 'by CPU usage' },
  { id: 'mem', label: 'Memory', caption: 'by memory (resident set size)' },
];

/** {el, stop}: the section, and the function that ends its refreshes. */
export function processesSection(ctx) {
  let sort = 'cpu';
  let timer = null;
  let inflight = null;
  let stopped = false;
  let shown = false; // a table is on screen (a failed refresh keeps it)

  const buttons = SORTS.map((s) => h('button', {
    type: 'button', class: 'segment', 'aria-pressed': s.id === sort, dataset: { sort: s.id },
    onClick: () => {
      if (sort === s.id) return;
      sort = s.id;
      for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.sort === sort));
      load();
    },
  }, s.label));
  const lead = h('p', { class: 'card-lead' });
  const status = h('p', { class: 'processes-status', role: 'status' });
  const list = h('div', { class: 'table-wrap', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading processes…'));
  const el = h('section', { class: 'card card-flush processes', 'aria-labelledby': 'processes-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'processes-title' }, icon('list'), 'Top processes'),
        lead),
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Sort processes by' }, buttons)),
    status,
    list);

  async function load() {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    const abort = () => controller.abort();
    ctx.signal.addEventListener('abort', abort, { once: true });
    const wanted = sort;
    lead.textContent = `The ${LIMIT} busiest ${SORTS.find((s) => s.id === wanted).caption}, refreshed every ${REFRESH_MS / 1000} s.`;
    try {
      const data = await api.get(`/api/processes?sort=${wanted}&limit=${LIMIT}`, { signal: controller.signal });
      if (stopped || wanted !== sort) return;
      list.removeAttribute('aria-busy');
      status.textContent = '';
      list.replaceChildren(data.processes.length
        ? processTable(data.processes, wanted)
        : h('p', { class: 'table-note' }, 'No processes could be read.'));
      shown = true;
    } catch (err) {
      if (controller.signal.aborted || stopped) return;
      list.removeAttribute('aria-busy');
      const message = `The processes could not be loaded: ${err.message}`;
      // Keep the last table and say it is stale; retry on the next round.
      if (shown) status.textContent = `${message}. Retrying…`;
      else {
        list.replaceChildren(h('p', { class: 'table-note table-note-error' }, message));
        showError(err, 'Processes');
      }
    } finally {
      ctx.signal.removeEventListener('abort', abort);
      if (inflight === controller) inflight = null;
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => {
      // A hidden tab asks nothing; it catches up when shown again.
      if (document.visibilityState === 'hidden') schedule();
      else load();
    }, REFRESH_MS);
  }

  function onVisible() {
    if (document.visibilityState === 'visible' && !inflight) load();
  }
  document.addEventListener('visibilitychange', onVisible);

  load();
  return {
    el,
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (inflight) inflight.abort();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

function processTable(processes, sort) {
  const sorted = (id) => (id === sort ? 'descending' : null);
  return h('table', { class: 'table table-cards process-table', dataset: { sort } },
    h('caption', { class: 'visually-hidden' }, `Top processes ${SORTS.find((s) => s.id === sort).caption}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Process'),
      h('th', { scope: 'col' }, 'User'),
      h('th', { scope: 'col', class: 'cell-num', 'aria-sort': sorted('cpu') }, 'CPU'),
      h('th', { scope: 'col', class: 'cell-num', 'aria-sort': sorted('mem') }, 'Memory'),
      h('th', { scope: 'col' }, 'Started'),
      h('th', { scope: 'col' }, 'Command'))),
    h('tbody', null, processes.map(processRow)));
}

function processRow(p) {
  const started = Number(p.started);
  return h('tr', { dataset: { pid: p.pid } },
    h('td', { class: 'cell-primary' },
      h('span', { class: 'process-name' },
        h('span', { class: 'process-title truncate', title: p.name }, p.name),
        h('span', { class: 'process-pid' }, `PID ${p.pid}`))),
    h('td', { dataset: { label: 'User' } }, h('span', { class: 'truncate process-user', title: p.user }, p.user)),
    h('td', { class: 'cell-num', dataset: { label: 'CPU', metric: 'cpu' } }, formatPercent(p.cpu_percent)),
    h('td', { class: 'cell-num', dataset: { label: 'Memory', metric: 'rss' } }, formatBytes(p.rss)),
    h('td', { dataset: { label: 'Started' } }, Number.isFinite(started) && started > 0
      ? h('time', { datetime: isoTime(started), title: formatDateTime(started) }, formatAgo(started))
      : h('span', { class: 'muted' }, '—')),
    h('td', { class: ['cell-command', p.cmdline ? null : 'cell-command-none'], dataset: { label: 'Command' } }, p.cmdline
      ? h('code', { class: 'truncate process-cmd', title: p.cmdline }, p.cmdline)
      : h('span', { class: 'muted', title: 'Kernel threads and processes Toru may not read have no command line' }, '—')));
}
