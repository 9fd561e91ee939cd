// Names and numbers of the Alerts page in words: severities, kinds,
// metrics (and how their values read), conditions, label sets.
import { h } from '../../ui/dom.js';
import { formatDuration, formatNumber, formatPercent, formatRate } from '../../ui/format.js';

export const SEVERITIES = { info: 'Info', warning: 'Warning', critical: 'Critical' };
export const KINDS = {
  metric: 'Metric threshold', task_failed: 'Failed task', plugin: 'Plugin trouble', security: 'Security event',
};
// metric → [label, unit: percent | rate | number]
export const METRICS = {
  cpu_percent: ['CPU usage', 'percent'],
  memory_percent: ['Memory used', 'percent'],
  swap_percent: ['Swap used', 'percent'],
  disk_percent: ['Disk space used', 'percent'],
  load1: ['Load average (1 min)', 'number'],
  load_per_core: ['Load per CPU core', 'number'],
  net_rx_bytes_per_s: ['Network received', 'rate'],
  net_tx_bytes_per_s: ['Network sent', 'rate'],
  disk_read_bytes_per_s: ['Disk reads', 'rate'],
  disk_write_bytes_per_s: ['Disk writes', 'rate'],
};
export const OPS = { '>': 'above', '>=': 'at or above', '<': 'below', '<=': 'at or below' };
export const TASK_STATUSES = { failed: 'Failed', timed_out: 'Timed out', interrupted: 'Interrupted' };
export const PLUGIN_EVENTS = {
  crash_loop: 'Crash-loops (3 crashes in 5 minutes)',
  disabled: 'Disabled after too many crashes',
  unhealthy: 'Unhealthy for a while',
  notify: 'Sends its own alert (notify)',
};
export const SECURITY_EVENTS = {
  lockout: 'A sign-in lock-out starts', admin_created: 'An admin is created', token_created: 'An API token is created',
};
export const LABEL_KEYS = { mount: 'mount', interface: 'interface' };

export function metricLabel(metric) {
  return (METRICS[metric] || [metric])[0];
}

/** A metric's value as it reads: "93.1%", "1.2 MiB/s", "0.42". */
export function formatValue(metric, value) {
  if (value == null || !Number.isFinite(Number(value))) return '—';
  const unit = (METRICS[metric] || [null, 'number'])[1];
  if (unit === 'percent') return formatPercent(value);
  if (unit === 'rate') return formatRate(value);
  return formatNumber(value);
}

export function severityBadge(severity) {
  return h('span', { class: ['badge', 'badge-sm', `severity-${severity}`], dataset: { severity } },
    SEVERITIES[severity] || severity);
}

/** {mount: "/"} → "mount /"; {} → "". */
export function labelText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => `${k} ${v}`).join(', ');
}

/** A rule's condition in one sentence. */
export function conditionText(rule) {
  const c = rule.condition || {};
  const list = (items, names) => (items || []).map((x) => names[x] || x).join(', ');
  if (rule.kind === 'metric') {
    const where = labelText(c.labels);
    const hold = c.for_seconds ? ` for ${formatDuration(c.for_seconds)}` : '';
    return `${metricLabel(c.metric)}${where ? ` (${where})` : ''} ${OPS[c.op] || c.op} `
      + `${formatValue(c.metric, c.threshold)}${hold}`;
  }
  if (rule.kind === 'task_failed') {
    const which = [...(c.scripts || []), ...(c.quick_action_ids || []).map((id) => `quick action ${id}`)];
    return `${c.scheduled_only ? 'A scheduled run' : 'A run'}${which.length ? ` of ${which.join(', ')}` : ''} ends `
      + `${list(c.statuses, TASK_STATUSES).toLowerCase()}`;
  }
  if (rule.kind === 'plugin') {
    const who = c.plugins && c.plugins.length ? c.plugins.join(', ') : 'Any plugin';
    const hold = c.event === 'unhealthy' && c.for_seconds ? ` (${formatDuration(c.for_seconds)})` : '';
    return `${who}: ${(PLUGIN_EVENTS[c.event] || c.event).toLowerCase()}${hold}`;
  }
  if (rule.kind === 'security') return list(c.events, SECURITY_EVENTS);
  return '';
}
