// History: every task, newest first, filtered by status, script and (for
// admins) trigger, a page at a time; the filters live in the address
// (?status=&script=&trigger=), so a reload or a link shows the same list. A row opens to its output in a terminal: the stored output of a
// finished task, or the live stream of a running one (replayed first).
// /history?highlight_task=ID opens that task (live when it runs), wherever
// it is. Clients see their own quick-action runs; only admins delete; the
// runner and admins cancel a running one.
//
// Long outputs: the terminal keeps SCROLLBACK lines, so an output longer
// than that is shown in two views, its beginning and its end, each ending
// (or starting) with a line that says what lies between — the server's
// "… N bytes omitted …" marker of a truncated output is in both. Two views
// rather than a bigger scrollback: xterm.js keeps every cell of its buffer
// (about 12 bytes each), so a 1 MiB output of short lines in one buffer
// would cost a phone well over 100 MB. Download serves the whole stored
// output as a file.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { pager } from '../ui/pager.js';
import { api } from '../api.js';
import { getUser, isAdmin } from '../session.js';
import { confirmDialog } from '../ui/dialog.js';
import { liveStatus } from '../ui/live-status.js';
import { showError, showToast } from '../ui/toast.js';
import { formatAgo, formatBytes, formatDateTime, isoTime } from '../ui/format.js';
import { page, pageHeader } from '../ui/page.js';
import { SCROLLBACK, terminal } from '../ui/terminal.js';
import {
  STATUSES, TRIGGERS, formatCpu, formatElapsed, formatRss, startedByText, statusBadge, taskElapsed,
} from '../ui/task-status.js';
import { cancelTask, watchTask } from '../tasks.js';
import { loadError } from '../ui/load-error.js';
import { displayValue, needsDialog, runActionDialog } from '../ui/action-form.js';
import { later, onAbort, scope } from '../lifetime.js';

export const PAGE_SIZE = 20;
const FILTER_DELAY_MS = 300;
// While a shown task runs, its row is checked this often (expanded rows
// follow the live stream instead).
const RUNNING_POLL_MS = 3000;
// Lines a view of a long output shows: the scrollback less room for the
// lines that say what is left out.
export const VIEW_LINES = SCROLLBACK - 10;
// The line the server puts where it left a long output's middle out.
const OMITTED = /\n… [^\n]*omitted[^\n]* …\n/;
const DIM = (text) => `\x1b[2m${text}\x1b[0m`;

// The filters the address may carry, and how they are named there and in
// GET /api/history.
const FILTERS = ['status', 'script', 'trigger'];

