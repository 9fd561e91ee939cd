"""User accounts: the env admin (from ADMIN_USERNAME / ADMIN_PASSWORD, or a
generated password whose hash lives in settings) and client or admin users
stored in SQLite with argon2id hashes.

A user is handed around as a plain dict: {id, username, display_name, role,
source}; `id` is 0 and `source` "env" for the env admin.
"""

import hashlib
import hmac
import logging
import re
import sqlite3
import time
import unicodedata

import bottle

from toru.accounts import passwords
from toru.accounts.auth import current_user, session_token
from toru.accounts.credentials import CredentialCache
from toru.errors import Conflict, FieldErrors, Forbidden, Invalid, NotFound
from toru.web.http import json_body

log = logging.getLogger("toru.accounts")
audit = logging.getLogger("toru.audit")

ENV_ADMIN_ID = 0
ROLES = ("admin", "client")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MAX_DISPLAY_NAME = 100
ADMIN_HASH_SETTING = "admin_password_hash"
# Where the stored admin password came from: "generated" (first start),
# "reset" (reset-admin-password) or "changed" (by the admin, in the UI).
ADMIN_SOURCE_SETTING = "admin_credential_source"


class Accounts:
    """`credentials`: signed-in users are kept in memory by their session or
    token (`credentials.py`); every write to a user here forgets them."""

    def __init__(self, store, config, credentials=None):
        self.store = store
        self.config = config
        self.credentials = credentials or CredentialCache(store)

    # --- env admin -----------------------------------------------------------
    def setup_admin(self):
        """Prepare the env admin's password. Returns the generated password on
        the very first start without ADMIN_PASSWORD (to print once), else None."""
        if self.config.admin_password or self.store.get_setting(ADMIN_HASH_SETTING):
            return None
        password = passwords.generate()
        self._set_admin_hash(passwords.hash_password(password), "generated")
        log.info("admin password generated", extra={"username": self.config.admin_username})
        return password

    def reset_generated_admin_password(self):
        password = passwords.generate()
        self._set_admin_hash(passwords.hash_password(password), "reset")
        return password

    def _set_admin_hash(self, password_hash, source):
        with self.store.transaction():
            self.store.set_setting(ADMIN_HASH_SETTING, password_hash)
            self.store.set_setting(ADMIN_SOURCE_SETTING, source)
        self.credentials.forget_all()

    def admin_credential_source(self):
        """"environment" (ADMIN_PASSWORD), or where the stored one came from."""
        if self.config.admin_password:
            return "environment"
        return self.store.get_setting(ADMIN_SOURCE_SETTING) or "generated"

    def admin_hash(self):
        """The generated (or since changed) admin password's hash."""
        return self.store.get_setting(ADMIN_HASH_SETTING)

    def check_admin_password(self, password):
        """Constant time either way: ADMIN_PASSWORD is compared by digest
        after an argon2 verification of the same cost as any login."""
        if self.config.admin_password:
            passwords.verify(passwords.dummy_hash(), password)
            return hmac.compare_digest(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest(),
                                       hashlib.sha256(self.config.admin_password.encode()).digest())
        return passwords.verify(self.admin_hash() or passwords.dummy_hash(), password)

    def env_admin(self):
        return {"id": ENV_ADMIN_ID, "username": self.config.admin_username,
                "display_name": self.config.admin_display_name, "role": "admin", "source": "env"}

    def is_env_admin_name(self, username):
        return username.lower() == self.config.admin_username.lower()

    # --- authentication ------------------------------------------------------
    def active_user(self, username):
        """The active user called `username` (the environment admin too), or None."""
        if self.is_env_admin_name(username):
            return self.env_admin()
        row = self.store.one("SELECT * FROM users WHERE username = ? AND active = 1", (username,))
        return user_dict(row) if row else None

    def authenticate(self, username, password):
        """(user, None) on success, else (None, reason). Every path verifies
        one argon2 hash, so all failures cost the same time."""
        if self.is_env_admin_name(username):
            ok = self.check_admin_password(password)
            return (self.env_admin(), None) if ok else (None, "bad_password")
        row = self.store.one("SELECT * FROM users WHERE username = ?", (username,))
        if row is None:
            passwords.verify(passwords.dummy_hash(), password)
            return None, "unknown_user"
        if not passwords.verify(row["password_hash"], password):
            return None, "bad_password"
        if not row["active"]:
            return None, "inactive"
        if passwords.needs_rehash(row["password_hash"]):
            self._set_hash(row["id"], passwords.hash_password(password))
        return user_dict(row), None

    def user_for_session(self, user_id, username):
        """The live user behind a session, or None if it may no longer sign in."""
        if user_id is None:
            return self.env_admin() if self.is_env_admin_name(username) else None
        row = self.store.one("SELECT * FROM users WHERE id = ? AND active = 1", (user_id,))
        return user_dict(row) if row else None

    # --- users (admin API) ---------------------------------------------------
    def list_users(self):
        rows = self.store.all("SELECT * FROM users ORDER BY username COLLATE NOCASE")
        env = dict(self.env_admin(), active=True, is_active=True, editable=False, created_at=None,
                   credential_source=self.admin_credential_source())
        return [env] + [public_user(r) for r in rows]

    def get(self, user_id):
        row = self.store.one("SELECT * FROM users WHERE id = ?", (user_id,))
        if row is None:
            if user_id == ENV_ADMIN_ID:
                raise Forbidden("The environment admin is configured by ADMIN_USERNAME/ADMIN_PASSWORD and cannot be changed here")
            raise NotFound("User not found")
        return row

    def create_user(self, data):
        errors = FieldErrors()
        username = errors.check("username", check_username, data.get("username"))
        display_name = errors.check("display_name", check_display_name,
                                    data.get("display_name", username) or username)
        role = errors.check("role", check_role, data.get("role", "client"))
        active = errors.check("active", check_active, data, True)
        password = data.get("password")
        errors.check("password", passwords.check_policy, password, username or "")
        errors.raise_any()
        if self.is_env_admin_name(username):
            raise Conflict("That username belongs to the environment admin",
                           fields={"username": "Taken by the server's administrator"})
        password_hash = passwords.hash_password(password)
        now = time.time()
        try:
            cur = self.store.execute(
                "INSERT INTO users(username, display_name, role, password_hash, active, created_at, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?)", (username, display_name, role, password_hash, int(active), now, now))
        except sqlite3.IntegrityError:
            raise Conflict("A user with that username already exists",
                           fields={"username": "A user with that username already exists"}) from None
        return public_user(self.get(cur.lastrowid))

    def update_user(self, user_id, data):
        row = self.get(user_id)
        changes, errors = {}, FieldErrors()
        if "display_name" in data:
            changes["display_name"] = errors.check("display_name", check_display_name, data["display_name"])
        if "role" in data:
            changes["role"] = errors.check("role", check_role, data["role"])
        active = errors.check("active", check_active, data, None)
        if active is not None:
            changes["active"] = int(active)
        for name in sorted(set(data) - {"display_name", "role", "active", "is_active"}):
            errors.add(name[:64], "Unknown field")
        errors.raise_any()
        if not changes:
            raise Invalid("Nothing to change: send display_name, role or active")
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.store.execute(f"UPDATE users SET {sets}, updated_at = ? WHERE id = ?",
                           (*changes.values(), time.time(), row["id"]))
        self.credentials.forget_all()
        return public_user(self.get(user_id))

    def set_password(self, user_id, password):
        row = self.get(user_id)
        errors = FieldErrors()
        errors.check("password", passwords.check_policy, password, row["username"])
        errors.raise_any()
        self._set_hash(row["id"], passwords.hash_password(password))

    def delete_user(self, user_id):
        row = self.get(user_id)
        self.store.execute("DELETE FROM users WHERE id = ?", (row["id"],))
        self.credentials.forget_all()
        return row["username"]

    def change_own_password(self, user, current, new):
        errors = FieldErrors()
        if not isinstance(current, str) or not current:
            errors.add("current_password", "Your current password is required")
        if not isinstance(new, str) or not new:
            errors.add("new_password", "A new password is required")
        else:
            errors.check("new_password", passwords.check_policy, new, user["username"])
        errors.raise_any()
        if user["source"] == "env" and self.config.admin_password:
            raise Conflict("The admin password is set by ADMIN_PASSWORD; change it there and restart")
        stored = self.admin_hash() if user["source"] == "env" else self.get(user["id"])["password_hash"]
        if not passwords.verify(stored, current):
            raise Forbidden("Current password is wrong", fields={"current_password": "Current password is wrong"})
        if user["source"] == "env":
            self._set_admin_hash(passwords.hash_password(new), "changed")
        else:
            self._set_hash(user["id"], passwords.hash_password(new))

    def _set_hash(self, user_id, password_hash):
        self.store.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                           (password_hash, time.time(), user_id))
        self.credentials.forget_all()


