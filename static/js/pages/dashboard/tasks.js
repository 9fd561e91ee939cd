// The dashboard's task cards: quick actions (one button per action an
// admin registered; any user may run them) and the most recent tasks
// (clients see only their own: the server filters /api/history).
import { h } from '../../ui/dom.js';
import { hasIcon, icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showError, showToast } from '../../ui/toast.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { historyHref, statusBadge } from '../../ui/task-status.js';
import { loadError } from '../../ui/load-error.js';
import { later } from '../../lifetime.js';
import { needsDialog, runActionDialog } from '../../ui/action-form.js';
import { openTaskDrawer } from '../../ui/task-drawer.js';

const RECENT_COUNT = 5;
// While a listed task runs, the card asks again this often to show how it
// ended; otherwise it only refreshes the "5 min ago" texts.
const RUNNING_POLL_MS = 2000;
const AGO_REFRESH_MS = 30000;

/** What a quick action shows as its picture: a known icon name draws that
 *  icon, anything else (an emoji) is shown as text, nothing a default. */
export function actionIcon(name, className = 'qa-icon') {
  const value = typeof name === 'string' ? name.trim() : '';
  if (!value) return h('span', { class: className, 'aria-hidden': 'true' }, icon('bolt'));
  if (hasIcon(value)) return h('span', { class: className, 'aria-hidden': 'true' }, icon(value));
  // An emoji is one or two code points (with a variation selector); a word
  // someone typed instead is shrunk to fit.
  const long = [...value].length > 2;
  return h('span', { class: [className, 'qa-icon-text', long ? 'qa-icon-word' : null], 'aria-hidden': 'true' }, value);
}

/** A dashboard task card's heading, with a link at its end. */
export function cardHead(id, iconName, title, link) {
  return h('div', { class: 'task-card-head' },
    h('h2', { class: 'card-title', id: `${id}-title` }, icon(iconName), title),
    link);
}

let counter = 0;

/**
 * {el, load()}: the quick actions card. `onStarted(taskId)` runs after an
 * action started (the recent tasks card reloads).
 */
export function quickActionsCard({ signal, admin, onStarted = () => {} }) {
  const body = h('div', { class: 'qa-body', 'aria-busy': 'true' },
    h('p', { class: 'task-card-note' }, 'Loading quick actions…'));
  const el = h('section', {
    class: 'card task-card qa-card', 'aria-labelledby': 'quick-actions-title', dataset: { card: 'quick-actions' },
  },
  cardHead('quick-actions', 'bolt', 'Quick actions',
    admin ? h('a', { class: 'task-card-link', href: '/settings/quick-actions' }, 'Manage') : null),
  body);

  async function load() {
    let data;
    try {
      data = await api.get('/api/quick-actions', { signal });
    } catch (err) {
      if (signal.aborted || err.handled) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`Quick actions could not be loaded: ${err.message}`, load));
      showError(err, 'Quick actions');
      return;
    }
    if (signal.aborted) return;
    body.removeAttribute('aria-busy');
    const actions = Array.isArray(data.quick_actions) ? data.quick_actions : [];
    if (!actions.length) {
      body.replaceChildren(emptyActions(admin));
      return;
    }
    body.replaceChildren(h('ul', { class: 'qa-grid' },
      actions.map((action) => h('li', null, actionButton(action, onStarted)))));
  }
  return { el, load };
}

function emptyActions(admin) {
  return h('div', { class: 'task-card-note qa-empty' },
    h('p', null, 'No quick actions yet.'),
    admin
      ? h('p', null, 'Turn a script into a one-click button in ',
        h('a', { href: '/settings/quick-actions' }, 'Settings → Quick actions'), '.')
      : h('p', { class: 'muted' }, 'An admin can add buttons here that run scripts for you.'));
}

function actionButton(action, onStarted) {
  counter += 1;
  const nameId = `qa-name-${counter}`;
  const descId = `qa-desc-${counter}`;
  const state = h('span', { class: 'qa-state', 'aria-hidden': 'true' });
  const button = h('button', {
    type: 'button', class: 'qa-button', title: action.description || action.name,
    'aria-labelledby': nameId, 'aria-describedby': action.description ? descId : null,
    'aria-haspopup': 'dialog',
    dataset: { quickAction: action.id },
    onClick: () => execute(action, button, state, onStarted),
  },
  actionIcon(action.icon),
  h('span', { class: 'qa-text' },
    h('span', { class: 'qa-name', id: nameId }, action.name),
    action.description ? h('span', { class: 'qa-desc', id: descId }, action.description) : null),
  state);
  return button;
}

