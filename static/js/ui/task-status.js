// How a task's status, duration and cost read, shared by the Scripts and
// History pages (statuses: docs/tasks.md).
import { h } from './dom.js';
import { icon } from './icons.js';
import { formatBytes } from './format.js';

export const STATUSES = {
  running: { label: 'Running', tone: 'primary', icon: 'play' },
  success: { label: 'Success', tone: 'success', icon: 'check' },
  failed: { label: 'Failed', tone: 'danger', icon: 'close' },
  cancelled: { label: 'Cancelled', tone: 'neutral', icon: 'pause' },
  timed_out: { label: 'Timed out', tone: 'warning', icon: 'history' },
  interrupted: { label: 'Interrupted', tone: 'warning', icon: 'error' },
  // A schedule's due time that did not run (its reason says why).
  skipped: { label: 'Skipped', tone: 'neutral', icon: 'skip' },
};

export const TRIGGERS = { ws: 'Scripts page', quick_action: 'Quick action', rerun: 'Re-run', schedule: 'Schedule' };

/** How a task started, in words: "Schedule · Nightly backup", "Quick action · alice". */
export function startedByText(task) {
  const trigger = TRIGGERS[task.trigger] || task.trigger;
  // A scheduled run's started_by is "schedule:<name>": the name says it.
  const who = task.trigger === 'schedule' && task.schedule_name ? task.schedule_name : task.started_by;
  return [trigger, who].filter(Boolean).join(' · ');
}

/** A badge for a status ("Cancelling…" while a cancel is pending). */
export function statusBadge(status, { cancelling = false } = {}) {
  const known = STATUSES[status] || { label: String(status || 'Unknown'), tone: 'neutral', icon: 'info' };
  const label = status === 'running' && cancelling ? 'Cancelling…' : known.label;
  return h('span', {
    class: ['badge', `badge-${known.tone}`, 'task-status'], dataset: { status: status || 'unknown' },
  }, status === 'running' ? h('span', { class: 'dot', 'aria-hidden': 'true' }) : icon(known.icon, 'badge-icon'), label);
}

/** Seconds → "0.4 s", "12 s", "2 min 5 s", "1 h 3 min". */
export function formatElapsed(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  const whole = Math.floor(s);
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${whole % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** How long a task ran, or has been running (clock skew clamped to 0). */
export function taskElapsed(task, now = Date.now() / 1000) {
  if (task.started_at == null) return 0;
  const end = task.finished_at != null ? Number(task.finished_at) : now;
  return Math.max(0, end - Number(task.started_at));
}

/** "1.2 GiB" or "—". */
export function formatRss(bytes) {
  return bytes == null ? '—' : formatBytes(bytes);
}

/** "0.42 s" of CPU, or "—". */
export function formatCpu(seconds) {
  if (seconds == null || !Number.isFinite(Number(seconds))) return '—';
  const s = Number(seconds);
  return s < 10 ? `${s.toFixed(2)} s` : formatElapsed(s);
}

/** Where a task's History entry is (it opens there, live when running). */
export function historyHref(taskId) {
  return `/history?highlight_task=${encodeURIComponent(taskId)}`;
}
