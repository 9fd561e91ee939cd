// A small History API router. Each page module exports mount(root, ctx) and
// unmount(root); the previous page is unmounted before the next one mounts.
import { closeDrawer, markActiveNav, setChrome } from './ui/layout.js';
import { closeAllDialogs } from './ui/dialog.js';
import { showToast } from './ui/toast.js';
import { getUser } from './session.js';

// `chrome: false` pages render without the sidebar. Patterns may hold
// `:name` segments, passed to the page as ctx.params.name. Every page needs
// a signed-in user unless `guest: true`; `admin: true` pages show a "not
// available" page to other roles (the server refuses their API calls anyway).
const settings = () => import('./pages/settings.js');
const routes = [
  { path: '/', title: 'Dashboard', load: () => import('./pages/dashboard.js') },
  { path: '/monitor', title: 'System Monitor', load: () => import('./pages/monitor.js') },
  { path: '/scripts', title: 'Scripts', admin: true, load: () => import('./pages/scripts.js') },
  { path: '/history', title: 'History', load: () => import('./pages/history.js') },
  { path: '/plugins', title: 'Plugins', load: () => import('./pages/plugins.js') },
  { path: '/plugins/:id', title: 'Plugin details', load: () => import('./pages/plugins.js') },
  { path: '/plugin/:id', title: 'Plugin', load: () => import('./pages/plugin-view.js') },
  { path: '/settings', title: 'Settings', load: settings },
  { path: '/settings/:section', title: 'Settings', load: settings },
  { path: '/login', title: 'Sign in', chrome: false, guest: true, load: () => import('./pages/login.js') },
];
const notFound = { title: 'Not found', load: () => import('./pages/notfound.js') };
const forbidden = { title: 'Not available', load: () => import('./pages/forbidden.js') };

let root = null;
let current = null;  // {module, controller} of the mounted page
let renderSeq = 0;   // a newer navigation wins over a slower, older one

/** Matches a pathname against the route table; unknown paths get notFound. */
export function matchRoute(pathname) {
  const clean = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const segments = clean.split('/').slice(1);
  for (const route of routes) {
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
  window.addEventListener('popstate', () => render({ focus: true }));
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
  navigate(url.pathname + url.search + url.hash);
}

/** The address to sign in at and come back to `path` afterwards. */
export function loginPath(path) {
  return `/login?next=${encodeURIComponent(path)}`;
}

/** `next` of the login page when it is a path on this site, else "/": it
 *  comes from the address bar, and an absolute or protocol-relative URL
 *  there would be an open redirect. */
export function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  let url;
  try {
    url = new URL(next, window.location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== window.location.origin || url.pathname === '/login') return '/';
  return url.pathname + url.search + url.hash;
}

// Which page the current address shows to the current user. Rewrites the
// address on the way: signed out → /login?next=…, signed in on /login → next.
function resolve() {
  for (let hop = 0; ; hop += 1) {
    const url = new URL(window.location.href);
    const { route, params } = matchRoute(url.pathname);
    const user = getUser();
    if (hop < 2 && !user && !route.guest) {
      history.replaceState(null, '', loginPath(url.pathname + url.search + url.hash));
      continue;
    }
    if (hop < 2 && user && route.guest) {
      history.replaceState(null, '', safeNext(url.searchParams.get('next')));
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

  unmountCurrent();
  setChrome(route.chrome !== false);
  markActiveNav(nav);
  setTitle(route.title);

  const controller = new AbortController();
  current = { module, controller };
  root.replaceChildren();
  root.removeAttribute('aria-busy');
  const ctx = {
    path: url.pathname,
    params,
    query: url.searchParams,
    signal: controller.signal, // aborted when the page is left
    navigate,
    setTitle: (title) => { if (seq === renderSeq) setTitle(title); },
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

function unmountCurrent() {
  if (!current) return;
  const { module, controller } = current;
  current = null;
  try {
    if (typeof module.unmount === 'function') module.unmount(root);
  } catch (err) {
    console.error('Leaving page failed', err);
  } finally {
    controller.abort();
  }
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
