// A small History API router and the one route table, which the sidebar
// also reads. A page module exports mount(root, ctx); ctx.signal is aborted
// when the page is left, and everything the page started (timers,
// subscriptions, listeners, fetches) hangs on it (lifetime.js). There is
// no unmount(). A page holding unsaved input says so with
// ctx.guardLeave(unsaved): a link, Back/Forward, a reload or closing the tab
// then ask first (so does an editor dialog the user typed in).
import { closeDrawer, markActiveNav, setChrome } from './ui/layout.js';
import { closeAllDialogs, confirmDialog, dialogEdited } from './ui/dialog.js';
import { onAbort } from './lifetime.js';
import { showToast } from './ui/toast.js';
import { getUser } from './session.js';
import { TWO_FACTOR_PATH, loginPath, safeNext } from './auth.js';

// `chrome: false` pages render without the sidebar. Patterns may hold
// `:name` segments, passed to the page as ctx.params.name. Every page needs
// a signed-in user unless `guest: true`; `admin: true` pages show a "not
// available" page to other roles (the server refuses their API calls anyway,
// and the sidebar hides their links). `nav: {label, icon}` puts the route in
// the sidebar, in this order; it is marked current on its sub-paths too.
const settings = () => import('./pages/settings.js');
const plugins = () => import('./pages/plugins.js');
export const ROUTES = [
  { path: '/', title: 'Dashboard', nav: { label: 'Dashboard', icon: 'dashboard' }, load: () => import('./pages/dashboard.js') },
  { path: '/monitor', title: 'System Monitor', nav: { label: 'System Monitor', icon: 'monitor' }, load: () => import('./pages/monitor.js') },
  { path: '/scripts', title: 'Scripts', admin: true, nav: { label: 'Scripts', icon: 'scripts' }, load: () => import('./pages/scripts.js') },
  { path: '/schedules', title: 'Schedules', admin: true, nav: { label: 'Schedules', icon: 'schedules' }, load: () => import('./pages/schedules.js') },
  { path: '/history', title: 'History', nav: { label: 'History', icon: 'history' }, load: () => import('./pages/history.js') },
  { path: '/alerts', title: 'Alerts', nav: { label: 'Alerts', icon: 'alerts' }, load: () => import('./pages/alerts.js') },
  { path: '/plugins', title: 'Plugins', nav: { label: 'Plugins', icon: 'plugins' }, load: plugins },
  { path: '/plugins/:id', title: 'Plugin details', load: plugins },
  { path: '/plugin/:id', title: 'Plugin', load: () => import('./pages/plugin-view.js') },
  { path: '/settings', title: 'Settings', nav: { label: 'Settings', icon: 'settings' }, load: settings },
  { path: '/settings/:section', title: 'Settings', load: settings },
  { path: '/login', title: 'Sign in', chrome: false, guest: true, load: () => import('./pages/login.js') },
  // The original Toru's addresses: old bookmarks land on today's page.
  { path: '/system-monitor', redirect: '/monitor' },
];

/** The sidebar's links, from the route table: [{href, label, icon, admin}]. */
export function navEntries() {
  return ROUTES.filter((route) => route.nav).map((route) => ({
    href: route.path, label: route.nav.label, icon: route.nav.icon, admin: Boolean(route.admin),
  }));
}
const notFound = { title: 'Not found', load: () => import('./pages/notfound.js') };
const forbidden = { title: 'Not available', load: () => import('./pages/forbidden.js') };

let root = null;
let current = null;  // the AbortController of the mounted page
let renderSeq = 0;   // a newer navigation wins over a slower, older one
let shown = null;    // the address of the page on screen
const leaveGuards = new Set(); // () => true while the page holds unsaved input

function unsavedInput() {
  return dialogEdited() || [...leaveGuards].some((unsaved) => unsaved());
}

/** Asks whether to leave unsaved input behind; true when the user chose to. */
function askToLeave() {
  return confirmDialog('What you changed on this page has not been saved.', {
    title: 'Leave this page?', confirmLabel: 'Leave', cancelLabel: 'Stay', danger: true,
  });
}

// Back/Forward has already changed the address: put it back while asking.
async function onPopState() {
  if (shown && unsavedInput()) {
    const target = window.location.pathname + window.location.search + window.location.hash;
    history.pushState(null, '', shown);
    if (await askToLeave()) navigate(target);
    return;
  }
  render({ focus: true });
}

/** Matches a pathname against the route table; unknown paths get notFound. */
export function matchRoute(pathname) {
  const clean = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const segments = clean.split('/').slice(1);
  for (const route of ROUTES) {
    const parts = route.path.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params = {};
    const ok = parts.every((part, i) => {
      if (!part.startsWith(':')) return part === segments[i];
      if (!segments[i]) return false;
      try {
        params[part.slice(1)] = decodeURIComponent(segments[i]);
        return true;
      } catch {
        return false; // malformed percent-encoding
      }
    });
    if (ok) return { route, params };
  }
  return { route: notFound, params: {} };
}

