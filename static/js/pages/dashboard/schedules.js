// The dashboard's Schedules card (admins: the schedules API is theirs): each
// schedule's next run, soonest first (an every-minute schedule would
// otherwise fill the list by itself), and the latest scheduled runs that did
// not succeed (failed, timed out, interrupted, skipped), each linking to its
// History entry. It reloads when the server pushes a `schedules` message.
import { h } from '../../ui/dom.js';
import { api } from '../../api.js';
import { subscribe } from '../../live.js';
import { showError } from '../../ui/toast.js';
import { formatDateTime, rfc3339Seconds } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';
import { every, later, scope } from '../../lifetime.js';
import { dueTime, refreshTimes } from '../schedules/time.js';
import { cardHead, refreshStarted, taskRow } from './tasks.js';

const NEXT_COUNT = 5;
const FAILURE_COUNT = 5;
const NOT_SUCCEEDED = 'failed,timed_out,interrupted,skipped';
const RELOAD_DELAY_MS = 500;
const TICK_MS = 30_000;

/** {el, load()}: the card; it follows the server until `signal` aborts. */
export function schedulesCard({ signal }) {
  const next = h('div', { class: 'schedules-card-part', 'aria-busy': 'true', dataset: { part: 'next' } },
    h('p', { class: 'task-card-note' }, 'Loading schedules…'));
  const failures = h('div', { class: 'schedules-card-part', 'aria-busy': 'true', dataset: { part: 'failures' } },
    h('p', { class: 'task-card-note' }, 'Loading runs…'));
  const el = h('section', {
    class: 'card task-card schedules-card', 'aria-labelledby': 'schedules-card-title', dataset: { card: 'schedules' },
  },
  cardHead('schedules-card', 'schedules', 'Schedules', h('a', { class: 'task-card-link', href: '/schedules' }, 'All schedules')),
  h('div', { class: 'schedules-card-body' },
    h('section', { 'aria-labelledby': 'schedules-next-title' },
      h('h3', { class: 'stat-caption', id: 'schedules-next-title' }, 'Next runs'), next),
    h('section', { 'aria-labelledby': 'schedules-failures-title' },
      h('h3', { class: 'stat-caption', id: 'schedules-failures-title' }, 'Recent failures'), failures)));

  let inflight = null;
  let cancel = () => {};

  async function load() {
    cancel();
    if (inflight) inflight.abort();
    const controller = scope(signal);
    inflight = controller;
    const options = { signal: controller.signal };
    let data;
    try {
      data = await Promise.all([
        api.get('/api/schedules', options),
        api.get(`/api/history?trigger=schedule&status=${NOT_SUCCEEDED}&page_size=${FAILURE_COUNT}`, options),
      ]);
    } catch (err) {
      if (controller.signal.aborted || err.handled) return;
      for (const part of [next, failures]) part.removeAttribute('aria-busy');
      next.replaceChildren(loadError(`Schedules could not be loaded: ${err.message}`, load));
      failures.replaceChildren();
      showError(err, 'Schedules');
      return;
    } finally {
      if (inflight === controller) inflight = null;
      controller.abort();
    }
    const [list, page] = data;
    showNext(next, Array.isArray(list.schedules) ? list.schedules : []);
    showFailures(failures, Array.isArray(page.tasks) ? page.tasks : []);
  }

  subscribe('schedules', () => {
    cancel();
    cancel = later(signal, RELOAD_DELAY_MS, load);
  }, { signal });
  every(signal, TICK_MS, () => {
    refreshTimes(el);
    refreshStarted(el);
  });
  return { el, load };
}

function showNext(part, schedules) {
  part.removeAttribute('aria-busy');
  const runs = schedules
    .filter((s) => Array.isArray(s.next_runs) && s.next_runs.length)
    .map((s) => ({ schedule: s, rfc: s.next_runs[0], at: rfc3339Seconds(s.next_runs[0]) }))
    .sort((a, b) => a.at - b.at)
    .slice(0, NEXT_COUNT);
  if (!runs.length) {
    part.replaceChildren(h('p', { class: 'task-card-note' }, schedules.length
      ? 'No schedule is due: every one is disabled.'
      : ['No schedules yet. ', h('a', { href: '/schedules' }, 'Add one'), ' to run a quick action at set times.']));
    return;
  }
  part.replaceChildren(h('ul', { class: 'task-list' }, runs.map(({ schedule, rfc, at }) => h('li', {
    class: 'task-row', dataset: { scheduleId: schedule.id },
  },
  h('a', { class: 'task-link', href: '/schedules' },
    h('span', { class: 'task-main' },
      h('span', { class: 'schedule-next-name' }, schedule.name)),
    h('span', { class: 'task-meta' },
      dueTime(rfc),
      h('span', null, formatDateTime(at))))))));
}

function showFailures(part, tasks) {
  part.removeAttribute('aria-busy');
  if (!tasks.length) {
    part.replaceChildren(h('p', { class: 'task-card-note' }, 'No scheduled run has failed or been skipped.'));
    return;
  }
  part.replaceChildren(h('ul', { class: 'task-list' }, tasks.map((task) => taskRow(task, true))));
}