def user_dict(row):
    return {"id": row["id"], "username": row["username"], "display_name": row["display_name"],
            "role": row["role"], "source": "db"}


def public_user(row):
    active = bool(row["active"])
    return dict(user_dict(row), active=active, is_active=active, editable=True, created_at=row["created_at"])


def check_active(data, default):
    """`active`, or the original Toru's `is_active` (DESIGN §6a); both must agree when both are sent."""
    given = {key: data[key] for key in ("active", "is_active") if key in data}
    for key, value in given.items():
        if not isinstance(value, bool):
            raise Invalid(f"{key} must be true or false")
    if len(set(given.values())) > 1:
        raise Invalid("active and is_active disagree; send one of them")
    return next(iter(given.values()), default)


def check_username(value):
    if not isinstance(value, str) or not USERNAME_RE.match(value):
        raise Invalid("Username must be 1-64 characters: letters, digits and . _ @ - (starting with a letter or digit)")
    return value


def check_display_name(value):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Display name must be a non-empty string")
    value = value.strip()
    if len(value) > MAX_DISPLAY_NAME:
        raise Invalid(f"Display name must be at most {MAX_DISPLAY_NAME} characters")
    # Control and format characters (U+202E, zero-width…) let one name pose as another.
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise Invalid("Display name must not contain control or invisible formatting characters")
    return value


