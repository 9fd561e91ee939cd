// Schedules (admin): quick actions that run by themselves at the times of a
// cron expression. Each row says what it runs and when in words, its next
// run (how soon, and when on this browser's clock), how its last run ended
// (a link to that History entry) and has an enable switch, Run now, Edit
// and Delete; the editor is pages/schedules/editor.js. The server pushes a
// `schedules` message whenever a schedule changed, ran, was skipped or
// disabled itself: the list reloads, its rows updated in place so focus
// and hover stay where they are.
import { h, syncList } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { api } from '../api.js';
import { subscribe } from '../live.js';
import { confirmDialog } from '../ui/dialog.js';
import { liveStatus } from '../ui/live-status.js';
import { showError, showToast } from '../ui/toast.js';
import { formatAgo, formatDateTime, isoTime, rfc3339Seconds } from '../ui/format.js';
import { page, pageHeader } from '../ui/page.js';
import { historyHref, statusBadge } from '../ui/task-status.js';
import { loadError } from '../ui/load-error.js';
import { iconBusy, iconButton } from '../ui/buttons.js';
import { openTaskDrawer } from '../ui/task-drawer.js';
import { every, later, scope } from '../lifetime.js';
import { openScheduleEditor } from './schedules/editor.js';
import { dueTime, refreshTimes } from './schedules/time.js';

// Pushes come in bursts (a run starts, a skip is recorded): one reload each.
// The server pushes when a run ends too, so a running one needs no polling.
const RELOAD_DELAY_MS = 300;
const TICK_MS = 30_000;

export function mount(root, ctx) {
  const { signal } = ctx;
  const view = {
    signal,
    schedules: [],
    defaultTimezone: '',
    inflight: null,
    body: null,
    cancelReload: () => {},
  };
  view.count = h('span', { class: 'card-count' });
  view.lead = h('p', { class: 'card-lead' }, 'Each runs a quick action at the times its cron expression gives, in its own time zone.');
  view.list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading schedules…'));
  let down = false;
  const live = liveStatus({
    signal,
    onChange: (state) => {
      // Pushes missed while the socket was down: ask once it is back.
      if (state === 'connected' && down) reloadSoon(view);
      down = state === 'reconnecting';
    },
  });
  root.append(page(
    pageHeader('Schedules', 'Quick actions that run by themselves, at set times.', live.el),
    h('section', { class: 'card card-flush', 'aria-labelledby': 'schedules-title' },
      h('div', { class: 'card-head' },
        h('div', { class: 'card-head-text' },
          h('h2', { class: 'card-title', id: 'schedules-title' }, icon('schedules'), 'Schedules', view.count),
          view.lead),
        newButton(view)),
      view.list)));

  subscribe('schedules', () => reloadSoon(view), { signal });
  every(signal, TICK_MS, () => refreshTimes(view.list));
  load(view);
}

function newButton(view) {
  return h('button', { type: 'button', class: 'btn btn-primary', onClick: () => edit(view, null) },
    icon('plus'), h('span', null, 'New schedule'));
}

function reloadSoon(view) {
  view.cancelReload();
  view.cancelReload = later(view.signal, RELOAD_DELAY_MS, () => load(view));
}

