"""Signing in and out, and who may call what.

Every route declares `role=` — "public", "user" (any signed-in user),
"admin", or "metrics" (`/metrics`: an admin, a token with the `metrics`
scope, or anyone with TORU_METRICS_PUBLIC=1) — and `AccessPlugin` enforces
it; `create_app` refuses to start with a route that declares none, so no
later route can forget.

A request is either a browser's (the session cookie) or a script's (an API
token, `Authorization: Bearer toru_…`, never a cookie with it). A token acts
as its owner narrowed by its scopes (`toru/accounts/tokens.py`): `allows`
checks them against the route; routes a `run` token may call say
`scope="run"`.
"""

import logging

import bottle

from toru.accounts import sessions as sessions_mod
from toru.errors import Forbidden, Invalid, RateLimited, Unauthorized
from toru.web.security import bearer_token, client_ip
from toru.web.http import json_body, paging

log = logging.getLogger("toru.auth")
audit = logging.getLogger("toru.audit")

# What a route may declare, and what each user role reaches.
ROLE_LEVELS = {"public": 0, "user": 1, "admin": 2, "metrics": 1}
USER_LEVELS = {"client": 1, "admin": 2}
BAD_LOGIN = "Invalid username or password"
BAD_TOKEN = "Invalid API token: it is unknown, revoked or expired, or its owner can no longer sign in"
TOKEN_ATTEMPT = "(api token)"  # the user name of a failed token in the login audit
MAX_CREDENTIAL = 4096  # longer input is refused before argon2 sees it


def is_admin(user):
    return user["role"] == "admin"


def allows(scopes, route, method):
    """May a token with `scopes` call `route` with `method`? Its owner's role is checked apart."""
    if route.config["role"] == "metrics":
        return "metrics" in scopes or "admin" in scopes
    if "admin" in scopes:
        return True
    if "read" in scopes and method in ("GET", "HEAD"):
        return True
    return "run" in scopes and route.config.get("scope") == "run"


class Auth:
    def __init__(self, config, accounts, sessions, limiter, tokens):
        self.config = config
        self.accounts = accounts
        self.sessions = sessions
        self.limiter = limiter
        self.tokens = tokens
        self.login_failures = 0  # failed sign-ins and refused API tokens since start (/metrics)

    def login(self, username, password, ip, user_agent):
        """(user, token) or raise Unauthorized / RateLimited."""
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise Invalid("username and password are required strings")
        if len(username) > 256 or len(password) > MAX_CREDENTIAL:
            raise Invalid("username or password is too long")
        try:
            with self.limiter.attempt(username, ip):
                user, reason = self.accounts.authenticate(username, password)
                # Recorded inside the attempt, before waiting attempts re-check.
                self.limiter.record(username, ip, user_agent, user is not None, reason or "ok")
        except RateLimited:
            self.limiter.record(username, ip, user_agent, False, "locked")
            audit.info("login locked", extra={"username": username, "ip": ip})
            raise
        if user is None:
            self.login_failures += 1
            audit.info("login failed", extra={"username": username, "ip": ip, "reason": reason})
            raise Unauthorized(BAD_LOGIN, **self.limiter.lock_fields(username, ip))
        token = self.sessions.create(user, ip, user_agent)
        audit.info("login", extra={"username": user["username"], "ip": ip, "role": user["role"]})
        return user, token

    def user_for_api_token(self, secret, ip, user_agent):
        """(owner, token) of a live API token; RateLimited while the IP is
        locked out, Unauthorized (counted toward the IP's lock) otherwise."""
        until = self.limiter.ip_locked_until(ip)
        if until:
            retry = max(1, int(until - self.limiter.clock()) + 1)
            raise RateLimited("Too many failed attempts from this address; try again later",
                              headers={"Retry-After": retry}, retry_after=retry, locked_until=int(until) + 1)
        owner, token = self.tokens.authenticate(secret, ip)
        if owner is None:
            reason = token
            self.login_failures += 1
            self.limiter.record(TOKEN_ATTEMPT, ip, user_agent, False, reason)
            audit.info("api token refused", extra={"ip": ip, "reason": reason})
            raise Unauthorized(BAD_TOKEN)
        return owner, token

    def user_for_token(self, token):
        row = self.sessions.lookup(token)
        if row is None:
            return None
        return self.accounts.user_for_session(row["user_id"], row["username"])

    def cleanup(self):
        expired = self.sessions.cleanup()
        old = self.limiter.cleanup()
        log.info("cleanup", extra={"expired_sessions": expired, "old_login_attempts": old})


