// "Firing now" and "Pending" on the Alerts page: each alert with its
// severity colour, since when, its latest value and summary; admins get a
// Silence menu (how long) that holds back its notifications. The lists come
// from stores/alerts.js; rows are kept by id so an open menu survives a reload.
import { h, syncList } from '../../ui/dom.js';
import { api } from '../../api.js';
import { menuButton } from '../../ui/menu.js';
import { icon } from '../../ui/icons.js';
import { showError, showToast } from '../../ui/toast.js';
import { formatAgo, formatDateTime, formatDuration, formatIn, isoTime } from '../../ui/format.js';
import { refreshAlerts } from '../../stores/alerts.js';
import { formatValue, labelText, severityBadge } from './words.js';

export const SILENCE_CHOICES = [[15, '15 minutes'], [60, '1 hour'], [240, '4 hours'], [1440, '1 day'], [10080, '1 week']];

/** A list element and update(alerts) for one state ("firing" or "pending"). */
export function alertList({ status, admin, signal }) {
  const list = h('ul', { class: 'alert-list', dataset: { alertList: status } });
  const empty = h('p', { class: 'table-note', dataset: { empty: status } },
    status === 'firing' ? 'Nothing is firing.' : 'Nothing is pending.');
  const el = h('div', { class: 'alert-list-wrap' }, list, empty);
  return {
    el,
    update(alerts) {
      empty.hidden = alerts.length > 0;
      syncList(list, alerts, (a) => a.id, () => alertRow({ admin, signal }));
    },
  };
}

function alertRow({ admin, signal }) {
  const row = h('li', { class: 'alert-item' });
  const parts = {
    badge: h('span'), name: h('span', { class: 'alert-name' }), labels: h('span', { class: 'alert-labels' }),
    summary: h('p', { class: 'alert-summary' }), since: h('p', { class: 'alert-since' }),
    value: h('span', { class: 'alert-value', dataset: { value: '' } }), silenced: h('span', { class: 'alert-silenced' }),
  };
  const menu = admin ? silenceMenu(row, signal) : null;
  row.append(
    h('div', { class: 'alert-item-main' },
      h('div', { class: 'alert-item-head' }, parts.badge, parts.name, parts.labels, parts.silenced),
      parts.summary, parts.since),
    h('div', { class: 'alert-item-end' }, parts.value, menu));
  row.update = (alert) => {
    row.alert = alert;
    row.className = `alert-item alert-item-${alert.severity}`;
    row.dataset.alertId = alert.id;
    row.dataset.rule = alert.rule_name;
    row.dataset.severity = alert.severity;
    parts.badge.replaceChildren(severityBadge(alert.severity));
    parts.name.textContent = alert.rule_name;
    parts.labels.textContent = labelText(alert.labels);
    parts.summary.textContent = alert.summary || '';
    parts.value.textContent = alert.value == null ? '' : formatValue(alert.metric, alert.value);
    parts.value.title = alert.value == null ? '' : 'Latest value';
    const since = alert.status === 'firing' ? alert.fired_at : alert.started_at;
    parts.since.replaceChildren(alert.status === 'firing' ? 'Firing since ' : 'Pending since ',
      h('time', { datetime: isoTime(since), title: formatDateTime(since) }, formatDateTime(since)),
      ` (${formatAgo(since)}, for ${formatDuration(Date.now() / 1000 - since)})`);
    parts.silenced.replaceChildren(alert.silenced_until
      ? h('span', { class: 'badge badge-sm badge-neutral', dataset: { silenced: '' }, title: formatDateTime(alert.silenced_until) },
        icon('pause', 'badge-icon'), `Silenced, ends ${formatIn(alert.silenced_until)}`)
      : '');
  };
  return row;
}

function silenceMenu(row, signal) {
  return menuButton({
    button: { class: 'btn btn-sm alert-silence', dataset: { silence: '' } },
    content: [icon('pause'), h('span', null, 'Silence')],
    items: () => [
      ...SILENCE_CHOICES.map(([minutes, label]) => ({ label: `For ${label}`, onSelect: () => silence(row.alert, minutes, signal) })),
      row.alert && row.alert.silenced_until ? { label: 'Lift the silence', icon: 'play', onSelect: () => silence(row.alert, 0, signal) } : null,
    ],
  });
}

async function silence(alert, minutes, signal) {
  try {
    await api.post(`/api/alerts/${encodeURIComponent(alert.id)}/silence`, { minutes }, { signal });
  } catch (err) {
    showError(err, `${alert.rule_name} could not be silenced`);
    return;
  }
  const choice = SILENCE_CHOICES.find(([m]) => m === minutes);
  showToast(minutes
    ? `${alert.rule_name} is silenced for ${choice ? choice[1] : `${minutes} minutes`}: no notifications until then.`
    : `The silence of ${alert.rule_name} is lifted.`, 'success');
  refreshAlerts();
}
