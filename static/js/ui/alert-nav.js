// The alerts every page shows, started by the layout for a signed-in user:
// the number of firing alerts next to "Alerts" in the sidebar, and a banner
// above the page while a critical alert fires that nobody silenced (a
// silence is how an admin says "seen"; the count still includes it).
// Both follow stores/alerts.js (GET /api/alerts + the "alerts" topic).
import { h } from './dom.js';
import { icon } from './icons.js';
import { getUser, onUserChange } from '../session.js';
import { watchAlerts } from '../stores/alerts.js';

let parts = null;
let stop = null;

/** `link`: the sidebar's Alerts link; `banner`: the element above <main>. */
export function startAlertNav({ link, banner }) {
  const count = h('span', { class: 'nav-count', hidden: true, 'aria-hidden': 'true', dataset: { alertCount: '' } });
  // Read after the link's name ("Alerts"), which stays the same for tests and screen readers.
  const said = h('span', { class: 'visually-hidden', id: 'nav-alerts-count' });
  if (link) {
    link.append(count);
    link.after(said);
    link.setAttribute('aria-describedby', said.id);
  }
  parts = { count, said, banner };
  banner.hidden = true;
  onUserChange(follow);
  follow(getUser());
}

function follow(user) {
  const ok = Boolean(user) && !user.totp_setup_required;
  if (ok && !stop) {
    stop = watchAlerts(render);
  } else if (!ok && stop) {
    stop();
    stop = null;
    render({ firing: [] });
  }
}

function render(state) {
  if (!parts) return;
  const firing = state.firing || [];
  parts.count.hidden = !firing.length;
  parts.count.textContent = firing.length ? String(firing.length) : '';
  parts.count.classList.toggle('nav-count-critical', firing.some((a) => a.severity === 'critical'));
  parts.said.textContent = firing.length ? `${firing.length} firing` : '';

  const critical = firing.filter((a) => a.severity === 'critical' && !a.silenced_until);
  parts.banner.hidden = !critical.length;
  if (!critical.length) {
    parts.banner.replaceChildren();
    return;
  }
  const names = critical.slice(0, 3).map((a) => a.rule_name).join(', ') + (critical.length > 3 ? ` and ${critical.length - 3} more` : '');
  parts.banner.replaceChildren(
    icon('alerts', 'alert-banner-icon'),
    h('span', { class: 'alert-banner-text' },
      h('strong', null, critical.length === 1 ? 'Critical alert firing: ' : `${critical.length} critical alerts firing: `),
      names),
    h('a', { class: 'alert-banner-link', href: '/alerts' }, 'See alerts'));
}