export function mount(root, ctx) {
  const admin = isAdmin();
  const from = (name, allowed = null) => {
    const value = (ctx.query.get(name) || '').trim();
    return allowed && !Object.hasOwn(allowed, value) ? '' : value;
  };
  const view = {
    ctx,
    signal: ctx.signal,
    admin,
    state: { page: 0, status: from('status', STATUSES), script: from('script'), trigger: admin ? from('trigger', TRIGGERS) : '' },
    highlight: ctx.query.get('highlight_task') || null,
    rows: new Map(), // task_id → {task, row, detail}
    open: new Set(), // task_ids whose output is shown
    inflight: null,
    cancelFilter: () => {},
    cancelPoll: () => {},
  };

  view.script = h('input', {
    id: 'task-script', type: 'search', class: 'input', placeholder: 'Any script', autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false',
    onInput: () => {
      view.cancelFilter();
      view.cancelFilter = later(view.signal, FILTER_DELAY_MS, () => applyFilters(view));
    },
    onKeydown: (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        applyFilters(view);
      }
    },
  });
  view.script.value = view.state.script;
  view.status = h('select', { id: 'task-status', class: 'input select', onChange: () => applyFilters(view) },
    h('option', { value: '' }, 'All statuses'),
    Object.entries(STATUSES).map(([value, s]) => h('option', { value, selected: value === view.state.status }, s.label)));
  // Clients only ever see their own quick-action runs: nothing to tell apart.
  view.trigger = admin ? h('select', { id: 'task-trigger', class: 'input select', onChange: () => applyFilters(view) },
    h('option', { value: '' }, 'All triggers'),
    Object.entries(TRIGGERS).map(([value, label]) => h('option', { value, selected: value === view.state.trigger }, label)))
    : null;

  view.list = h('div', { class: 'table-wrap tasks-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading the task history…'));
  view.pager = pager({ go: (delta) => go(view, view.state.page + delta) });
  root.append(page(
    pageHeader('History',
      view.admin ? 'Every task that ran on this server, with its output.'
        : 'The quick actions you ran, with their output.'),
    h('section', { class: 'card card-flush', 'aria-labelledby': 'tasks-title' },
      h('div', { class: 'card-head' },
        h('div', { class: 'card-head-text' },
          h('h2', { class: 'card-title', id: 'tasks-title' }, icon('history'), 'Tasks'),
          h('p', { class: 'card-lead' }, 'Newest first. Open a task to see its output; a running one streams live.')),
        h('button', { type: 'button', class: 'btn btn-sm', onClick: () => load(view) },
          icon('refresh'), h('span', null, 'Refresh'))),
      h('div', { class: ['filters', admin ? 'history-filters' : null], role: 'search', 'aria-label': 'Filter tasks' },
        h('div', { class: 'field' }, h('label', { for: 'task-script' }, 'Script'), view.script),
        h('div', { class: 'field' }, h('label', { for: 'task-status' }, 'Status'), view.status),
        view.trigger ? h('div', { class: 'field' }, h('label', { for: 'task-trigger' }, 'Trigger'), view.trigger) : null),
      view.list,
      view.pager.el)));

  // Open rows end with the page: their watches and terminals.
  onAbort(ctx.signal, () => {
    for (const entry of view.rows.values()) closeDetail(entry);
    view.rows.clear();
  });
  load(view);
}

function applyFilters(view) {
  view.cancelFilter();
  const next = {
    script: view.script.value.trim(), status: view.status.value, trigger: view.trigger ? view.trigger.value : '',
  };
  const changed = FILTERS.some((name) => view.state[name] !== next[name]);
  Object.assign(view.state, next);
  if (!changed) return;
  // Keep the filters in the address: reloads and shared links show the same list.
  const url = new URL(window.location.href);
  for (const name of FILTERS) {
    if (next[name]) url.searchParams.set(name, next[name]);
    else url.searchParams.delete(name);
  }
  url.searchParams.delete('highlight_task'); // shown once already
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  go(view, 0);
}

function go(view, pageNumber) {
  view.state.page = Math.max(0, pageNumber);
  view.open.clear();
  load(view);
}

