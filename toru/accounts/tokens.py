"""API tokens: scripts, CI jobs and Prometheus call Toru without a browser
session (docs/security.md#api-tokens).

A token is `toru_` + 32 random bytes (URL-safe base64): the prefix lets
secret scanners find a leaked one. Only its SHA-256 is stored, as for
session cookies. It belongs to a user and never reaches further than that
user may: a token acts as its owner, narrowed by its scopes, and stops
working the moment the owner is deactivated or deleted.

Scopes, checked by `AccessPlugin` against the route table:
- `metrics`: `GET /metrics` only;
- `read`: every GET the owner may call;
- `run`: the routes marked `scope="run"` — list, execute and follow the
  quick actions the owner may run;
- `admin`: everything the owner may (an admin's tokens only).
"""

import hashlib
import logging
import secrets
import time
from datetime import datetime, timezone

import bottle

from toru.accounts.auth import current_user, is_admin
from toru.checks import known_fields, label
from toru.errors import FieldErrors, Invalid, NotFound
from toru.web.http import STATE_CHANGING, json_body
from toru.web.security import TOKEN_PREFIX

log = logging.getLogger("toru.auth")
audit = logging.getLogger("toru.audit")

SCOPES = {"metrics": "read /metrics (Prometheus)",
          "read": "read everything its owner may read (GET requests)",
          "run": "list, run and follow the quick actions its owner may run",
          "admin": "everything its owner may do (admins only)"}
NAME_LIMIT = 100
MAX_TOKENS_PER_USER = 100
SHOWN_PREFIX = 8          # characters of the secret kept to recognise a token in lists
LAST_USE_EVERY = 60       # seconds: last_used_at/ip are written at most this often (same IP)
READS_LOGGED_EVERY = 60   # seconds: a token's reads from one address make one log line this often


def token_hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(value):
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX) and 20 <= len(value) <= 100


def parse_expiry(value, now):
    """None, epoch seconds, or an ISO 8601 date/date-time (a date means its
    end, 23:59:59 UTC); it must lie in the future."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid("A date (2027-12-31), a date-time with zone, or epoch seconds")
    if isinstance(value, (int, float)):
        when = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"{value!r} is not a date (2027-12-31) or a date-time (2027-12-31T18:00:00Z)") from None
        if len(value.strip()) == 10:  # a plain date: valid through that day
            parsed = parsed.replace(hour=23, minute=59, second=59)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        when = parsed.timestamp()
    else:
        raise Invalid("A date (2027-12-31), a date-time with zone, or epoch seconds")
    if when <= now:
        raise Invalid("Must be in the future")
    return when


def check_scopes(value, owner):
    allowed = [s for s in SCOPES if s != "admin" or is_admin(owner)]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise Invalid(f"A list of scopes: {', '.join(allowed)}")
    if not value:
        raise Invalid(f"Choose at least one scope ({', '.join(allowed)})")
    unknown = [s for s in value if s not in SCOPES]
    if unknown:
        raise Invalid(f"Unknown scope {unknown[0]!r}: choose from {', '.join(allowed)}")
    if "admin" in value and not is_admin(owner):
        raise Invalid("Only an admin's token may have the admin scope")
    return sorted(set(value), key=list(SCOPES).index)


class UseLog:
    """Every use of a token reaches the log with its id, never its secret.
    A change (POST, PUT, PATCH, DELETE) is a line of its own. Reads — a
    Prometheus scrape every few seconds, a script polling a run — are one
    line per token and address a minute: the first read, with how many
    reads came since the previous line. A line per scrape would cost more
    than the scrape (docs/benchmarks.md) and bury everything else."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.reads = {}  # (token id, ip) → [time of its last line, reads since]

    def record(self, token, owner, method, path, ip):
        fields = {"token_id": token["id"], "user": owner["username"], "method": method, "path": path, "ip": ip}
        if method in STATE_CHANGING:
            log.info("api token used", extra=fields)
            return
        now = self.clock()
        key = (token["id"], ip)
        window = self.reads.get(key)
        if window is not None and now - window[0] < READS_LOGGED_EVERY:
            window[1] += 1
            return
        if len(self.reads) > 10_000:  # many addresses: forget the quiet ones
            self.reads = {k: w for k, w in self.reads.items() if now - w[0] < READS_LOGGED_EVERY}
        self.reads[key] = [now, 0]
        log.info("api token used", extra=dict(fields, reads_since_last_line=window[1] if window else 0))


def public(row):
    return {"id": row["id"], "name": row["name"], "scopes": row["scopes"].split(), "prefix": row["prefix"],
            "user_id": row["user_id"] if row["user_id"] is not None else 0, "username": row["username"],
            "created_at": row["created_at"], "expires_at": row["expires_at"], "last_used_at": row["last_used_at"],
            "last_used_ip": row["last_used_ip"]}


