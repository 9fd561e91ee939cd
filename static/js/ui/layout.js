// The app shell: top bar (phones), sidebar / off-canvas drawer, main region.
import { h } from './dom.js';
import { icon, brandMark } from './icons.js';

export const NAV_ITEMS = [
  { href: '/', label: 'Dashboard', icon: 'dashboard' },
  { href: '/monitor', label: 'System Monitor', icon: 'monitor' },
  { href: '/scripts', label: 'Scripts', icon: 'scripts' },
  { href: '/history', label: 'History', icon: 'history' },
  { href: '/plugins', label: 'Plugins', icon: 'plugins' },
  { href: '/settings', label: 'Settings', icon: 'settings' },
];

// Keep in step with the breakpoint in app.css.
const desktop = window.matchMedia('(min-width: 900px)');

let ui = null;

/** Builds the shell inside `container` and returns {main}, the page root. */
export function buildLayout(container) {
  const menuButton = h('button', {
    type: 'button', class: 'icon-button menu-button', 'aria-label': 'Menu',
    'aria-controls': 'sidebar', 'aria-expanded': false, onClick: toggleDrawer,
  }, icon('menu'));
  const closeButton = h('button', {
    type: 'button', class: 'icon-button drawer-close', 'aria-label': 'Close menu',
    onClick: () => closeDrawer({ restoreFocus: true }),
  }, icon('close'));

  const topbar = h('header', { class: 'topbar' }, menuButton, brandLink());
  const sidebar = h('aside', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Sidebar' },
    h('div', { class: 'sidebar-head' }, brandLink(), closeButton),
    h('nav', { class: 'sidebar-nav', 'aria-label': 'Main' },
      h('ul', { class: 'nav-list' }, NAV_ITEMS.map(navItem)),
      h('h2', { class: 'nav-heading', id: 'nav-plugins-heading' }, 'Plugins'),
      // Filled with the enabled plugins (and their health) by the plugin UI.
      h('ul', { class: 'nav-list', id: 'nav-plugins', 'aria-labelledby': 'nav-plugins-heading' },
        h('li', { class: 'nav-empty' }, 'Enabled plugins will be listed here.'))));
  const backdrop = h('div', { class: 'backdrop', onClick: () => closeDrawer({ restoreFocus: true }) });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });

  container.replaceChildren(
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    topbar, sidebar, backdrop, main);
  ui = { menuButton, closeButton, topbar, sidebar, main };

  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && isDrawerOpen()) closeDrawer({ restoreFocus: true });
  });
  // A drawer left open while the window grows past the breakpoint would
  // leave the main region inert on desktop.
  desktop.addEventListener('change', () => closeDrawer());
  return { main };
}

function brandLink() {
  return h('a', { class: 'brand', href: '/' }, brandMark(), h('span', { class: 'brand-name' }, 'Toru'));
}

function navItem(item) {
  return h('li', null,
    h('a', { class: 'nav-link', href: item.href, dataset: { nav: '' } },
      icon(item.icon), h('span', { class: 'nav-label' }, item.label)));
}

export function isDrawerOpen() {
  return document.body.classList.contains('drawer-open');
}

export function openDrawer() {
  if (!ui || desktop.matches) return;
  document.body.classList.add('drawer-open');
  ui.menuButton.setAttribute('aria-expanded', 'true');
  // While the drawer is open the rest of the page cannot be focused or tapped.
  ui.main.inert = true;
  ui.topbar.inert = true;
  ui.closeButton.focus({ preventScroll: true });
}

export function closeDrawer({ restoreFocus = false } = {}) {
  if (!ui || !isDrawerOpen()) return;
  document.body.classList.remove('drawer-open');
  ui.menuButton.setAttribute('aria-expanded', 'false');
  ui.main.inert = false;
  ui.topbar.inert = false;
  if (restoreFocus) ui.menuButton.focus({ preventScroll: true });
}

function toggleDrawer() {
  if (isDrawerOpen()) closeDrawer({ restoreFocus: true });
  else openDrawer();
}

/** Shows or hides the sidebar and top bar (the login page has neither). */
export function setChrome(visible) {
  document.body.classList.toggle('bare', !visible);
}

/** Sets aria-current="page" on the nav link for `pathname` (null: none). */
export function markActiveNav(pathname) {
  if (!ui) return;
  for (const link of ui.sidebar.querySelectorAll('a[data-nav]')) {
    const href = link.getAttribute('href');
    const active = pathname != null
      && (href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`));
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}