// An action with arguments or a confirmation opens its dialog; one without
// runs at once. Either way its live output opens in a drawer.
async function execute(action, button, state, onStarted) {
  if (button.getAttribute('aria-busy') === 'true') return;
  // No page signal: once asked, the task starts even if the user leaves
  // the dashboard.
  const post = (body) => api.post(`/api/quick-actions/${encodeURIComponent(action.id)}/execute`, body);
  let result;
  if (needsDialog(action)) {
    result = await runActionDialog(action, { post });
  } else {
    button.setAttribute('aria-busy', 'true');
    button.disabled = true;
    state.replaceChildren(h('span', { class: 'spinner' }));
    try {
      result = await post({});
    } catch (err) {
      // Changed since the dashboard loaded (a confirmation or arguments
      // added): the dialog asks for what the server wants.
      if (err.status === 409 && err.data && typeof err.data.confirm === 'string') {
        result = await runActionDialog({ ...action, confirm: err.data.confirm }, { post });
      } else if (!err.handled) {
        showToast(`${action.name} could not start: ${err.message}`, 'error');
      }
    } finally {
      button.removeAttribute('aria-busy');
      button.disabled = false;
      state.replaceChildren();
    }
  }
  const taskId = result && result.task_id;
  if (!taskId) return;
  onStarted(taskId);
  openTaskDrawer({ taskId, title: action.name });
}

/** {el, load()}: the recent tasks card; it refreshes until `signal` aborts. */
export function recentTasksCard({ signal, admin }) {
  const list = h('ul', { class: 'task-list' });
  const body = h('div', { class: 'task-body', 'aria-busy': 'true' },
    h('p', { class: 'task-card-note' }, 'Loading tasks…'));
  const el = h('section', {
    class: 'card task-card recent-card', 'aria-labelledby': 'recent-tasks-title', dataset: { card: 'recent-tasks' },
  },
  cardHead('recent-tasks', 'history', 'Recent tasks',
    h('a', { class: 'task-card-link', href: '/history' }, admin ? 'All history' : 'All my tasks')),
  body);

  let cancel = () => {};
  let seq = 0;
  let shown = [];

  function schedule() {
    cancel();
    const running = shown.some((t) => t.status === 'running');
    cancel = running ? later(signal, RUNNING_POLL_MS, load) : later(signal, AGO_REFRESH_MS, refreshAgo);
  }

  function refreshAgo() {
    refreshStarted(list);
    schedule();
  }

  async function load() {
    const mine = ++seq;
    cancel();
    let data;
    try {
      data = await api.get(`/api/history?page_size=${RECENT_COUNT}`, { signal });
    } catch (err) {
      if (signal.aborted || err.handled || mine !== seq) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`Recent tasks could not be loaded: ${err.message}`, load));
      showError(err, 'Recent tasks');
      return;
    }
    if (signal.aborted || mine !== seq) return;
    body.removeAttribute('aria-busy');
    shown = (Array.isArray(data.tasks) ? data.tasks : []).slice(0, RECENT_COUNT);
    if (!shown.length) {
      body.replaceChildren(h('p', { class: 'task-card-note' }, admin
        ? 'No tasks yet. Run a script on the Scripts page or a quick action.'
        : 'No tasks yet. Tasks you start with a quick action show up here.'));
    } else {
      list.replaceChildren(...shown.map((task) => taskRow(task, admin)));
      if (body.firstChild !== list) body.replaceChildren(list);
    }
    schedule();
  }

  return { el, load };
}

/** Words every "5 min ago" of taskRow() inside `root` again. */
export function refreshStarted(root) {
  for (const time of root.querySelectorAll('time[data-started]')) {
    time.textContent = formatAgo(Number(time.dataset.started));
  }
}

/** A task as a line linking to its History entry (also the Schedules card's failures). */
export function taskRow(task, admin) {
  return h('li', { class: 'task-row', dataset: { taskId: task.id, status: task.status } },
    h('a', { class: 'task-link', href: historyHref(task.id) },
      h('span', { class: 'task-main' },
        // A quick action's run reads by the action's name; admins also see the file.
        h('span', { class: 'task-script' }, task.quick_action_name || task.script),
        statusBadge(task.status)),
      h('span', { class: 'task-meta' },
        h('time', {
          datetime: isoTime(task.started_at), title: formatDateTime(task.started_at), dataset: { started: task.started_at },
        }, formatAgo(task.started_at)),
        admin && task.quick_action_name ? h('code', { class: 'task-file mono-soft' }, task.script) : null,
        admin && task.started_by && task.trigger !== 'schedule' ? h('span', { class: 'task-by' }, `by ${task.started_by}`) : null,
        task.trigger === 'quick_action' ? h('span', { class: 'task-trigger' }, 'quick action') : null,
        task.trigger === 'schedule'
          ? h('span', { class: 'task-trigger' }, task.schedule_name ? `schedule ${task.schedule_name}` : 'schedule') : null),
      // Why a due time did not run ("Skipped — the previous run was still running").
      task.status === 'skipped' && task.exit_text ? h('span', { class: 'task-reason' }, task.exit_text) : null));
}
