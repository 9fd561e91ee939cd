// Dashboard: this server at a glance. Quick actions and recent tasks come
// first (dashboard/tasks.js), then for admins the schedules' next runs and
// failures (dashboard/schedules.js), a row of its own. The resource cards are filled from
// GET /api/resources at once, then by every sample the server pushes on the
// WebSocket's "resources" topic; the Toru card comes from /api/health.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { api } from '../api.js';
import { subscribe } from '../live.js';
import { liveStatus } from '../ui/live-status.js';
import { showError } from '../ui/toast.js';
import { formatDuration, formatTime, isoTime } from '../ui/format.js';
import { page, pageHeader } from '../ui/page.js';
import { resourceCards } from './dashboard/cards.js';
import { quickActionsCard, recentTasksCard } from './dashboard/tasks.js';
import { pluginHealthCard } from './dashboard/plugins.js';
import { pluginEventsCard } from './dashboard/plugin-events.js';
import { schedulesCard } from './dashboard/schedules.js';
import { isAdmin } from '../session.js';
import { every } from '../lifetime.js';
import { loadError } from '../ui/load-error.js';

export function mount(root, ctx) {
  const { signal } = ctx;
  const admin = isAdmin();
  const recent = recentTasksCard({ signal, admin });
  const actions = quickActionsCard({ signal, admin, onStarted: () => recent.load() });
  const resources = resourceCards();
  const server = serverCard();
  const plugins = pluginHealthCard({ signal, admin });
  const pluginEvents = admin ? pluginEventsCard({ signal }) : null; // admins: the events API is theirs
  const schedules = admin ? schedulesCard({ signal }) : null; // the schedules API is theirs too
  const grid = h('div', { class: 'grid grid-stretch dashboard-grid', 'aria-busy': 'true' },
    resources.cards, server.el, plugins.el, pluginEvents && pluginEvents.el);
  const notice = h('div', { class: 'notice-slot' });
  const updated = h('time', { class: 'updated', dataset: { metric: 'updated' } });
  const live = liveStatus({ signal, onChange: (state) => grid.classList.toggle('is-stale', state === 'reconnecting') });
  root.append(page(
    pageHeader('Dashboard', 'An overview of this server.', updated, live.el),
    notice,
    h('div', { class: 'dashboard' },
      h('div', { class: 'dashboard-tasks' }, actions.el, recent.el),
      schedules && h('div', { class: 'dashboard-schedules' }, schedules.el),
      grid)));

  let latest = -Infinity;
  const show = (snapshot) => {
    // The GET and the first pushed sample race; never go back in time.
    if (!snapshot || !(snapshot.timestamp >= latest)) return;
    latest = snapshot.timestamp;
    grid.removeAttribute('aria-busy');
    notice.replaceChildren();
    resources.update(snapshot);
    updated.textContent = `Updated ${formatTime(snapshot.timestamp)}`;
    updated.setAttribute('datetime', isoTime(snapshot.timestamp));
  };
  subscribe('resources', show, { signal });
  actions.load();
  recent.load();
  if (pluginEvents) pluginEvents.load();
  if (schedules) schedules.load();
  loadResources(signal, show, notice);
  loadHealth(signal, server.fields);
}

async function loadResources(signal, show, notice) {
  try {
    show(await api.get('/api/resources', { signal }));
  } catch (err) {
    if (signal.aborted || err.handled) return;
    notice.replaceChildren(loadError(`System resources could not be loaded: ${err.message}`,
      () => loadResources(signal, show, notice)));
    showError(err, 'System resources');
  }
}

function serverCard() {
  const fields = {
    status: h('dd', { dataset: { health: 'status' } }, 'Checking…'),
    version: h('dd', { dataset: { health: 'version' } }, '—'),
    uptime: h('dd', { dataset: { health: 'uptime' } }, '—'),
  };
  const el = h('section', { class: 'card stat-card', 'aria-labelledby': 'server-card-title', dataset: { card: 'toru' } },
    h('h2', { class: 'card-title', id: 'server-card-title' }, icon('dashboard'), 'Toru'),
    h('dl', { class: 'kv kv-compact' },
      h('dt', null, 'Status'), fields.status,
      h('dt', null, 'Version'), fields.version,
      h('dt', null, 'Running for'), fields.uptime));
  return { el, fields };
}

async function loadHealth(signal, fields) {
  const field = (name) => fields[name];
  let health;
  try {
    health = await api.get('/api/health', { signal });
  } catch (err) {
    if (signal.aborted) return;
    field('status').replaceChildren(statusBadge('Unavailable', 'danger'));
    showError(err, 'Server status');
    return;
  }
  if (signal.aborted) return;
  const ok = health.status === 'ok';
  field('status').replaceChildren(statusBadge(ok ? 'Running' : String(health.status), ok ? 'success' : 'warning'));
  field('version').textContent = health.version;

  // Count Toru's uptime locally instead of polling the server.
  const uptime = field('uptime');
  const startedAt = Date.now() - Number(health.uptime_s) * 1000;
  const tick = () => { uptime.textContent = formatDuration((Date.now() - startedAt) / 1000); };
  tick();
  every(signal, 1000, tick);
}

function statusBadge(text, tone) {
  return h('span', { class: ['badge', `badge-${tone}`] }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}
