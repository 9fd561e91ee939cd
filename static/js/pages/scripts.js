// Scripts (admin): the files in the scripts directory with a Run button each,
// and the runs of this visit as tabs, each a live terminal with its status,
// duration, how it ended (the server's exit_text) and a Cancel button. Tasks still running when the
// page opens (started here before, or elsewhere) open as tabs too.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { api } from '../api.js';
import { liveStatus } from '../ui/live-status.js';
import { showError, showToast } from '../ui/toast.js';
import { formatAgo, formatBytes, formatDateTime, isoTime } from '../ui/format.js';
import { page, pageHeader } from '../ui/page.js';
import { terminal } from '../ui/terminal.js';
import { formatElapsed, historyHref, statusBadge, taskElapsed } from '../ui/task-status.js';
import { cancelTask, runScript, watchTask } from '../tasks.js';
import { loadError } from '../ui/load-error.js';
import { every, later, onAbort } from '../lifetime.js';

const SEARCH_DELAY_MS = 150;

export function mount(root, ctx) {
  const view = {
    signal: ctx.signal,
    scripts: [],
    dir: '',
    runs: new Map(), // task_id → run
    active: null,
    stopTicker: null,
    cancelSearch: () => {},
  };

  view.search = h('input', {
    id: 'script-search', type: 'search', class: 'input', placeholder: 'Name or description',
    autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
    onInput: () => {
      view.cancelSearch();
      view.cancelSearch = later(view.signal, SEARCH_DELAY_MS, () => renderList(view));
    },
  });
  view.count = h('span', { class: 'card-count' });
  view.dirNote = h('p', { class: 'card-lead' }, 'Loading the scripts directory…');
  view.list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading scripts…'));
  view.tabs = h('div', { class: 'run-tabs', role: 'tablist', 'aria-label': 'Runs' });
  view.panels = h('div', { class: 'run-panels' });
  // The socket is only open while something is watched: the badge shows
  // with the runs, not before.
  const live = liveStatus({ signal: ctx.signal });
  view.runsCard = h('section', { class: 'card card-flush runs', 'aria-labelledby': 'runs-title', hidden: true },
    h('div', { class: 'card-head runs-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'runs-title' }, icon('scripts'), 'Runs'),
        h('p', { class: 'card-lead' }, 'Output streams live. Leaving the page does not stop a script; its History entry keeps the output.')),
      live.el),
    view.tabs, view.panels);

  root.append(page(
    pageHeader('Scripts', 'Run the scripts in the scripts directory and follow their output live.'),
    view.runsCard,
    h('section', { class: 'card card-flush', 'aria-labelledby': 'scripts-title' },
      h('div', { class: 'card-head' },
        h('div', { class: 'card-head-text' },
          h('h2', { class: 'card-title', id: 'scripts-title' }, icon('list'), 'Scripts', view.count),
          view.dirNote),
        h('button', { type: 'button', class: 'btn btn-sm', onClick: () => loadScripts(view) },
          icon('refresh'), h('span', null, 'Reload'))),
      h('div', { class: 'filters filters-single', role: 'search', 'aria-label': 'Search scripts' },
        h('div', { class: 'field' }, h('label', { for: 'script-search' }, 'Search'), view.search)),
      view.list)));

  // Watches end with the page (they hang on ctx.signal); terminals go too.
  onAbort(ctx.signal, () => {
    for (const run of view.runs.values()) run.term.dispose();
    view.runs.clear();
  });
  loadScripts(view);
  openRunning(view);
}

async function loadScripts(view) {
  view.list.setAttribute('aria-busy', 'true');
  let data;
  try {
    data = await api.get('/api/scripts', { signal: view.signal });
  } catch (err) {
    if (view.signal.aborted) return;
    view.list.removeAttribute('aria-busy');
    view.list.replaceChildren(loadError(`The scripts could not be listed: ${err.message}`, () => loadScripts(view)));
    showError(err, 'Scripts');
    return;
  }
  if (view.signal.aborted) return;
  view.list.removeAttribute('aria-busy');
  view.scripts = Array.isArray(data.scripts) ? data.scripts : [];
  view.dir = data.scripts_dir || '';
  view.dirNote.replaceChildren('Files in ', h('code', { class: 'mono-soft', dataset: { scriptsDir: '' } }, view.dir),
    '. Executable files with a #! line run directly, others with /bin/sh.');
  renderList(view);
}

