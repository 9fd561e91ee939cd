// Entry point: builds the shell, learns who is signed in, starts the router.
// The wiring between modules that must not import each other lives here:
// the layout gets the sidebar's links (from the route table) and navigate,
// and a 401 from api.js (the toru:unauthorized event) signs the user out
// and shows the login page.
import { buildLayout } from './ui/layout.js';
import { initToasts, showError } from './ui/toast.js';
import { UNAUTHORIZED_EVENT } from './api.js';
import { loadSession, loginPath } from './auth.js';
import { setUser } from './session.js';
import { navEntries, navigate, startRouter } from './router.js';

const { main } = buildLayout(document.getElementById('app'), { nav: navEntries(), navigate });
initToasts();
main.setAttribute('aria-busy', 'true');

// The session ended (expired, or signed out elsewhere): sign in and come back.
window.addEventListener(UNAUTHORIZED_EVENT, () => {
  setUser(null); // the login page must not bounce back
  const { pathname, search } = window.location;
  if (pathname !== '/login') navigate(loginPath(pathname + search));
});

// Signed out (401) is not an error: the router sends the visitor to sign in.
const { error } = await loadSession();
if (error) showError(error, 'Checking your session failed');
startRouter(main);
