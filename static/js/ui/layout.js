// The app shell: top bar (phones), sidebar / off-canvas drawer, main region.
// The sidebar's links come from the router's route table (app.js passes
// them in with navigate): this module does not import the router.
import { h } from './dom.js';
import { icon, brandMark } from './icons.js';
import { menuButton } from './menu.js';
import { openChangePasswordDialog } from './password.js';
import { showError, showToast } from './toast.js';
import { getUser, onUserChange } from '../session.js';
import { signOut } from '../auth.js';
import { startPluginNav } from './plugin-nav.js';
import { startAlertNav } from './alert-nav.js';

export const ROLE_LABELS = { admin: 'Admin', client: 'Client' };

// Keep in step with the breakpoint in layout.css.
const desktop = window.matchMedia('(min-width: 900px)');

let ui = null;
let go = null; // the router's navigate

/**
 * Builds the shell inside `container` and returns {main}, the page root.
 * nav: the sidebar's links [{href, label, icon, admin}] (`admin` links are
 * hidden from clients); navigate: the router's, for signing out.
 */
export function buildLayout(container, { nav, navigate }) {
  go = navigate;
  const menuButton = h('button', {
    type: 'button', class: 'icon-button menu-button', 'aria-label': 'Menu',
    'aria-controls': 'sidebar', 'aria-expanded': false, onClick: toggleDrawer,
  }, icon('menu'));
  const closeButton = h('button', {
    type: 'button', class: 'icon-button drawer-close', 'aria-label': 'Close menu',
    onClick: () => closeDrawer({ restoreFocus: true }),
  }, icon('close'));

  const topbar = h('header', { class: 'topbar' }, menuButton, brandLink(),
    h('div', { class: 'topbar-end' }, userMenu('topbar')));
  // Filled with the enabled plugins (and their health) by plugin-nav.js.
  const pluginList = h('ul', { class: 'nav-list nav-plugins', id: 'nav-plugins', 'aria-labelledby': 'nav-plugins-heading' },
    h('li', { class: 'nav-empty' }, 'Enabled plugins will be listed here.'));
  const sidebar = h('aside', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Sidebar' },
    h('div', { class: 'sidebar-head' }, brandLink(), closeButton),
    h('nav', { class: 'sidebar-nav', 'aria-label': 'Main' },
      h('ul', { class: 'nav-list' }, nav.map(navItem)),
      h('h2', { class: 'nav-heading', id: 'nav-plugins-heading' }, 'Plugins'),
      pluginList),
    h('div', { class: 'sidebar-foot' }, userMenu('sidebar')));
  const backdrop = h('div', { class: 'backdrop', onClick: () => closeDrawer({ restoreFocus: true }) });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  // Shown above every page while a critical alert fires (alert-nav.js).
  const alertBanner = h('div', { class: 'alert-banner', role: 'alert', hidden: true });

  container.replaceChildren(
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    topbar, sidebar, backdrop, alertBanner, main);
  ui = { menuButton, closeButton, topbar, sidebar, main };

  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && isDrawerOpen()) closeDrawer({ restoreFocus: true });
  });
  // A drawer left open while the window grows past the breakpoint would
  // leave the main region inert on desktop.
  desktop.addEventListener('change', () => closeDrawer());
  // Nothing shows until the router knows which page (and whether the user
  // is signed in): no flash of the sidebar before the login page.
  setChrome(false);
  onUserChange(showUser);
  showUser(getUser());
  startPluginNav(pluginList);
  startAlertNav({ link: sidebar.querySelector('a[data-nav][href="/alerts"]'), banner: alertBanner });
  return { main };
}

// Role-based links and the user menus follow the signed-in user.
function showUser(user) {
  if (!ui) return;
  const admin = Boolean(user && user.role === 'admin');
  for (const item of ui.sidebar.querySelectorAll('li[data-admin-only]')) item.hidden = !admin;
  for (const el of document.querySelectorAll('[data-user-menu]')) {
    el.hidden = !user;
    if (!user) continue;
    const fill = (selector, text) => {
      for (const node of el.querySelectorAll(selector)) node.textContent = text;
    };
    fill('[data-user-name]', user.display_name);
    fill('[data-user-role]', ROLE_LABELS[user.role] || user.role);
    fill('[data-user-initials]', initials(user.display_name || user.username));
    const button = el.querySelector('button[aria-haspopup]');
    if (el.dataset.userMenu === 'topbar') button.setAttribute('aria-label', `Account menu (${user.display_name})`);
  }
}

/** "Ada Lovelace" → "AL", "root" → "R". */
export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => [...w][0] || '').join('').toUpperCase() || '?';
}

/** An avatar circle with the initials of `name` (text, never markup). */
export function avatar(name, extra = {}) {
  return h('span', { class: 'avatar', 'aria-hidden': 'true', ...extra }, initials(name));
}

// The account menu: in the sidebar (desktop, and the phone's drawer) and as
// an avatar button in the phone's top bar.
function userMenu(where) {
  const inTopbar = where === 'topbar';
  const menu = menuButton({
    button: inTopbar
      ? { class: 'icon-button user-avatar-button', 'aria-label': 'Account menu' }
      : { class: 'user-button' },
    content: inTopbar
      ? [h('span', { class: 'avatar', 'aria-hidden': 'true', dataset: { userInitials: '' } })]
      : [
        h('span', { class: 'avatar', 'aria-hidden': 'true', dataset: { userInitials: '' } }),
        h('span', { class: 'user-text' },
          h('span', { class: 'user-name', dataset: { userName: '' } }),
          h('span', { class: 'user-role', dataset: { userRole: '' } })),
        icon('chevronUpDown', 'user-chevron'),
      ],
    header: () => {
      const user = getUser();
      return user ? h('div', { class: 'menu-header' },
        h('span', { class: 'menu-header-name' }, user.display_name),
        h('span', { class: 'menu-header-sub' }, `${user.username} · ${ROLE_LABELS[user.role] || user.role}`)) : null;
    },
    items: () => [
      { label: 'My account', icon: 'user', href: '/settings/account' },
      { label: 'Change password', icon: 'key', onSelect: () => openChangePasswordDialog() },
      { label: 'Sign out', icon: 'logout', onSelect: onSignOut },
    ],
    placement: inTopbar ? 'down' : 'up',
    align: inTopbar ? 'end' : 'start',
  });
  menu.classList.add(inTopbar ? 'user-menu-topbar' : 'user-menu');
  menu.dataset.userMenu = where;
  menu.hidden = true;
  return menu;
}

async function onSignOut() {
  try {
    await signOut();
  } catch (err) {
    showError(err, 'Signing out failed');
    return;
  }
  await go('/login');
  showToast('You are signed out.', 'info');
}

function brandLink() {
  return h('a', { class: 'brand', href: '/' }, brandMark(), h('span', { class: 'brand-name' }, 'Toru'));
}

function navItem(item) {
  return h('li', { dataset: { adminOnly: item.admin ? '' : null }, hidden: Boolean(item.admin) },
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