function renderList(view) {
  const query = view.search.value.trim().toLowerCase();
  const shown = view.scripts.filter((s) => !query
    || s.name.toLowerCase().includes(query) || String(s.description || '').toLowerCase().includes(query));
  view.count.textContent = String(view.scripts.length);
  if (!view.scripts.length) {
    view.list.replaceChildren(h('p', { class: 'table-note' },
      'No scripts yet. Put a shell script in the scripts directory, then reload.'));
    return;
  }
  if (!shown.length) {
    view.list.replaceChildren(h('p', { class: 'table-note' }, 'No script matches this search.'));
    return;
  }
  view.list.replaceChildren(h('table', { class: 'table table-cards scripts-table' },
    h('caption', { class: 'visually-hidden' }, 'Scripts'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Script'),
      h('th', { scope: 'col' }, 'Size'),
      h('th', { scope: 'col' }, 'Modified'),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', null, shown.map((s) => scriptRow(view, s)))));
}

function scriptRow(view, script) {
  const runButton = h('button', {
    type: 'button', class: 'btn btn-primary btn-sm', 'aria-label': `Run ${script.name}`,
    onClick: () => startRun(view, script, runButton),
  }, icon('play'), h('span', null, 'Run'));
  return h('tr', { dataset: { script: script.name } },
    h('td', { class: 'cell-primary' },
      h('div', { class: 'script-cell' },
        h('span', { class: 'script-name' },
          h('code', { class: 'mono-soft' }, script.name),
          script.executable ? null
            : h('span', { class: 'badge badge-sm badge-neutral', title: 'Not executable: runs as /bin/sh FILE' }, 'sh'),
          script.single_instance
            ? h('span', { class: 'badge badge-sm badge-primary', title: 'A second run is refused while one is running' }, 'Single instance')
            : null),
        script.description ? h('span', { class: 'script-description' }, script.description) : null)),
    h('td', { dataset: { label: 'Size' } }, h('span', { class: 'nowrap' }, formatBytes(script.size))),
    h('td', { dataset: { label: 'Modified' } },
      script.modified != null
        ? h('time', { datetime: isoTime(script.modified), title: formatDateTime(script.modified) }, formatAgo(script.modified))
        : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'cell-actions' }, runButton));
}

async function startRun(view, script, button) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  const run = newRun(view, { script: script.name });
  try {
    const { taskId, stop } = await runScript(script.name, run.handlers, { signal: view.signal });
    if (view.signal.aborted) {
      stop();
      run.term.dispose();
      return;
    }
    if (view.runs.has(taskId)) {
      // The list of running tasks, fetched meanwhile, opened it already.
      stop();
      run.term.dispose();
      selectRun(view, taskId, { scroll: true });
      return;
    }
    run.stop = stop;
    addRun(view, run, taskId);
    selectRun(view, taskId, { scroll: true });
  } catch (err) {
    run.term.dispose();
    if (!view.signal.aborted) showToast(`${script.name} did not start: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// The tasks that run now: each opens as a tab (the server replays its output).
async function openRunning(view) {
  let data;
  try {
    data = await api.get('/api/tasks/running', { signal: view.signal });
  } catch (err) {
    if (!view.signal.aborted) showError(err, 'Running tasks');
    return;
  }
  if (view.signal.aborted) return;
  const tasks = (data.tasks || []).slice().sort((a, b) => a.started_at - b.started_at);
  for (const task of tasks) {
    if (view.runs.has(task.id)) continue;
    const run = newRun(view, task);
    addRun(view, run, task.id);
    run.stop = watchTask(task.id, run.handlers, { signal: view.signal });
  }
  if (!view.active && view.runs.size) selectRun(view, [...view.runs.keys()][0]);
}

function newRun(view, { script, started_at: startedAt = null }) {
  const run = {
    taskId: null,
    script,
    status: 'running',
    startedAt: startedAt ?? Date.now() / 1000,
    finishedAt: null,
    exitText: null,
    cancelling: false,
    stop: null,
    term: terminal({ label: `Output of ${script}`, size: 'lg' }),
  };
  run.handlers = {
    onStart: (m) => {
      if (m.replay) run.term.clear();
      if (m.started_at != null) run.startedAt = Number(m.started_at);
      if (m.script) run.script = m.script;
      updateRun(view, run);
    },
    onOutput: (stream, bytes) => {
      if (stream === 'stderr') run.term.writeStderr(bytes);
      else run.term.write(bytes);
    },
    onCancelled: () => {
      run.cancelling = true;
      updateRun(view, run);
    },
    onExit: (m) => {
      run.status = m.status || (m.code === 0 ? 'success' : 'failed');
      run.exitText = m.exit_text || null;
      run.finishedAt = m.finished_at != null ? Number(m.finished_at) : Date.now() / 1000;
      run.cancelling = false;
      updateRun(view, run);
    },
    onError: (text) => {
      if (run.cancelling) run.cancelling = false;
      updateRun(view, run);
      showToast(`${run.script}: ${text}`, 'error');
    },
  };
  return run;
}

function addRun(view, run, taskId) {
  run.taskId = taskId;
  const tabId = `run-tab-${taskId}`;
  const panelId = `run-panel-${taskId}`;
  run.dot = h('span', { class: 'run-tab-dot', 'aria-hidden': 'true' });
  run.tabButton = h('button', {
    type: 'button', class: 'run-tab-button', role: 'tab', id: tabId, 'aria-controls': panelId,
    'aria-selected': false, tabindex: '-1',
    onClick: () => selectRun(view, taskId),
    onKeydown: (event) => tabKeys(view, event, taskId),
  }, run.dot, h('span', { class: 'run-tab-name' }, run.script));
  run.closeTab = h('button', {
    type: 'button', class: 'run-tab-close', 'aria-label': `Close the tab of ${run.script}`, hidden: true,
    onClick: () => closeRun(view, taskId),
  }, icon('close'));
  run.tab = h('div', { class: 'run-tab', role: 'presentation', dataset: { taskId } }, run.tabButton, run.closeTab);

  run.badge = h('span', { class: 'run-status' });
  run.duration = h('span', { class: 'run-duration', dataset: { duration: '' } });
  run.exit = h('span', { class: 'run-exit', dataset: { exitText: '' } });
  run.cancel = h('button', {
    type: 'button', class: 'btn btn-sm btn-danger-outline', onClick: () => cancelRun(view, run),
  }, icon('close'), h('span', null, 'Cancel'));
  run.closeButton = h('button', {
    type: 'button', class: 'btn btn-sm', hidden: true, onClick: () => closeRun(view, taskId),
  }, h('span', null, 'Close'));
  run.panel = h('section', {
    class: 'run-panel', role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, hidden: true,
    dataset: { taskId, status: run.status },
  },
  h('div', { class: 'run-head' },
    h('div', { class: 'run-facts' },
      h('h3', { class: 'run-title' }, h('code', null, run.script)),
      run.badge, run.duration, run.exit),
    h('div', { class: 'run-actions' },
      h('a', { class: 'btn btn-sm', href: historyHref(taskId) }, icon('history'), h('span', null, 'History entry')),
      run.cancel, run.closeButton)),
  run.term.el);

  view.runs.set(taskId, run);
  view.tabs.append(run.tab);
  view.panels.append(run.panel);
  view.runsCard.hidden = false;
  updateRun(view, run);
  startTicker(view);
}

function updateRun(view, run) {
  if (!run.panel) return;
  const running = run.status === 'running';
  run.panel.dataset.status = run.status;
  run.tab.dataset.status = run.status;
  run.badge.replaceChildren(statusBadge(run.status, { cancelling: run.cancelling }));
  run.dot.className = `run-tab-dot run-tab-dot-${run.status}`;
  run.tabButton.title = `${run.script}: ${running ? (run.cancelling ? 'cancelling' : 'running') : run.status.replace('_', ' ')}`;
  run.exit.textContent = run.exitText || '';
  run.exit.hidden = !run.exitText;
  run.cancel.hidden = !running;
  run.cancel.disabled = run.cancelling;
  run.cancel.lastChild.textContent = run.cancelling ? 'Cancelling…' : 'Cancel';
  run.closeButton.hidden = running;
  run.closeTab.hidden = running;
  showDuration(run);
}

function showDuration(run) {
  const elapsed = taskElapsed({ started_at: run.startedAt, finished_at: run.finishedAt });
  run.duration.textContent = formatElapsed(elapsed);
  run.duration.title = run.finishedAt == null ? 'Running for' : 'Ran for';
}

function startTicker(view) {
  if (view.stopTicker) return;
  view.stopTicker = every(view.signal, 1000, () => {
    let running = 0;
    for (const run of view.runs.values()) {
      if (run.status !== 'running') continue;
      running += 1;
      showDuration(run);
    }
    if (!running) {
      view.stopTicker();
      view.stopTicker = null;
    }
  });
}

function cancelRun(view, run) {
  run.cancelling = true;
  updateRun(view, run);
  cancelTask(run.taskId);
}

function selectRun(view, taskId, { scroll = false, focus = false } = {}) {
  view.active = taskId;
  for (const [id, run] of view.runs) {
    const on = id === taskId;
    run.tabButton.setAttribute('aria-selected', String(on));
    run.tabButton.tabIndex = on ? 0 : -1;
    run.tab.classList.toggle('is-active', on);
    run.panel.hidden = !on;
  }
  const run = view.runs.get(taskId);
  if (!run) return;
  if (focus) run.tabButton.focus();
  if (scroll) {
    run.tab.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    view.runsCard.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
}

function closeRun(view, taskId) {
  const run = view.runs.get(taskId);
  if (!run) return;
  const ids = [...view.runs.keys()];
  const index = ids.indexOf(taskId);
  if (run.stop) run.stop();
  run.term.dispose();
  run.tab.remove();
  run.panel.remove();
  view.runs.delete(taskId);
  if (!view.runs.size) {
    view.active = null;
    view.runsCard.hidden = true;
    return;
  }
  if (view.active === taskId) {
    const next = ids[index + 1] || ids[index - 1];
    selectRun(view, next, { focus: true });
  }
}

// Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern).
function tabKeys(view, event, taskId) {
  const ids = [...view.runs.keys()];
  const i = ids.indexOf(taskId);
  let next = null;
  if (event.key === 'ArrowRight') next = ids[(i + 1) % ids.length];
  else if (event.key === 'ArrowLeft') next = ids[(i - 1 + ids.length) % ids.length];
  else if (event.key === 'Home') next = ids[0];
  else if (event.key === 'End') next = ids[ids.length - 1];
  else if (event.key === 'Delete' && view.runs.get(taskId).status !== 'running') {
    event.preventDefault();
    closeRun(view, taskId);
    return;
  }
  if (next == null) return;
  event.preventDefault();
  selectRun(view, next, { focus: true });
}
