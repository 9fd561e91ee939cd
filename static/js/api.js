// The one fetch wrapper. JSON in and out, same-origin cookies; every failure
// becomes an ApiError(status, message) for the caller to show in a toast.
// It imports nothing: a 401 (the session ended) is announced as the
// `toru:unauthorized` event on window, and app.js signs the user out and
// shows the login page.

/** The event a 401 outside /api/auth/* dispatches on window; detail: {path}. */
export const UNAUTHORIZED_EVENT = 'toru:unauthorized';

export const NETWORK_ERROR = 'Cannot reach the server — check that Toru is running';

export class ApiError extends Error {
  constructor(status, message, data = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
    this.data = data;     // the parsed error body, if any
    this.handled = false; // true once the wrapper acted on it (401 → login)
  }
}

// options: {signal} to cancel the request (pages pass ctx.signal).
async function request(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  let data;
  try {
    response = await fetch(path, init);
    data = await readBody(response);
  } catch (err) {
    if (err instanceof ApiError || (err && err.name === 'AbortError')) throw err;
    throw new ApiError(0, NETWORK_ERROR);
  }

  if (!response.ok) {
    const message = (data && typeof data === 'object' && typeof data.error === 'string' && data.error)
      || response.statusText || `Request failed (HTTP ${response.status})`;
    const error = new ApiError(response.status, message, data);
    // An expired session: the app sends the user to sign in and back (the
    // caller need not show it). Calls to /api/auth/* (the login form
    // itself) show their own 401 instead.
    if (response.status === 401 && !isAuthPath(path)) error.handled = announceUnauthorized(path);
    throw error;
  }
  return data;
}

async function readBody(response) {
  if (response.status === 204 || response.status === 205) return null;
  const text = await response.text();
  if (!text) return null;
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('json')) return text;
  try {
    return JSON.parse(text);
  } catch {
    if (!response.ok) return null; // fall back to the status text
    throw new ApiError(response.status, 'The server sent a response that is not valid JSON');
  }
}

function isAuthPath(path) {
  return new URL(path, window.location.origin).pathname.startsWith('/api/auth/');
}

// True when a listener took it (the app is not already on the login page).
function announceUnauthorized(path) {
  const onLogin = window.location.pathname === '/login';
  window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: { path } }));
  return !onLogin;
}

// Writes always carry a JSON body ({} when none is given): the server only
// accepts state-changing requests with a JSON body.
export const api = {
  get: (path, options) => request('GET', path, undefined, options),
  post: (path, body = {}, options) => request('POST', path, body, options),
  put: (path, body = {}, options) => request('PUT', path, body, options),
  patch: (path, body = {}, options) => request('PATCH', path, body, options),
  del: (path, options) => request('DELETE', path, undefined, options),
};
