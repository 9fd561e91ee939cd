"""Server-side sessions. The browser holds a random 32-byte token in the
`toru_session` cookie; the database holds only its SHA-256, so a leaked
database opens no session. Sessions last 7 days from their last use.
"""

import hashlib
import secrets
import time

COOKIE = "toru_session"
LIFETIME = 7 * 24 * 3600
TOUCH_EVERY = 60  # seconds between last_seen writes: not one write per request


def cookie_token(environ):
    """The session token from the Cookie header. A plain split: Bottle's
    get_cookie builds a SimpleCookie per request (~20 µs, measured)."""
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Sessions:
    def __init__(self, store):
        self.store = store

    def create(self, user, ip, user_agent):
        """A new token for `user` (a new one on every login: no fixation)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.store.execute(
            "INSERT INTO sessions(token_hash, user_id, username, created_at, last_seen, expires_at, ip, user_agent) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
            (token_hash(token), user["id"] or None, user["username"], now, now, now + LIFETIME,
             ip, (user_agent or "")[:300]))
        return token

    def lookup(self, token):
        """The session row for a live token (and slide its expiry), or None."""
        if not token or len(token) > 100:
            return None
        key = token_hash(token)
        row = self.store.one("SELECT * FROM sessions WHERE token_hash = ?", (key,))
        now = time.time()
        if row is None:
            return None
        if row["expires_at"] <= now:
            self.store.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
            return None
        if now - row["last_seen"] > TOUCH_EVERY:
            self.store.execute("UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?",
                               (now, now + LIFETIME, key))
        return row

    def delete(self, token):
        self.store.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def delete_for_user(self, user, keep_token=None):
        """End every session of `user` (but `keep_token`'s, if given)."""
        keep = token_hash(keep_token) if keep_token else ""
        if user["id"]:
            self.store.execute("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?", (user["id"], keep))
        else:
            self.store.execute("DELETE FROM sessions WHERE user_id IS NULL AND username = ? COLLATE NOCASE "
                               "AND token_hash != ?", (user["username"], keep))

    def cleanup(self):
        return self.store.execute("DELETE FROM sessions WHERE expires_at <= ?", (time.time(),)).rowcount
