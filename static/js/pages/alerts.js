// Alerts (docs/alerts.md): what fires now and what is pending (from
// stores/alerts.js, kept current by the "alerts" topic and read again every
// few seconds for the values), the history, and for admins the rules,
// channels and recent deliveries. A client sees the alerts the server lets
// them see, and no editors. The parts live in pages/alerts/.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { page, pageHeader } from '../ui/page.js';
import { liveStatus } from '../ui/live-status.js';
import { isAdmin } from '../session.js';
import { every, later } from '../lifetime.js';
import { refreshAlerts, watchAlerts } from '../stores/alerts.js';
import { alertList } from './alerts/firing.js';
import { alertHistory } from './alerts/history.js';
import { rulesCard } from './alerts/rules.js';
import { channelsCard } from './alerts/channels.js';
import { deliveriesCard } from './alerts/deliveries.js';

const VALUES_EVERY_MS = 5000; // the values of active alerts change without a push
const HISTORY_DELAY_MS = 300;

export function mount(root, ctx) {
  const { signal } = ctx;
  const admin = isAdmin();
  const firing = alertList({ status: 'firing', admin, signal });
  const pending = alertList({ status: 'pending', admin, signal });
  const history = alertHistory({ signal });
  const firingCount = h('span', { class: 'card-count' });
  const pendingCount = h('span', { class: 'card-count' });
  const pendingCard = h('section', { class: 'card card-flush', 'aria-labelledby': 'alerts-pending-title' },
    h('div', { class: 'card-head' }, h('div', { class: 'card-head-text' },
      h('h2', { class: 'card-title', id: 'alerts-pending-title' }, icon('pause'), 'Pending', pendingCount),
      h('p', { class: 'card-lead' }, 'Their condition holds, but not yet for as long as their rule asks.'))),
    pending.el);

  let deliveries = null;
  let channels = null;
  let rules = null;
  if (admin) {
    deliveries = deliveriesCard({ signal });
    channels = channelsCard({ signal, onChange: () => { deliveries.load(); if (rules) rules.load(); } });
    rules = rulesCard({ signal, channels: () => channels.channels(), onChange: () => refreshAlerts() });
  }

  root.append(page(
    pageHeader('Alerts', admin
      ? 'What fires now, what fired, and the rules and channels behind it.'
      : 'What fires now and what fired, of what you can see.', liveStatus({ signal }).el),
    h('div', { class: 'stack' },
      h('section', { class: 'card card-flush', 'aria-labelledby': 'alerts-firing-title' },
        h('div', { class: 'card-head' }, h('div', { class: 'card-head-text' },
          h('h2', { class: 'card-title', id: 'alerts-firing-title' }, icon('alerts'), 'Firing now', firingCount),
          h('p', { class: 'card-lead' }, admin
            ? 'Silence one to hold back its notifications for a while; it keeps firing here.'
            : 'Alerts of this server that fire now.'))),
        firing.el),
      pendingCard,
      h('section', { class: 'card card-flush', 'aria-labelledby': 'alerts-history-title' },
        h('div', { class: 'card-head' }, h('div', { class: 'card-head-text' },
          h('h2', { class: 'card-title', id: 'alerts-history-title' }, icon('history'), 'History'),
          h('p', { class: 'card-lead' }, 'Resolved alerts and one-off events, newest first.'))),
        history.el),
      admin ? [rules.el, channels.el, deliveries.el] : null)));

  let cancelHistory = () => {};
  let active = false;
  watchAlerts((state, message) => {
    const { firing: now, pending: waiting } = state;
    firing.update(now);
    pending.update(waiting);
    firingCount.textContent = String(now.length);
    pendingCount.textContent = String(waiting.length);
    pendingCard.hidden = !waiting.length;
    active = now.length + waiting.length > 0;
    if (message && message.event !== 'repeat' && message.event !== 'silenced') {
      // Something started, ended or happened: the history may have grown.
      cancelHistory();
      cancelHistory = later(signal, HISTORY_DELAY_MS, () => history.load());
      if (message.event === 'event' && deliveries) deliveries.load();
    }
  }, { signal });
  every(signal, VALUES_EVERY_MS, () => { if (active) refreshAlerts(); });
  history.load();
  if (admin) {
    channels.load().then(() => rules.load());
    deliveries.load();
  }
}
