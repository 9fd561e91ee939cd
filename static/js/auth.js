// Signing in and out, and learning who is signed in when the app starts.
import { api } from './api.js';
import { setUser } from './session.js';

/** Asks the server who is signed in (once, at start). Resolves to the user
 *  or null (signed out is a 200 with `user: null`, not a 401); a server that
 *  cannot be reached also gives null, with the error. */
export async function loadSession() {
  try {
    const data = await api.get('/api/auth/session');
    setUser(data.user);  // must it set up two-factor sign-in first? the router sends it there
    return { user: data.user, error: null };
  } catch (err) {
    setUser(null);
    return { user: null, error: err };
  }
}

/** POST /api/auth/login with {username, password} and, in the second step
 *  of a two-factor sign-in, `code`; sets the user on success and resolves to
 *  the whole answer (it may say `totp_setup_required` or
 *  `recovery_codes_left`), throws ApiError else (401 with `totp_required`:
 *  ask for the code). */
export async function signIn({ username, password, code }, options) {
  const body = code ? { username, password, code } : { username, password };
  const data = await api.post('/api/auth/login', body, options);
  setUser({ ...data.user, totp_setup_required: Boolean(data.totp_setup_required) });
  return data;
}

/** Where an admin who must set up two-factor sign-in is sent (the server
 *  refuses everything else to them until then). */
export const TWO_FACTOR_PATH = '/settings/account';

/** Ends the session on the server, then forgets the user. When the server
 *  cannot be reached this throws and the user stays signed in: pretending
 *  otherwise would leave a live session behind. */
export async function signOut() {
  await api.post('/api/auth/logout');
  setUser(null);
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