def check_role(value):
    if value not in ROLES:
        raise Invalid("Role must be 'admin' or 'client'")
    return value


def register(app, services):
    accounts, sessions = services.accounts, services.sessions

    def actor():
        return current_user()["username"]

    def not_yourself(user_id, what):
        accounts.get(user_id)  # 404 / env admin's 403 come first
        if current_user()["id"] == user_id:
            raise Conflict(f"You cannot {what} your own account")

    @app.get("/api/users", role="admin")
    def list_users():
        with_2fa = services.auth.two_factor.enabled_users()
        return {"users": [dict(u, totp_enabled=(u["id"], u["username"].lower()) in with_2fa)
                          for u in accounts.list_users()]}

    @app.post("/api/users", role="admin", audit="user.create")
    def create_user():
        user = accounts.create_user(json_body())
        audit.info("user created", extra={"actor": actor(), "target": user["username"], "role": user["role"]})
        bottle.response.status = 201
        return {"user": user}

    @app.patch("/api/users/<user_id:int>", role="admin", audit="user.update")
    def update_user(user_id):
        data = json_body()
        if data.get("active") is False or data.get("is_active") is False or "role" in data:
            not_yourself(user_id, "deactivate or change the role of")
        user = accounts.update_user(user_id, data)
        if not user["active"]:
            sessions.delete_for_user(user)
        services.hub.recheck_user(user_id)  # a deactivated user's sockets and task watching end now
        audit.info("user updated", extra={"actor": actor(), "target": user["username"], "changes": sorted(data)})
        return {"user": user}

    @app.post("/api/users/<user_id:int>/password", role="admin", audit="user.password_reset")
    def reset_password(user_id):
        not_yourself(user_id, "reset the password of (use PUT /api/me/password for)")
        password = json_body().get("password")
        accounts.set_password(user_id, password)
        row = accounts.get(user_id)
        sessions.delete_for_user(user_dict(row))
        audit.info("password reset", extra={"actor": actor(), "target": row["username"]})
        return {"success": True}

    @app.delete("/api/users/<user_id:int>/2fa", role="admin", audit="user.2fa_reset")
    def reset_two_factor(user_id):
        """Turn off someone's two-factor sign-in (a lost phone, no recovery
        codes left), the env admin's too. Their sessions end: the lost
        device may hold one. Their API tokens stay (revoke those apart)."""
        target = accounts.env_admin() if user_id == ENV_ADMIN_ID else user_dict(accounts.get(user_id))
        if current_user()["id"] == user_id:
            raise Conflict("Turn your own two-factor sign-in off under My account (it asks for a code)")
        if not services.auth.two_factor.disable(target):
            raise Conflict(f"{target['username']} has no two-factor sign-in to reset")
        sessions.delete_for_user(target)
        services.hub.recheck_user(user_id)
        audit.info("2fa reset", extra={"actor": actor(), "target": target["username"]})
        return {"success": True}

    @app.delete("/api/users/<user_id:int>", role="admin", audit="user.delete")
    def delete_user(user_id):
        not_yourself(user_id, "delete")
        # Sessions and quick action grants go with it (ON DELETE CASCADE).
        username = accounts.delete_user(user_id)
        services.hub.recheck_user(user_id)
        audit.info("user deleted", extra={"actor": actor(), "target": username})
        return {"success": True}

    register_sessions(app, services)


def register_sessions(app, services):
    """Anyone's sessions, for admins (your own: /api/me/sessions in auth.py).
    `:id` 0 is the env admin; the ids are the sessions' public ones."""
    accounts, sessions = services.accounts, services.sessions

    def target(user_id):
        return accounts.env_admin() if user_id == ENV_ADMIN_ID else user_dict(accounts.get(user_id))

    def ended(user, what, **fields):
        services.hub.recheck_user(user["id"])  # their open WebSockets close now
        audit.info(what, extra=dict(fields, actor=current_user()["username"], target=user["username"]))

    @app.get("/api/users/<user_id:int>/sessions", role="admin")
    def user_sessions(user_id):
        user = target(user_id)
        token = session_token() if current_user()["id"] == user_id else None
        return {"user": {"id": user["id"], "username": user["username"]},
                "sessions": sessions.list_for_user(user, token)}

    @app.delete("/api/users/<user_id:int>/sessions/<session_id>", role="admin", audit="user.session_revoke")
    def end_user_session(user_id, session_id):
        user = target(user_id)
        if not sessions.delete_one(user, session_id):
            raise NotFound("That user has no such session (it may have ended already)")
        ended(user, "session revoked", session_id=session_id)
        return {"success": True}

    @app.delete("/api/users/<user_id:int>/sessions", role="admin", audit="user.sessions_revoke")
    def end_user_sessions(user_id):
        """All of them; your own current session stays when it is yours."""
        user = target(user_id)
        keep = session_token() if current_user()["id"] == user_id else None
        count = sessions.delete_for_user(user, keep_token=keep)
        ended(user, "sessions revoked", count=count)
        return {"success": True, "revoked": count}