export function startRouter(rootElement) {
  root = rootElement;
  // Pages render asynchronously, so the browser's own restoration would
  // scroll an empty page; every navigation starts at the top instead.
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  document.addEventListener('click', onLinkClick);
  window.addEventListener('popstate', onPopState);
  window.addEventListener('beforeunload', (event) => {
    if (!unsavedInput()) return;
    event.preventDefault(); // the browser asks "Leave site?"
    event.returnValue = '';
  });
  return render({ focus: false });
}

/** Goes to `path` (same origin) without reloading the page. */
export function navigate(path, { replace = false } = {}) {
  const url = new URL(path, window.location.href);
  if (url.origin !== window.location.origin) {
    window.location.assign(url.href);
    return Promise.resolve();
  }
  const target = url.pathname + url.search + url.hash;
  const here = window.location.pathname + window.location.search + window.location.hash;
  if (replace || target === here) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  return root ? render({ focus: true }) : Promise.resolve();
}

function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null;
  if (!link || !(link instanceof HTMLAnchorElement)) return;
  if (link.target && link.target !== '_self') return;
  if (link.hasAttribute('download') || link.relList.contains('external')) return;
  const url = new URL(link.href);
  if (url.origin !== window.location.origin) return;
  // API and static URLs (downloads, raw logs) are real server resources.
  if (/^\/(api|static)(\/|$)/.test(url.pathname)) return;
  const samePage = url.pathname === window.location.pathname && url.search === window.location.search;
  if (samePage && url.hash) return; // in-page anchor: the browser handles it
  event.preventDefault();
  if (samePage) {
    closeDrawer();
    return;
  }
  const target = url.pathname + url.search + url.hash;
  if (!unsavedInput()) navigate(target);
  else askToLeave().then((leave) => { if (leave) navigate(target); });
}

// Which page the current address shows to the current user. Rewrites the
// address on the way: signed out → /login?next=…, signed in on /login → next.
function resolve() {
  for (let hop = 0; ; hop += 1) {
    const url = new URL(window.location.href);
    const { route, params } = matchRoute(url.pathname);
    if (hop < 2 && route.redirect) {
      history.replaceState(null, '', route.redirect + url.search + url.hash);
      continue;
    }
    const user = getUser();
    if (hop < 2 && !user && !route.guest) {
      history.replaceState(null, '', loginPath(url.pathname + url.search + url.hash));
      continue;
    }
    if (hop < 2 && user && route.guest) {
      history.replaceState(null, '', safeNext(url.searchParams.get('next')));
      continue;
    }
    // An admin who must set up two-factor sign-in first: the server refuses
    // everything else to them, so every page sends them there.
    if (hop < 2 && user && user.totp_setup_required && url.pathname !== TWO_FACTOR_PATH) {
      history.replaceState(null, '', TWO_FACTOR_PATH);
      continue;
    }
    if (route.admin && (!user || user.role !== 'admin')) return { url, route: forbidden, params: {}, nav: null };
    const nav = route === notFound || route.chrome === false ? null : url.pathname;
    return { url, route, params, nav };
  }
}

async function render({ focus }) {
  const seq = ++renderSeq;
  const { url, route, params, nav } = resolve();
  closeDrawer();
  closeAllDialogs();
  root.setAttribute('aria-busy', 'true');

  let module;
  try {
    module = await route.load();
  } catch (err) {
    if (seq !== renderSeq) return;
    root.removeAttribute('aria-busy');
    console.error('Loading page failed', err);
    showToast('This page could not be loaded. Check that Toru is running, then reload.', 'error');
    return;
  }
  if (seq !== renderSeq) return;

  leaveCurrent();
  setChrome(route.chrome !== false);
  markActiveNav(nav);
  setTitle(route.title);

  const controller = new AbortController();
  current = controller;
  shown = url.pathname + url.search + url.hash;
  root.replaceChildren();
  root.removeAttribute('aria-busy');
  const ctx = {
    path: url.pathname,
    params,
    query: url.searchParams,
    signal: controller.signal, // aborted when the page is left
    navigate,
    setTitle: (title) => { if (seq === renderSeq) setTitle(title); },
    guardLeave: (unsaved) => {
      leaveGuards.add(unsaved);
      onAbort(controller.signal, () => leaveGuards.delete(unsaved));
    },
  };
  try {
    const pending = module.mount(root, ctx);
    if (pending && typeof pending.then === 'function') pending.catch(reportMountError);
  } catch (err) {
    reportMountError(err);
  }

  window.scrollTo(0, 0);
  if (focus) focusHeading();
}

// Ends the page: everything it hung on ctx.signal stops now.
function leaveCurrent() {
  if (!current) return;
  const controller = current;
  current = null;
  controller.abort();
}

function setTitle(title) {
  document.title = `${title} · Toru`;
}

// Moving focus to the new heading tells screen readers the page changed.
function focusHeading() {
  const heading = root.querySelector('h1') || root;
  if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
  heading.focus({ preventScroll: true });
}

function reportMountError(err) {
  if (err && (err.name === 'AbortError' || err.handled)) return;
  console.error('Showing page failed', err);
  showToast(`This page failed to load: ${err && err.message ? err.message : err}`, 'error');
}
