// Who is signed in: a tiny store read by the layout (role-based navigation,
// the user menu), the router (sign-in guard) and pages. The server is the
// authority on every permission; this only decides what to show.

let user = null;
const listeners = new Set();

/** The signed-in user {id, username, display_name, role, and from the
 *  session answer totp_enabled, totp_setup_required}, or null. */
export function getUser() {
  return user;
}

export function isAdmin() {
  return Boolean(user && user.role === 'admin');
}

/** Sets (or with null, clears) the signed-in user and tells the listeners. */
export function setUser(next) {
  const value = next ? { ...next } : null;
  if (sameUser(user, value)) return;
  user = value;
  for (const fn of [...listeners]) {
    try {
      fn(user);
    } catch (err) {
      console.error('A session listener failed', err);
    }
  }
}

/** Calls fn(user) on every change; returns a function that stops it. */
export function onUserChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function sameUser(a, b) {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.id === b.id && a.username === b.username && a.display_name === b.display_name && a.role === b.role
    && Boolean(a.totp_enabled) === Boolean(b.totp_enabled)
    && Boolean(a.totp_setup_required) === Boolean(b.totp_setup_required);
}