async function load(view) {
  if (view.signal.aborted) return;
  if (view.inflight) view.inflight.abort();
  const controller = scope(view.signal);
  view.inflight = controller;
  const { state } = view;
  const query = new URLSearchParams({ page: String(state.page), page_size: String(PAGE_SIZE) });
  for (const name of FILTERS) {
    if (state[name]) query.set(name, state[name]);
  }
  view.list.setAttribute('aria-busy', 'true');
  let data;
  let pinned = null;
  try {
    data = await api.get(`/api/history?${query}`, { signal: controller.signal });
    const wanted = view.highlight;
    if (wanted && !data.tasks.some((t) => t.id === wanted)) {
      // Not on this page (newer tasks came first, or a filter): show it on top.
      pinned = await api.get(`/api/history/${encodeURIComponent(wanted)}`, { signal: controller.signal })
        .then((r) => r.task)
        .catch((err) => {
          if (controller.signal.aborted) throw err;
          showError(err, 'The task to show');
          view.highlight = null;
          return null;
        });
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    view.list.removeAttribute('aria-busy');
    view.list.replaceChildren(loadError(`The task history could not be loaded: ${err.message}`, () => load(view)));
    showError(err, 'History');
    return;
  } finally {
    if (view.inflight === controller) view.inflight = null;
    controller.abort(); // done: let go of the page's signal
  }
  view.list.removeAttribute('aria-busy');
  const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
  if (state.page >= pages && data.total > 0) {
    go(view, pages - 1); // the list shrank under us
    return;
  }
  render(view, data.tasks, pinned);
  view.pager.show({ text: `${data.total} ${data.total === 1 ? 'task' : 'tasks'}`, page: state.page, pages });
}

function render(view, tasks, pinned) {
  for (const entry of view.rows.values()) closeDetail(entry);
  view.rows.clear();
  const all = pinned ? [pinned, ...tasks] : tasks;
  if (!all.length) {
    const filtered = FILTERS.some((name) => view.state[name]);
    view.list.replaceChildren(h('p', { class: 'table-note' }, filtered
      ? 'No task matches these filters.'
      : view.admin ? 'No task has run yet. Run one on the Scripts page.' : 'You have not run a quick action yet.'));
    schedulePoll(view);
    return;
  }
  const body = h('tbody');
  for (const task of all) {
    const entry = { task, row: null, detail: null, pinned: task === pinned };
    entry.row = taskRow(view, entry);
    view.rows.set(task.id, entry);
    body.append(entry.row);
  }
  view.list.replaceChildren(h('table', { class: 'table table-cards tasks-table' },
    h('caption', { class: 'visually-hidden' }, 'Tasks, newest first'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Script'),
      h('th', { scope: 'col' }, 'Started'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Duration'),
      h('th', { scope: 'col' }, h('abbr', { title: 'Peak memory (RSS) and CPU time of the whole process group' }, 'Cost')),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    body));

  for (const id of [...view.open]) {
    if (view.rows.has(id)) openDetail(view, view.rows.get(id));
    else view.open.delete(id);
  }
  const wanted = view.highlight && view.rows.get(view.highlight);
  if (wanted) {
    view.highlight = null; // once: Refresh and paging do not jump back to it
    wanted.row.classList.add('is-highlighted');
    if (!wanted.detail) openDetail(view, wanted);
    wanted.row.scrollIntoView({ block: 'start', behavior: 'auto' });
  }
  schedulePoll(view);
}

function taskRow(view, entry) {
  const { task } = entry;
  const toggle = h('button', {
    type: 'button', class: 'btn btn-sm task-toggle', 'aria-expanded': false,
    'aria-controls': `task-detail-${task.id}`, 'aria-label': `Output of ${task.script}`,
    onClick: () => (entry.detail ? collapse(view, entry) : openDetail(view, entry)),
  }, icon('chevron', 'task-toggle-icon'), h('span', { class: 'task-toggle-label' }, 'Output'));
  entry.toggle = toggle;
  const row = h('tr', {
    class: ['task-row', entry.pinned ? 'task-row-pinned' : null],
    dataset: { taskId: task.id, status: task.status, trigger: task.trigger },
  });
  fillRow(view, entry, row);
  return row;
}

// The cells of a row, again whenever the summary changes (a task ended).
function fillRow(view, entry, row = entry.row) {
  const { task } = entry;
  row.dataset.status = task.status;
  const who = startedByText(task);
  const actions = h('div', { class: 'task-actions' }, entry.toggle);
  if (task.status === 'running' && (view.admin || task.started_by === (getUser() || {}).username)) {
    actions.append(h('button', {
      type: 'button', class: 'icon-button icon-button-danger', 'aria-label': `Cancel this run of ${taskName(task)}`,
      title: entry.cancelling ? 'Cancelling…' : 'Cancel run', disabled: Boolean(entry.cancelling),
      dataset: { action: 'cancel' }, onClick: () => cancel(view, entry),
    }, icon('close')));
  }
  if (view.admin || task.quick_action_id != null) {
    actions.append(h('button', {
      type: 'button', class: 'icon-button', 'aria-label': `Run ${task.script} again`, title: 'Run again',
      dataset: { action: 'rerun' }, onClick: (event) => rerun(view, entry, event.currentTarget),
    }, icon('refresh')));
  }
  if (view.admin && task.status !== 'running') {
    actions.append(h('button', {
      type: 'button', class: 'icon-button icon-button-danger', 'aria-label': `Delete this run of ${task.script}`,
      title: 'Delete', dataset: { action: 'delete' }, onClick: () => remove(view, entry),
    }, icon('trash')));
  }
  entry.duration = h('span', { class: 'nowrap' }, formatElapsed(taskElapsed(task)));
  row.replaceChildren(
    h('td', { class: 'cell-primary' },
      h('div', { class: 'script-cell' },
        h('span', { class: 'script-name', dataset: { taskName: '' } },
          task.quick_action_name ? h('span', null, task.quick_action_name) : h('code', { class: 'mono-soft' }, task.script),
          entry.pinned ? h('span', { class: 'badge badge-sm badge-primary' }, 'Linked') : null),
        // Admins also see which file a quick action ran.
        task.quick_action_name && view.admin
          ? h('span', { class: 'script-description' }, h('code', { class: 'mono-soft', dataset: { scriptFile: '' } }, task.script))
          : null,
        who ? h('span', { class: 'script-description' }, who) : null)),
    h('td', { dataset: { label: 'Started' } },
      h('time', { class: 'time-cell', datetime: isoTime(task.started_at) },
        h('span', null, formatDateTime(task.started_at)),
        h('span', { class: 'time-ago' }, formatAgo(task.started_at)))),
    h('td', { dataset: { label: 'Status' } },
      h('span', { class: 'result-cell' }, statusBadge(task.status),
        task.exit_text || task.reason
          ? h('span', { class: 'result-reason', dataset: { exitText: '' } }, task.exit_text || task.reason) : null)),
    h('td', { dataset: { label: 'Duration' } }, entry.duration),
    h('td', { dataset: { label: 'Peak memory · CPU' } },
      h('span', { class: 'cost-cell' },
        h('span', { title: 'Peak memory (RSS)', dataset: { metric: 'peak-rss' } }, formatRss(task.peak_rss)),
        task.cpu_seconds == null ? null
          : h('span', { class: 'time-ago', title: 'CPU time', dataset: { metric: 'cpu' } }, `${formatCpu(task.cpu_seconds)} CPU`))),
    h('td', { class: 'cell-actions' }, actions));
}

function openDetail(view, entry) {
  const { task } = entry;
  view.open.add(task.id);
  const term = terminal({ label: `Output of ${taskName(task)}`, size: 'md' });
  const notice = h('p', { class: 'notice notice-warning task-truncated', hidden: true },
    icon('info', 'notice-icon'), h('span'));
  const liveNote = h('span', { class: 'task-live' });
  const facts = h('dl', { class: 'kv kv-compact task-facts' });
  const views = h('div', { class: 'segmented task-views', role: 'group', 'aria-label': 'Part of the output', hidden: true });
  const download = h('a', {
    class: 'btn btn-sm', href: `/api/history/${encodeURIComponent(task.id)}/output`, download: '',
    dataset: { action: 'download' },
  }, icon('download'), h('span', null, 'Download'));
  const panel = h('div', { class: 'task-detail-body', id: `task-detail-${task.id}` },
    h('div', { class: 'task-detail-head' }, facts, liveNote),
    notice,
    h('div', { class: 'task-output-bar' }, views, download),
    term.el);
  const detail = h('tr', { class: 'task-detail', dataset: { taskId: task.id } },
    h('td', { colspan: '6' }, panel));
  // The row's own lifetime: collapsing it (or leaving the page) ends its
  // live watch and badge.
  entry.detail = {
    row: detail, term, notice, facts, liveNote, views, life: scope(view.signal), live: false, seq: 0,
    size: null, sizeEl: null, output: null, view: 'end',
  };
  entry.row.after(detail);
  entry.row.classList.add('is-open');
  entry.toggle.setAttribute('aria-expanded', 'true');
  showFacts(entry);
  if (task.status === 'running') followLive(view, entry);
  else loadOutput(view, entry);
}

function collapse(view, entry) {
  view.open.delete(entry.task.id);
  closeDetail(entry);
}

function closeDetail(entry) {
  if (!entry.detail) return;
  const { detail } = entry;
  entry.detail = null;
  detail.seq += 1;
  detail.life.abort();
  detail.term.dispose();
  detail.row.remove();
  entry.row.classList.remove('is-open');
  entry.toggle.setAttribute('aria-expanded', 'false');
}

function showFacts(entry) {
  const { task, detail } = entry;
  const pairs = [
    ['Task', h('code', { class: 'mono-soft' }, task.id)],
    task.trigger === 'schedule'
      ? ['Schedule', h('span', { dataset: { scheduleName: '' } }, task.schedule_name || task.started_by || '—')]
      : ['Started by', `${task.started_by || '—'} (${TRIGGERS[task.trigger] || task.trigger})`],
    ['Finished', task.finished_at != null ? formatDateTime(task.finished_at) : 'Still running'],
    ['Output', outputSize(entry)],
  ];
  if (task.quick_action_name) pairs.unshift(['Quick action', task.quick_action_name]);
  if (task.quick_action_name && entry.detail && isAdmin()) pairs.splice(1, 0, ['Script', h('code', { class: 'mono-soft' }, task.script)]);
  const args = task.arguments && typeof task.arguments === 'object' ? Object.entries(task.arguments) : [];
  if (args.length) {
    // As the server stored them: passwords are already "••••".
    pairs.push(['Arguments', h('dl', { class: 'task-args', dataset: { arguments: '' } },
      args.flatMap(([name, value]) => [
        h('dt', null, h('code', { class: 'mono-soft' }, name)),
        h('dd', null, displayValue(value))]))]);
  }
  detail.facts.replaceChildren(...pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  if (task.output_truncated) {
    detail.notice.hidden = false;
    detail.notice.lastChild.textContent = 'Output truncated: the stored output keeps its beginning and its end;'
      + ' the marker line between them says how much was left out. Beginning and End show each side; Download saves it.';
  }
}

async function loadOutput(view, entry) {
  const { detail } = entry;
  const seq = ++detail.seq;
  let data;
  try {
    data = await api.get(`/api/history/${encodeURIComponent(entry.task.id)}`, { signal: view.signal });
  } catch (err) {
    if (view.signal.aborted || entry.detail !== detail || seq !== detail.seq) return;
    detail.term.writeStderr(`The output could not be loaded: ${err.message}\n`);
    showError(err, 'Task output');
    return;
  }
  if (entry.detail !== detail || seq !== detail.seq) return;
  updateTask(view, entry, data.task);
  if (data.task.status === 'running') {
    // It was still running after all (the list was older than that).
    followLive(view, entry);
    return;
  }
  showStored(entry, data.task.output || '');
}

// A finished task's stored output: whole when the terminal keeps it all,
// else in two views (its beginning, its end), the end first.
function showStored(entry, output) {
  const { detail } = entry;
  const lines = output.split('\n');
  detail.output = output;
  if (lines.length <= VIEW_LINES) {
    detail.views.hidden = true;
    detail.term.clear();
    detail.term.write(output || DIM('(no output)'));
    return;
  }
  const button = (name, label) => h('button', {
    type: 'button', class: 'segment', 'aria-pressed': String(detail.view === name), dataset: { view: name },
    onClick: () => {
      detail.view = name;
      for (const b of detail.views.children) b.setAttribute('aria-pressed', String(b.dataset.view === name));
      renderView(entry);
    },
  }, label);
  detail.views.replaceChildren(button('start', 'Beginning'), button('end', 'End'));
  detail.views.hidden = false;
  renderView(entry);
}

// One view of a long output. The marker of a truncated output is kept in
// both, with a dim line for the lines between it and what is shown.
function renderView(entry) {
  const { detail } = entry;
  const text = detail.output;
  const cut = OMITTED.exec(text);
  const head = cut ? text.slice(0, cut.index) : text;
  const marker = cut ? cut[0].slice(1, -1) : null;
  const tail = cut ? text.slice(cut.index + cut[0].length) : '';
  const more = (n, where) => DIM(`… ${n.toLocaleString()} more lines ${where}: Download has them all …`);
  const parts = [];
  if (detail.view === 'start') {
    const lines = head.split('\n');
    parts.push(lines.slice(0, VIEW_LINES).join('\n'));
    if (lines.length > VIEW_LINES) parts.push(more(lines.length - VIEW_LINES, marker ? 'up to the omitted part' : 'after these'));
    if (marker) parts.push(marker, DIM('(the End view shows what follows)'));
  } else {
    const lines = (cut ? tail : text).split('\n');
    if (marker) parts.push(DIM('(the Beginning view shows what came before)'), marker);
    if (lines.length > VIEW_LINES) parts.push(more(lines.length - VIEW_LINES, marker ? 'after the omitted part' : 'before these'));
    parts.push(lines.slice(-VIEW_LINES).join('\n'));
  }
  detail.term.clear();
  detail.term.write(parts.join('\n'));
}

// The output's size: a running task's grows with what arrives.
function outputSize(entry) {
  const { task, detail } = entry;
  const bytes = detail && detail.size != null ? detail.size : task.output_bytes;
  const el = h('span', { dataset: { outputSize: '' } }, bytes != null ? formatBytes(bytes) : '—');
  if (detail) detail.sizeEl = el;
  return el;
}

function countOutput(detail, bytes) {
  if (detail.size == null) return;
  let n = bytes.length;
  const skipped = Math.min(detail.skip, n);
  detail.skip -= skipped;
  n -= skipped;
  if (!n) return;
  detail.size += n;
  if (detail.sizeEl) detail.sizeEl.textContent = formatBytes(detail.size);
}

function followLive(view, entry) {
  const { detail } = entry;
  const id = entry.task.id;
  // "Live", or "Reconnecting…" while the socket is down.
  const { signal } = detail.life;
  const badge = liveStatus({ signal });
  detail.liveNote.replaceChildren(badge.el);
  detail.live = true;
  watchTask(id, {
    onStart: (m) => {
      if (m.replay) detail.term.clear();
      // Bytes so far, and how much of what follows is their replay: the
      // size counts on from there.
      detail.size = Number(m.output_bytes) || 0;
      detail.skip = Number(m.replay_bytes) || 0;
      if (detail.sizeEl) detail.sizeEl.textContent = formatBytes(detail.size);
    },
    onOutput: (stream, bytes) => {
      countOutput(detail, bytes);
      if (stream === 'stderr') detail.term.writeStderr(bytes);
      else detail.term.write(bytes);
    },
    onCancelled: () => {
      entry.cancelling = true;
      fillRow(view, entry);
    },
    onExit: (m) => {
      entry.cancelling = false;
      badge.stop();
      detail.liveNote.replaceChildren();
      updateTask(view, entry, {
        ...entry.task,
        status: m.status,
        exit_code: m.code ?? null,
        exit_signal: m.signal ?? null,
        exit_text: m.exit_text ?? null,
        finished_at: m.finished_at ?? Date.now() / 1000,
      });
      refreshSummary(view, entry);
    },
    onError: (text) => {
      if (entry.cancelling) {
        entry.cancelling = false;
        fillRow(view, entry);
      }
      showToast(`${taskName(entry.task)}: ${text}`, 'error');
    },
  }, { signal });
}

// Cancel from the list: the row opens to follow the run live, so the
// answer (`cancelled`, then `exit`, or an error) arrives where it is seen.
function cancel(view, entry) {
  if (!entry.detail) {
    view.open.add(entry.task.id);
    openDetail(view, entry);
  }
  entry.cancelling = true;
  fillRow(view, entry);
  cancelTask(entry.task.id);
}

/** What a run is called: its quick action's name when it has one, else the file. */
export function taskName(task) {
  return task.quick_action_name || task.script;
}

// The full summary (peak memory, CPU, output size) once a task has ended.
async function refreshSummary(view, entry) {
  try {
    const data = await api.get(`/api/history/${encodeURIComponent(entry.task.id)}`, { signal: view.signal });
    if (view.rows.get(entry.task.id) !== entry) return;
    updateTask(view, entry, data.task);
    // A long run watched live: the terminal kept only its end; now the
    // stored output can be shown in its two views.
    const output = data.task.output || '';
    if (entry.detail && entry.detail.live && data.task.status !== 'running'
      && (data.task.output_truncated || output.split('\n').length > VIEW_LINES)) showStored(entry, output);
  } catch (err) {
    if (!view.signal.aborted) console.warn('Refreshing a task summary failed', err);
  }
}

function updateTask(view, entry, task) {
  const { output, ...summary } = task;
  entry.task = { ...entry.task, ...summary };
  if (entry.detail && summary.status !== 'running') entry.detail.size = null; // the stored size from now on
  fillRow(view, entry);
  if (entry.detail) showFacts(entry);
  schedulePoll(view);
}

// Rows of running tasks that are not open learn that they ended from
// /api/tasks/running; the durations of running rows tick meanwhile.
function schedulePoll(view) {
  view.cancelPoll();
  const running = [...view.rows.values()].filter((e) => e.task.status === 'running');
  if (!running.length) return;
  view.cancelPoll = later(view.signal, RUNNING_POLL_MS, () => pollRunning(view));
  for (const entry of running) entry.duration.textContent = formatElapsed(taskElapsed(entry.task));
}

async function pollRunning(view) {
  let data;
  try {
    data = await api.get('/api/tasks/running', { signal: view.signal });
  } catch (err) {
    if (view.signal.aborted) return;
    schedulePoll(view);
    return;
  }
  if (view.signal.aborted) return;
  const still = new Set((data.tasks || []).map((t) => t.id));
  const ended = [...view.rows.values()].filter((e) => e.task.status === 'running' && !still.has(e.task.id)
    && !(e.detail && e.detail.live));
  await Promise.all(ended.map((entry) => refreshSummary(view, entry)));
  schedulePoll(view);
}

// A quick action with arguments or a confirmation opens its dialog again
// (pre-filled with this run's values, passwords empty); anything else
// runs at once. The server runs it as whoever asks, with their grant.
async function rerun(view, entry, button) {
  const { task } = entry;
  const post = (body) => api.post(`/api/history/${encodeURIComponent(task.id)}/rerun`, body, { signal: view.signal });
  button.disabled = true;
  let data;
  try {
    const action = await rerunAction(view, task);
    if (action && needsDialog(action)) {
      data = await runActionDialog(action, {
        post, values: task.arguments || {}, title: `Run ${action.name} again`, submitLabel: 'Run again',
      });
    } else {
      data = await post({}).catch((err) => {
        // The action asks for confirmation (or changed since): ask.
        if (err.status !== 409 || !err.data || typeof err.data.confirm !== 'string') throw err;
        return runActionDialog({ name: task.script, ...action, confirm: err.data.confirm }, {
          post, title: `Run ${task.script} again`, submitLabel: 'Run again',
        });
      });
    }
  } catch (err) {
    showError(err, `${task.script} did not start`);
    return;
  } finally {
    button.disabled = false;
  }
  if (!data || !data.task_id) return;
  showToast(`${task.script} started again.`, 'success');
  // A new address: the page shows the new task on top, open and live.
  view.ctx.navigate(`/history?highlight_task=${encodeURIComponent(data.task_id)}`);
}

// The quick action a task ran (for its form), or null: a script run, or an
// action deleted since (or no longer granted), which the server judges.
async function rerunAction(view, task) {
  if (task.quick_action_id == null) return null;
  try {
    const data = await api.get(`/api/quick-actions/${encodeURIComponent(task.quick_action_id)}`, { signal: view.signal });
    return data && data.quick_action ? data.quick_action : data;
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    return null;
  }
}

async function remove(view, entry) {
  const { task } = entry;
  const ok = await confirmDialog(
    `The run of ${task.script} started ${formatDateTime(task.started_at)} and its output are deleted for good.`,
    { title: 'Delete this task?', confirmLabel: 'Delete', danger: true });
  if (!ok || view.signal.aborted) return;
  try {
    await api.del(`/api/history/${encodeURIComponent(task.id)}`, { signal: view.signal });
  } catch (err) {
    showError(err, 'Deleting the task failed');
    return;
  }
  showToast(`Deleted the run of ${task.script}.`, 'success');
  view.open.delete(task.id);
  load(view);
}
