import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { api } from '../api.js';
import { showError } from '../ui/toast.js';
import { formatDuration } from '../ui/format.js';
import { page, pageHeader, upcoming } from '../ui/page.js';

let ticker = null;

export function mount(root, ctx) {
  const status = h('dd', { dataset: { health: 'status' } }, 'Checking…');
  const version = h('dd', { dataset: { health: 'version' } }, '—');
  const uptime = h('dd', { dataset: { health: 'uptime' } }, '—');

  root.append(page(
    pageHeader('Dashboard', 'An overview of this server.'),
    h('div', { class: 'grid' },
      h('section', { class: 'card', 'aria-labelledby': 'server-card-title' },
        h('h2', { class: 'card-title', id: 'server-card-title' }, icon('server'), 'Server'),
        h('dl', { class: 'kv' },
          h('dt', null, 'Status'), status,
          h('dt', null, 'Version'), version,
          h('dt', null, 'Uptime'), uptime)),
      upcoming('Resource cards, quick actions, recent tasks and plugin health arrive with their features.'))));

  loadHealth(ctx.signal, { status, version, uptime });
}

export function unmount() {
  clearInterval(ticker);
  ticker = null;
}

async function loadHealth(signal, fields) {
  let health;
  try {
    health = await api.get('/api/health', { signal });
  } catch (err) {
    if (signal.aborted) return;
    fields.status.replaceChildren(statusBadge('Unavailable', 'danger'));
    showError(err, 'Server status');
    return;
  }
  const ok = health.status === 'ok';
  fields.status.replaceChildren(statusBadge(ok ? 'Running' : String(health.status), ok ? 'success' : 'warning'));
  fields.version.textContent = health.version;

  // Count uptime locally instead of polling the server.
  const startedAt = Date.now() - Number(health.uptime_s) * 1000;
  const tick = () => { fields.uptime.textContent = formatDuration((Date.now() - startedAt) / 1000); };
  tick();
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
}

function statusBadge(text, tone) {
  return h('span', { class: ['badge', `badge-${tone}`] }, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}