class Tokens:
    """`credentials` keeps each live token's row and owner in memory
    (`credentials.py`): a revoke, or any write to its owner, forgets it."""

    def __init__(self, store, accounts, credentials=None, clock=time.time):
        self.store = store
        self.accounts = accounts
        self.credentials = credentials or accounts.credentials
        self.clock = clock
        self.uses = UseLog()

    def create(self, owner, data):
        """(secret, token) for `owner`; the secret exists only in this answer."""
        known_fields(data, ("name", "scopes", "expires_at"))
        errors = FieldErrors()
        name = errors.check("name", label, data.get("name"), NAME_LIMIT)
        scopes = errors.check("scopes", check_scopes, data.get("scopes"), owner)
        expires_at = errors.check("expires_at", parse_expiry, data.get("expires_at"), self.clock())
        errors.raise_any()
        owner_id = owner["id"] or None  # the environment admin (id 0) is NULL, as in sessions
        count = self.store.one("SELECT count(*) AS n FROM api_tokens WHERE user_id IS ? AND username = ?",
                               (owner_id, owner["username"]))["n"]
        if count >= MAX_TOKENS_PER_USER:
            raise Invalid(f"{owner['username']} has {count} tokens, the most one user may have: revoke some first")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        cursor = self.store.execute(
            "INSERT INTO api_tokens(user_id, username, name, scopes, token_hash, prefix, created_at, expires_at) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
            (owner_id, owner["username"], name, " ".join(scopes), token_hash(secret), secret[:SHOWN_PREFIX],
             self.clock(), expires_at))
        return secret, self.get(cursor.lastrowid)

    def get(self, token_id):
        row = self.store.one("SELECT * FROM api_tokens WHERE id = ?", (token_id,))
        if row is None:
            raise NotFound("No token with that id")
        return public(row)

    def list(self, user=None):
        """The tokens of `user` (None or an admin: every token)."""
        if user is None or is_admin(user):
            rows = self.store.all("SELECT * FROM api_tokens ORDER BY created_at DESC, id DESC")
        else:
            rows = self.store.all("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC",
                                  (user["id"],))
        return [public(r) for r in rows]

    def revoke(self, token_id, user=None):
        """Delete a token: its owner or an admin (None: the CLI) may."""
        token = self.get(token_id)
        if user is not None and not is_admin(user) and token["user_id"] != user["id"]:
            raise NotFound("No token with that id")  # someone else's: not even its existence
        self.store.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
        self.credentials.forget_all()
        return token

    def authenticate(self, secret, ip):
        """(owner, token) for a live token, else (None, reason)."""
        if not looks_like_token(secret):
            return None, "unknown token"
        key = "token:" + token_hash(secret)  # never equal to a session's key (a bare hex digest)
        entry = self.credentials.get(key)
        if entry is None:
            row = self.store.one("SELECT * FROM api_tokens WHERE token_hash = ?", (key[6:],))
            if row is None:
                return None, "unknown token"
            entry = self.credentials.put(key, {"token": public(row), "owner": None})
        token, now = entry["token"], self.clock()
        if token["expires_at"] is not None and token["expires_at"] <= now:
            return None, "token expired"
        if entry["owner"] is None:
            entry["owner"] = self.accounts.user_for_session(token["user_id"] or None, token["username"])
            if entry["owner"] is None:
                return None, "token owner deactivated or deleted"
        if token["last_used_at"] is None or now - token["last_used_at"] >= LAST_USE_EVERY or token["last_used_ip"] != ip:
            self.store.execute("UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?",
                               (now, ip, token["id"]))
            token["last_used_at"], token["last_used_ip"] = now, ip
        return dict(entry["owner"]), dict(token)


def register(app, services):
    tokens = services.tokens

    @app.get("/api/tokens", role="user")
    def list_tokens():
        return {"tokens": tokens.list(current_user()), "scopes": SCOPES}

    @app.post("/api/tokens", role="user", audit="token.create")
    def create_token():
        user = current_user()  # a token gets here only with the admin scope (auth.allows)
        secret, token = tokens.create(user, json_body())
        audit.info("api token created", extra={"actor": user["username"], "token_id": token["id"],
                                               "scopes": token["scopes"], "expires_at": token["expires_at"]})
        bottle.response.status = 201
        return {"token": token, "secret": secret}

    @app.delete("/api/tokens/<token_id:int>", role="user", audit="token.revoke")
    def revoke_token(token_id):
        user = current_user()
        token = tokens.revoke(token_id, user)
        audit.info("api token revoked", extra={"actor": user["username"], "token_id": token_id,
                                               "owner": token["username"]})
        return {"success": True}