def current_user():
    """The signed-in user of this request (set by AccessPlugin)."""
    return bottle.request.environ.get("toru.user")


def session_token():
    return sessions_mod.cookie_token(bottle.request.environ)


class AccessPlugin:
    name = "toru_access"
    api = 2

    def __init__(self, auth):
        self.auth = auth

    def apply(self, callback, route):
        role = route.config["role"]
        if role == "public" or (role == "metrics" and self.auth.config.metrics_public):
            return callback
        needed = ROLE_LEVELS[role]

        def wrapper(*args, **kwargs):
            environ = bottle.request.environ
            secret = bearer_token(environ)
            if secret is not None:
                user = self.token_user(environ, secret, route)
            else:
                user = self.auth.user_for_token(session_token())
                if user is None:
                    raise Unauthorized("Sign in first")
                if role == "metrics" and not is_admin(user):
                    raise Forbidden("Metrics are for admins and tokens with the metrics scope")
            if USER_LEVELS[user["role"]] < needed:
                raise Forbidden("Admins only")
            environ["toru.user"] = user
            return callback(*args, **kwargs)
        return wrapper

    def token_user(self, environ, secret, route):
        """The owner of a live token whose scopes allow this route."""
        owner, token = self.auth.user_for_api_token(secret, client_ip(environ, self.auth.config),
                                                    environ.get("HTTP_USER_AGENT", ""))
        method = environ["REQUEST_METHOD"]
        if not allows(token["scopes"], route, method):
            raise Forbidden(f"This token's scopes ({', '.join(token['scopes'])}) do not allow {method} {route.rule}")
        environ["toru.token"] = token
        log.info("api token used", extra={"token_id": token["id"], "user": owner["username"], "method": method,
                                          "path": environ.get("PATH_INFO")})
        return owner


def check_routes(app):
    """Every route must declare who may call it."""
    missing = [f"{r.method} {r.rule}" for r in app.routes if r.config.get("role") not in ROLE_LEVELS]
    if missing:
        raise RuntimeError(f"routes without a valid role=: {', '.join(missing)}")


def set_session_cookie(config, token):
    bottle.response.set_cookie(sessions_mod.COOKIE, token, path="/", httponly=True, samesite="strict",
                               secure=config.secure_cookies, max_age=sessions_mod.LIFETIME)


def register(app, services):
    auth, config = services.auth, services.config

    @app.post("/api/auth/login", role="public")
    def login():
        data = json_body()
        env = bottle.request.environ
        user, token = auth.login(data.get("username"), data.get("password"), client_ip(env, config),
                                 env.get("HTTP_USER_AGENT", ""))
        set_session_cookie(config, token)
        return {"success": True, "user": public_fields(user)}

    @app.post("/api/auth/logout", role="public")
    def logout():
        token = session_token()
        if token:
            user = auth.user_for_token(token)
            auth.sessions.delete(token)
            if user:
                audit.info("logout", extra={"username": user["username"]})
        bottle.response.delete_cookie(sessions_mod.COOKIE, path="/", httponly=True, samesite="strict",
                                      secure=config.secure_cookies)
        return {"success": True}

    def me_fields(user):
        # The UI explains instead of offering a form that cannot succeed.
        from_env = user["source"] == "env" and bool(config.admin_password)
        return dict(public_fields(user), password_from_env=from_env)

    @app.get("/api/auth/me", role="user")
    def me():
        return {"user": me_fields(current_user())}

    @app.get("/api/auth/session", role="public")
    def session():
        """Who is signed in, or `null`: the UI asks at start, and being
        signed out is not an error there (no 401 in the browser console)."""
        user = auth.user_for_token(session_token())
        return {"user": me_fields(user) if user else None}

    @app.get("/api/auth/login-history", role="admin")
    def login_history():
        query = bottle.request.query
        page, size = paging(query)
        success = query.get("success")
        if success not in (None, "", "true", "false"):
            raise Invalid("success must be true or false")
        return auth.limiter.history(page, size, query.get("username") or None,
                                    None if not success else success == "true")

    @app.put("/api/me/password", role="user")
    def change_own_password():
        data = json_body()
        user = current_user()
        auth.accounts.change_own_password(user, data.get("current_password"), data.get("new_password"))
        auth.sessions.delete_for_user(user, keep_token=session_token())
        audit.info("password changed", extra={"username": user["username"]})
        return {"success": True}


def public_fields(user):
    return {"id": user["id"], "username": user["username"], "display_name": user["display_name"],
            "role": user["role"]}