async function load(view) {
  view.cancelReload();
  if (view.inflight) view.inflight.abort();
  const controller = scope(view.signal);
  view.inflight = controller;
  let data;
  try {
    data = await api.get('/api/schedules', { signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted || err.handled) return;
    view.list.removeAttribute('aria-busy');
    view.body = null;
    view.list.replaceChildren(loadError(`The schedules could not be loaded: ${err.message}`, () => load(view)));
    showError(err, 'Schedules');
    return;
  } finally {
    if (view.inflight === controller) view.inflight = null;
    controller.abort(); // done: let go of the page's signal
  }
  view.list.removeAttribute('aria-busy');
  view.defaultTimezone = data.default_timezone || '';
  render(view, Array.isArray(data.schedules) ? data.schedules : []);
}

function render(view, schedules) {
  view.schedules = schedules;
  view.count.textContent = String(schedules.length);
  if (!schedules.length) {
    view.body = null;
    view.list.replaceChildren(h('div', { class: 'table-note schedules-empty' },
      h('p', null, 'No schedules yet.'),
      h('p', null, 'A schedule runs a quick action at set times: every night, every hour, on the first of the month.'),
      newButton(view)));
    return;
  }
  if (!view.body) {
    view.body = h('tbody');
    view.list.replaceChildren(h('table', { class: 'table table-cards schedules-table' },
      h('caption', { class: 'visually-hidden' }, 'Schedules, by name'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Schedule'),
        h('th', { scope: 'col' }, 'Next run'),
        h('th', { scope: 'col' }, 'Last run'),
        h('th', { scope: 'col' }, 'Enabled'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      view.body));
  }
  syncList(view.body, schedules, (s) => s.id, () => scheduleRow(view));
}

// A row built once; update(schedule) changes what it shows, so a reload
// every few seconds (a schedule that runs that often) keeps focus on its
// switch or buttons.
function scheduleRow(view) {
  const row = h('tr', { class: 'schedule-row' });
  const parts = {
    name: h('span', { class: 'script-name schedule-name' }),
    action: h('span', { class: 'script-description', dataset: { runs: '' } }),
    description: h('span', { class: 'schedule-description', dataset: { description: '' } }),
    expression: h('span', { class: 'schedule-expression' }),
    reason: h('p', { class: 'schedule-reason', hidden: true, dataset: { disabledReason: '' } }),
    next: h('td', { dataset: { label: 'Next run' } }),
    last: h('td', { dataset: { label: 'Last run' } }),
  };
  const toggle = h('input', {
    type: 'checkbox', role: 'switch', class: 'switch-input', dataset: { action: 'toggle' },
    onChange: () => setEnabled(view, row, toggle),
  });
  const buttons = {
    run: iconButton('play', 'Run now', 'schedule-run', false, (b) => runNow(view, row.schedule, b)),
    edit: iconButton('edit', 'Edit', 'schedule-edit', false, () => edit(view, row.schedule)),
    remove: iconButton('trash', 'Delete', 'icon-button-danger schedule-delete', false, (b) => remove(view, row.schedule, b)),
  };
  row.append(
    h('td', { class: 'cell-primary' },
      h('div', { class: 'script-cell' }, parts.name, parts.action, parts.description, parts.expression, parts.reason)),
    parts.next,
    parts.last,
    h('td', { dataset: { label: 'Enabled' } },
      h('label', { class: 'switch' }, toggle, h('span', { class: 'switch-track', 'aria-hidden': 'true' }))),
    h('td', { class: 'cell-actions' }, h('div', { class: 'schedule-actions' }, buttons.run, buttons.edit, buttons.remove)));

  row.update = (schedule) => fillRow(row, schedule, { parts, toggle, buttons });
  return row;
}

// What a row shows; its switch is left alone while its own change is on the way.
function fillRow(row, schedule, { parts, toggle, buttons }) {
  row.schedule = schedule;
  const { name } = schedule;
  row.dataset.scheduleId = schedule.id;
  row.dataset.name = name;
  row.dataset.enabled = String(Boolean(schedule.enabled));
  parts.name.textContent = name;
  parts.action.replaceChildren(...actionText(schedule));
  parts.description.textContent = schedule.description || '';
  parts.expression.replaceChildren(h('code', { class: 'mono-soft', dataset: { cron: '' } }, schedule.cron),
    h('span', { dataset: { timezone: '' } }, schedule.timezone));
  parts.reason.hidden = !schedule.disabled_reason;
  parts.reason.replaceChildren(icon('error', 'schedule-reason-icon'),
    h('span', null, `Disabled: ${schedule.disabled_reason || ''}`));
  // Rebuilt only when they change: a focused last-run link stays focused.
  const next = Array.isArray(schedule.next_runs) ? schedule.next_runs[0] || '' : '';
  if (parts.next.dataset.shown !== `${next}|${schedule.enabled}`) {
    parts.next.dataset.shown = `${next}|${schedule.enabled}`;
    parts.next.replaceChildren(nextRun(schedule));
  }
  const last = JSON.stringify(schedule.last_run || null);
  if (parts.last.dataset.shown !== last) {
    parts.last.dataset.shown = last;
    parts.last.replaceChildren(lastRun(schedule));
  }
  if (!row.working) toggle.checked = Boolean(schedule.enabled);
  toggle.setAttribute('aria-label', `${name} enabled`);
  for (const [key, label] of [['run', `Run ${name} now`], ['edit', `Edit ${name}`], ['remove', `Delete ${name}`]]) {
    buttons[key].setAttribute('aria-label', label);
    buttons[key].title = label;
  }
  // Nothing to run once its action is gone.
  if (buttons.run.getAttribute('aria-busy') !== 'true') buttons.run.disabled = schedule.quick_action_id == null;
}

function actionText(schedule) {
  if (schedule.quick_action_id == null) {
    return [h('span', { class: 'schedule-missing' }, 'Its quick action was deleted')];
  }
  return ['Runs ', h('span', { class: 'schedule-action-name' }, schedule.quick_action_name || schedule.quick_action_id)];
}

function nextRun(schedule) {
  const next = Array.isArray(schedule.next_runs) ? schedule.next_runs[0] : null;
  if (!next) return h('span', { class: 'muted' }, schedule.enabled ? 'None' : 'Off');
  return h('span', { class: 'time-cell', dataset: { nextRun: next } },
    dueTime(next),
    h('span', { class: 'time-ago' }, formatDateTime(rfc3339Seconds(next))));
}

function lastRun(schedule) {
  const last = schedule.last_run;
  if (!last) return h('span', { class: 'muted' }, 'Never');
  return h('a', {
    class: 'schedule-last', href: historyHref(last.task_id), title: 'Open this run in History',
    dataset: { lastRun: last.task_id },
  },
  statusBadge(last.status),
  last.started_at != null
    ? h('time', { class: 'time-ago', datetime: isoTime(last.started_at) }, formatAgo(last.started_at))
    : null);
}

async function setEnabled(view, row, toggle) {
  const schedule = row.schedule;
  const enable = toggle.checked;
  row.working = true;
  toggle.disabled = true;
  toggle.classList.add('is-busy');
  // A list asked for before this change must not undo it on screen.
  if (view.inflight) view.inflight.abort();
  let data;
  try {
    data = await api.put(`/api/schedules/${encodeURIComponent(schedule.id)}`, { enabled: enable }, { signal: view.signal });
  } catch (err) {
    toggle.checked = !enable;
    showError(err, `${schedule.name} could not be ${enable ? 'enabled' : 'disabled'}`);
    return;
  } finally {
    row.working = false;
    toggle.disabled = false;
    toggle.classList.remove('is-busy');
  }
  const saved = (data && data.schedule) || { ...schedule, enabled: enable };
  view.schedules = view.schedules.map((s) => (s.id === saved.id ? saved : s));
  row.update(saved);
  showToast(enable ? `${saved.name} is enabled.` : `${saved.name} is disabled: it does not run until enabled again.`, 'success');
}

// Starts a run at once; its output opens in the drawer. The schedule's
// overlap rule applies: refused (skip) or queued behind the running one.
async function runNow(view, schedule, button) {
  const done = iconBusy(button);
  let data;
  try {
    data = await api.post(`/api/schedules/${encodeURIComponent(schedule.id)}/run`, {}, { signal: view.signal });
  } catch (err) {
    showError(err, `${schedule.name} did not start`);
    return;
  } finally {
    done();
    button.disabled = schedule.quick_action_id == null;
  }
  if (data && data.task_id) {
    openTaskDrawer({ taskId: data.task_id, title: schedule.name, signal: view.signal });
  } else if (data && data.queued) {
    showToast(`${schedule.name} is queued: it runs when its current run ends.`, 'info');
  }
  reloadSoon(view);
}

async function edit(view, schedule) {
  const saved = await openScheduleEditor(schedule, { defaultTimezone: view.defaultTimezone, signal: view.signal });
  if (!saved || view.signal.aborted) return;
  showToast(schedule ? `Saved ${saved.name}.` : `Created the schedule ${saved.name}.`, 'success');
  load(view);
}

async function remove(view, schedule, button) {
  const ok = await confirmDialog(
    `Delete the schedule “${schedule.name}”? It no longer runs. The History of its runs stays.`,
    { title: 'Delete schedule', confirmLabel: 'Delete', danger: true });
  if (!ok || view.signal.aborted) return;
  const done = iconBusy(button);
  try {
    await api.del(`/api/schedules/${encodeURIComponent(schedule.id)}`, { signal: view.signal });
  } catch (err) {
    done();
    showError(err, `Deleting ${schedule.name} failed`);
    load(view); // show what the server has now, whatever happened
    return;
  }
  showToast(`Deleted the schedule ${schedule.name}.`, 'success');
  load(view);
}
