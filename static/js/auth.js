// Signing in and out, and learning who is signed in when the app starts.
import { api, ApiError } from './api.js';
import { setUser } from './session.js';

/** Asks the server who is signed in (once, at start). Resolves to the user
 *  or null; a server that cannot be reached also gives null, with the error. */
export async function loadSession() {
  try {
    const data = await api.get('/api/auth/me');
    setUser(data.user);
    return { user: data.user, error: null };
  } catch (err) {
    setUser(null);
    return { user: null, error: err instanceof ApiError && err.status === 401 ? null : err };
  }
}

/** POST /api/auth/login; sets the user on success, throws ApiError else. */
export async function signIn(username, password, options) {
  const data = await api.post('/api/auth/login', { username, password }, options);
  setUser(data.user);
  return data.user;
}

/** Ends the session on the server, then forgets the user. When the server
 *  cannot be reached this throws and the user stays signed in: pretending
 *  otherwise would leave a live session behind. */
export async function signOut() {
  await api.post('/api/auth/logout');
  setUser(null);
}
