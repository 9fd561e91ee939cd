// The System Monitor's top processes: by CPU or by memory, refreshed every
// few seconds while the page is open and the tab visible.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showError } from '../../ui/toast.js';
import { formatAgo, formatBytes, formatDateTime, formatPercent, isoTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';
import { later, scope } from '../../lifetime.js';

const DEFAULT_REFRESH_S = 5; // until the server says (`refresh_s`)
const LIMIT = 20;
const SORTS = [
  { id: 'cpu', label: 'CPU', caption: 'by CPU usage' },
  { id: 'mem', label: 'Memory', caption: 'by memory (resident set size)' },
];

/** {el}: the section; its refreshes end with ctx.signal. */
export function processesSection(ctx) {
  const { signal } = ctx;
  let sort = 'cpu';
  let cancelTimer = () => {};
  let inflight = null;
  let shown = false; // a table is on screen (a failed refresh keeps it)
  let refreshS = DEFAULT_REFRESH_S;

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
    if (signal.aborted) return;
    cancelTimer();
    if (inflight) inflight.abort();
    const controller = scope(signal);
    inflight = controller;
    const wanted = sort;
    const caption = () => `The ${LIMIT} busiest ${SORTS.find((s) => s.id === wanted).caption}, refreshed every ${refreshS} s.`;
    lead.textContent = caption();
    try {
      const data = await api.get(`/api/processes?sort=${wanted}&limit=${LIMIT}`, { signal: controller.signal });
      if (signal.aborted || wanted !== sort) return;
      if (Number(data.refresh_s) > 0) refreshS = Number(data.refresh_s);
      lead.textContent = caption();
      list.removeAttribute('aria-busy');
      status.textContent = '';
      list.replaceChildren(data.processes.length
        ? processTable(data.processes, wanted)
        : h('p', { class: 'table-note' }, 'No processes could be read.'));
      shown = true;
    } catch (err) {
      if (controller.signal.aborted) return;
      list.removeAttribute('aria-busy');
      const message = `The processes could not be loaded: ${err.message}`;
      // Keep the last table and say it is stale; retry on the next round.
      if (shown) status.textContent = `${message}. Retrying…`;
      else {
        list.replaceChildren(loadError(message, load));
        showError(err, 'Processes');
      }
    } finally {
      if (inflight === controller) inflight = null;
      controller.abort(); // done: let go of the page's signal
    }
    schedule();
  }

  function schedule() {
    cancelTimer();
    cancelTimer = later(signal, refreshS * 1000, () => {
      // A hidden tab asks nothing; it catches up when shown again.
      if (document.visibilityState === 'hidden') schedule();
      else load();
    });
  }

  function onVisible() {
    if (document.visibilityState === 'visible' && !inflight) load();
  }
  document.addEventListener('visibilitychange', onVisible, { signal });

  load();
  return { el };
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
