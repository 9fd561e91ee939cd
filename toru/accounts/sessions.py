"""Server-side sessions. The browser holds a random 32-byte token in the
`toru_session` cookie; the database holds only its SHA-256, so a leaked
database opens no session. Sessions last 7 days from their last use.

Each session also has a public `id` (16 random hex digits): what the
sessions list shows and what revoking names. The hash never leaves the
server: it is the key a cookie is looked up by, not a name to hand out.
`via` is "proxy" for a session opened from an identity proxy's header
(`trusted_header.py`), NULL for a password sign-in.
"""

import hashlib
import re
import secrets
import time

from toru.accounts.credentials import CredentialCache

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
    """`credentials` keeps each live session's row in memory (and its user,
    which `Auth` adds): every write here that ends a session forgets it."""

    def __init__(self, store, credentials=None):
        self.store = store
        self.credentials = credentials or CredentialCache(store)

    def create(self, user, ip, user_agent, via=None):
        """A new token for `user` (a new one on every login: no fixation)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.store.execute(
            "INSERT INTO sessions(token_hash, id, user_id, username, created_at, last_seen, expires_at, ip, "
            "user_agent, via) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (token_hash(token), secrets.token_hex(8), user["id"] or None, user["username"], now, now,
             now + LIFETIME, ip, (user_agent or "")[:300], via))
        return token

    def lookup(self, token):
        """The live session of `token` (and slide its expiry), or None: a dict
        {user_id, username, expires_at, last_seen, user}, where `user` is for
        the caller to fill (`Auth.user_for_token`) and is kept with it."""
        if not token or len(token) > 100:
            return None
        key = token_hash(token)
        session = self.credentials.get(key)
        if session is None:
            row = self.store.one("SELECT user_id, username, expires_at, last_seen FROM sessions "
                                 "WHERE token_hash = ?", (key,))
            if row is None:
                return None
            session = self.credentials.put(key, dict(row, user=None))
        now = time.time()
        if session["expires_at"] <= now:
            self.store.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
            self.credentials.forget_all()
            return None
        if now - session["last_seen"] > TOUCH_EVERY:
            self.store.execute("UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?",
                               (now, now + LIFETIME, key))
            session["last_seen"], session["expires_at"] = now, now + LIFETIME
        return session

    def delete(self, token):
        self.store.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))
        self.credentials.forget_all()

    def delete_for_user(self, user, keep_token=None):
        """End every session of `user` (but `keep_token`'s, if given); how many ended."""
        keep = token_hash(keep_token) if keep_token else ""
        where, params = owner_clause(user)
        ended = self.store.execute(f"DELETE FROM sessions WHERE {where} AND token_hash != ?",
                                   (*params, keep)).rowcount
        self.credentials.forget_all()
        return ended

    def list_for_user(self, user, current_token=None):
        """`user`'s live sessions, newest use first, as the API shows them."""
        where, params = owner_clause(user)
        rows = self.store.all(f"SELECT * FROM sessions WHERE {where} AND expires_at > ? "
                              "ORDER BY last_seen DESC, created_at DESC", (*params, time.time()))
        current = token_hash(current_token) if current_token else None
        return [public_session(row, row["token_hash"] == current) for row in rows]

    def delete_one(self, user, session_id):
        """End `user`'s session `session_id`; False when `user` has none by that id."""
        if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
            return False
        where, params = owner_clause(user)
        ended = self.store.execute(f"DELETE FROM sessions WHERE {where} AND id = ?",
                                   (*params, session_id)).rowcount
        self.credentials.forget_all()
        return ended > 0

    def cleanup(self):
        # Expired sessions are refused by lookup already; nothing cached to forget.
        return self.store.execute("DELETE FROM sessions WHERE expires_at <= ?", (time.time(),)).rowcount


SESSION_ID_RE = re.compile(r"^[0-9a-f]{16}$")


def owner_clause(user):
    """SQL matching `user`'s sessions: by id, or for the env admin (id 0,
    stored as NULL) by its name."""
    if user["id"]:
        return "user_id = ?", (user["id"],)
    return "user_id IS NULL AND username = ? COLLATE NOCASE", (user["username"],)


def public_session(row, current):
    """What a sessions list shows: never the token hash."""
    return {"id": row["id"], "created_at": row["created_at"], "last_seen": row["last_seen"],
            "expires_at": row["expires_at"], "ip": row["ip"], "user_agent": row["user_agent"] or "",
            "device": describe_user_agent(row["user_agent"]), "via": row["via"] or "password",
            "current": current}


# (pattern, name); the first group, when there is one, is the version. Order
# matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
BROWSERS = [
    (re.compile(r"Edg(?:e|A|iOS)?/(\d+)"), "Edge"),
    (re.compile(r"OPR/(\d+)"), "Opera"),
    (re.compile(r"(?:Firefox|FxiOS)/(\d+)"), "Firefox"),
    (re.compile(r"(?:Chrome|Chromium|CriOS)/(\d+)"), "Chrome"),
    (re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/"), "Safari"),
    (re.compile(r"^curl/([\d.]+)"), "curl"),
    (re.compile(r"^Wget/([\d.]+)"), "Wget"),
    (re.compile(r"python-requests/([\d.]+)"), "Python requests"),
    (re.compile(r"Python-urllib/([\d.]+)"), "Python"),
]
SYSTEMS = [
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Linux|X11"), "Linux"),
]
UNKNOWN_DEVICE = "Unknown device"
SHORT_UA = 40


def describe_user_agent(user_agent):
    """A User-Agent in words: "Firefox 128 on Linux", "Chrome 126 on
    Android", "curl 8.5.0"; anything else shortened to 40 characters."""
    text = (user_agent or "").strip()
    if not text:
        return UNKNOWN_DEVICE
    browser = next((f"{name} {m.group(1)}" for pattern, name in BROWSERS if (m := pattern.search(text))), None)
    system = next((name for pattern, name in SYSTEMS if pattern.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    return text if len(text) <= SHORT_UA else text[:SHORT_UA] + "…"
