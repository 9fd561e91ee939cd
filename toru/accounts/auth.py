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

A browser behind an identity proxy may also be signed in by the proxy's
header (`trusted_header.py`, opt-in): that user wins over the cookie's.

Two-factor sign-in (`two_factor.py`) adds a step to `login`; with the
setting `require_2fa_for_admins`, an admin session without it reaches only
the routes that declare `without_2fa=True` (who am I, setting it up) and
gets 403 `totp_setup_required` everywhere else, also checked here.
"""

import logging

import bottle

from toru.accounts import sessions as sessions_mod
from toru.accounts.trusted_header import TrustedHeader
from toru.accounts.two_factor import ACCEPTED, MAX_CODE, check_code
from toru.errors import Conflict, FieldErrors, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
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
CODE_NEEDED = "Enter the 6-digit code from your authenticator app, or a recovery code"
BAD_CODES = {"bad_code": "Invalid code: enter the current code from your authenticator app, or an unused recovery code",
             "reused_code": "That code was already used: wait for the next one (or use a recovery code)"}
SETUP_FIRST = ("Admins of this server must turn on two-factor sign-in first: "
               "Settings → My account → Two-factor sign-in")
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
    def __init__(self, config, accounts, sessions, limiter, tokens, two_factor, settings):
        self.config = config
        self.accounts = accounts
        self.sessions = sessions
        self.limiter = limiter
        self.tokens = tokens
        self.two_factor = two_factor
        self.settings = settings
        self.trusted_header = TrustedHeader(config, accounts)
        self.login_failures = 0  # failed sign-ins and refused API tokens since start (/metrics)

    def login(self, username, password, ip, user_agent, code=None):
        """(user, token, how) — how is "ok", or "recovery_code" when one was
        spent — or raise Unauthorized / RateLimited."""
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise Invalid("username and password are required strings")
        if len(username) > 256 or len(password) > MAX_CREDENTIAL:
            raise Invalid("username or password is too long")
        if code is not None and (not isinstance(code, str) or len(code) > MAX_CODE):
            raise Invalid(f"code must be a string of at most {MAX_CODE} characters")
        try:
            with self.limiter.attempt(username, ip):
                user, reason = self._verify(username, password, code)
                # Recorded inside the attempt, before waiting attempts re-check.
                self.limiter.record(username, ip, user_agent, reason in ACCEPTED, reason)
        except RateLimited:
            self.limiter.record(username, ip, user_agent, False, "locked")
            audit.info("login locked", extra={"username": username, "ip": ip})
            raise
        if reason not in ACCEPTED:
            self._refuse(username, ip, reason)
        token = self.sessions.create(user, ip, user_agent)
        audit.info("login", extra={"username": user["username"], "ip": ip, "role": user["role"],
                                   "second_factor": reason if self.two_factor.enabled(user) else None})
        return user, token, reason

    def _verify(self, username, password, code):
        """(user or None, reason). The second factor is looked at only after
        the password was right: a wrong password never learns whether the
        account has one, and never spends a code."""
        user, reason = self.accounts.authenticate(username, password)
        if user is None:
            return None, reason
        if not self.two_factor.enabled(user):
            return user, "ok"
        if not code:
            return user, "totp_required"  # step one of two: no failure (login_limits.NOT_COUNTED)
        return user, self.two_factor.check(user, code)

    def _refuse(self, username, ip, reason):
        if reason == "totp_required":
            audit.info("login needs second factor", extra={"username": username, "ip": ip})
            raise Unauthorized(CODE_NEEDED, totp_required=True)
        self.login_failures += 1
        audit.info("login failed", extra={"username": username, "ip": ip, "reason": reason})
        lock = self.limiter.lock_fields(username, ip)
        if reason in BAD_CODES:
            raise Unauthorized(BAD_CODES[reason], totp_required=True, **lock)
        raise Unauthorized(BAD_LOGIN, **lock)

    def confirm(self, user, ip, user_agent, password=None, code=None):
        """Check the signed-in `user`'s password and/or second-factor code
        before a change to the second factor; failures count toward the
        sign-in lock-out tiers (a stolen session must not become a way to
        guess). Raises Forbidden naming the wrong field, or RateLimited."""
        with self.limiter.attempt(user["username"], ip):
            reason = "ok"
            if password is not None and self.accounts.authenticate(user["username"], password)[0] is None:
                reason = "bad_password"
            elif code is not None:
                reason = self.two_factor.check(user, code)
            if reason not in ACCEPTED:
                self.limiter.record(user["username"], ip, user_agent, False, reason)
        if reason not in ACCEPTED:
            field, text = (("password", "Wrong password") if reason == "bad_password"
                           else ("code", BAD_CODES[reason]))
            raise Forbidden(text, fields={field: text}, **self.limiter.lock_fields(user["username"], ip))
        return reason

    def two_factor_required(self, user):
        """Must this user have two-factor sign-in (an admin, with require_2fa_for_admins on)?"""
        return is_admin(user) and bool(self.settings.get("require_2fa_for_admins"))

    def must_set_up_2fa(self, user):
        return self.two_factor_required(user) and not self.two_factor.enabled(user)

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
        """The user of a live session token, or None. The user is kept with
        the session in memory (`credentials.py`) until a write forgets it."""
        session = self.sessions.lookup(token)
        if session is None:
            return None
        if session["user"] is None:
            session["user"] = self.accounts.user_for_session(session["user_id"], session["username"])
            if session["user"] is None:
                return None
        return dict(session["user"])  # a copy: a handler may add to it, the cache must not change

    def browser_user(self, environ):
        """(user or None, has_session) for a request without an API token.
        An identity proxy's user, when its header names one, wins over the
        cookie's: someone else signing in at the proxy in the same browser
        must not go on as the one before. `has_session`: the cookie is a
        live session of that very user."""
        proxied = self.trusted_header.user(environ)
        user = self.user_for_token(sessions_mod.cookie_token(environ))
        if proxied is None:
            return user, user is not None
        return proxied, user is not None and same_user(user, proxied)

    def proxy_session(self, user, environ):
        """A session for the identity proxy's `user` (the WebSocket and the
        sessions list need one); the cookie's old session, someone else's
        or dead, ends."""
        old = sessions_mod.cookie_token(environ)
        if old:
            self.sessions.delete(old)
        ip = client_ip(environ, self.config)
        token = self.sessions.create(user, ip, environ.get("HTTP_USER_AGENT", ""), via="proxy")
        audit.info("login", extra={"username": user["username"], "ip": ip, "role": user["role"], "via": "proxy"})
        return token

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
                user, _ = self.auth.browser_user(environ)
                if user is None:
                    raise Unauthorized("Sign in first")
                environ["toru.user"] = user  # from here on, a refusal's audit row names who was refused
                if role == "metrics" and not is_admin(user):
                    raise Forbidden("Metrics are for admins and tokens with the metrics scope")
                # A token is a credential of its own (docs/security.md): only sessions are held here.
                if not route.config.get("without_2fa") and self.auth.must_set_up_2fa(user):
                    raise Forbidden(SETUP_FIRST, totp_setup_required=True)
            if USER_LEVELS[user["role"]] < needed:
                raise Forbidden("Admins only")
            environ["toru.user"] = user
            return callback(*args, **kwargs)
        return wrapper

    def token_user(self, environ, secret, route):
        """The owner of a live token whose scopes allow this route."""
        ip = client_ip(environ, self.auth.config)
        owner, token = self.auth.user_for_api_token(secret, ip, environ.get("HTTP_USER_AGENT", ""))
        environ["toru.user"], environ["toru.token"] = owner, token  # for the audit row, even of a refusal
        method = environ["REQUEST_METHOD"]
        if not allows(token["scopes"], route, method):
            raise Forbidden(f"This token's scopes ({', '.join(token['scopes'])}) do not allow {method} {route.rule}")
        self.auth.tokens.uses.record(token, owner, method, environ.get("PATH_INFO"), ip)
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

    @app.post("/api/auth/login", role="public", audit="auth.login")
    def login():
        """`code` is the second step of a two-factor sign-in. Extra fields
        only when they apply: `recovery_codes_left` after one was spent,
        `totp_setup_required` for an admin who must set 2FA up first."""
        data = json_body()
        env = bottle.request.environ
        user, token, how = auth.login(data.get("username"), data.get("password"), client_ip(env, config),
                                      env.get("HTTP_USER_AGENT", ""), data.get("code"))
        set_session_cookie(config, token)
        answer = {"success": True, "user": public_fields(user)}
        if how == "recovery_code":
            answer["recovery_codes_left"] = auth.two_factor.status(user)["recovery_codes_left"]
        if auth.must_set_up_2fa(user):
            answer["totp_setup_required"] = True
        return answer

    @app.post("/api/auth/logout", role="public", audit="auth.logout")
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
        enabled = auth.two_factor.enabled(user)
        return dict(public_fields(user), password_from_env=from_env, totp_enabled=enabled,
                    totp_setup_required=not enabled and auth.two_factor_required(user))

    @app.get("/api/auth/me", role="user", without_2fa=True)
    def me():
        return {"user": me_fields(current_user())}

    @app.get("/api/auth/session", role="public")
    def session():
        """Who is signed in, or `null`: the UI asks at start, and being
        signed out is not an error there (no 401 in the browser console).
        Behind an identity proxy, this is where its user gets a session."""
        env = bottle.request.environ
        user, has_session = auth.browser_user(env)
        if user is not None and not has_session:
            set_session_cookie(config, auth.proxy_session(user, env))
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

    @app.put("/api/me/password", role="user", audit="account.password_change")
    def change_own_password():
        data = json_body()
        user = current_user()
        auth.accounts.change_own_password(user, data.get("current_password"), data.get("new_password"))
        auth.sessions.delete_for_user(user, keep_token=session_token())
        audit.info("password changed", extra={"username": user["username"]})
        return {"success": True}

    register_two_factor(app, services)
    register_own_sessions(app, services)


def register_own_sessions(app, services):
    """Your sessions: /api/me/sessions (the admin's view of anyone's is in users.py)."""
    sessions = services.sessions

    @app.get("/api/me/sessions", role="user")
    def own_sessions():
        """`current` marks the session of this request."""
        return {"sessions": sessions.list_for_user(current_user(), session_token())}

    @app.delete("/api/me/sessions/<session_id>", role="user", audit="account.session_revoke")
    def end_own_session(session_id):
        """Sign one of your sessions out at once (its WebSockets close too);
        404 for an id that is not one of yours."""
        user = current_user()
        if not sessions.delete_one(user, session_id):
            raise NotFound("No such session of yours (it may have ended already)")
        services.hub.recheck_user(user["id"])
        audit.info("session revoked", extra={"username": user["username"], "session_id": session_id})
        return {"success": True}

    @app.post("/api/me/sessions/revoke-others", role="user", audit="account.sessions_revoke_others")
    def end_other_sessions():
        json_body(required=False)
        user = current_user()
        ended = sessions.delete_for_user(user, keep_token=session_token())
        services.hub.recheck_user(user["id"])
        audit.info("other sessions revoked", extra={"username": user["username"], "count": ended})
        return {"success": True, "revoked": ended}


def register_two_factor(app, services):
    """Your own second factor: /api/me/2fa/*. Reachable before it is set up
    (`without_2fa`), and from a browser session only: an API token must not
    be able to bind its owner's sign-in to an authenticator the owner has
    never seen."""
    auth, config = services.auth, services.config
    two_factor = auth.two_factor

    def session_user():
        if bottle.request.environ.get("toru.token"):
            raise Forbidden("Two-factor sign-in is changed from a signed-in browser, not with an API token")
        return current_user()

    def where():
        env = bottle.request.environ
        return client_ip(env, config), env.get("HTTP_USER_AGENT", "")

    @app.get("/api/me/2fa", role="user", without_2fa=True)
    def two_factor_status():
        user = current_user()
        return dict(two_factor.status(user), required=auth.two_factor_required(user))

    @app.post("/api/me/2fa/setup", role="user", without_2fa=True, audit="account.2fa_setup")
    def two_factor_setup():
        json_body(required=False)
        user = session_user()
        answer = two_factor.setup(user)
        log.info("2fa setup started", extra={"username": user["username"]})
        return answer

    @app.post("/api/me/2fa/enable", role="user", without_2fa=True, audit="account.2fa_enable")
    def two_factor_enable():
        """Your other sessions end: they were opened with the password alone."""
        code = json_body().get("code")
        user = session_user()
        codes = two_factor.enable(user, code)
        auth.sessions.delete_for_user(user, keep_token=session_token())
        services.hub.recheck_user(user["id"])
        audit.info("2fa enabled", extra={"username": user["username"]})
        return {"recovery_codes": codes}

    @app.post("/api/me/2fa/disable", role="user", without_2fa=True, audit="account.2fa_disable")
    def two_factor_disable():
        data = json_body()
        user = session_user()
        password, code = data.get("password"), data.get("code")
        errors = FieldErrors()
        if not isinstance(password, str) or not password or len(password) > MAX_CREDENTIAL:
            errors.add("password", "Your password is required")
        errors.check("code", check_code, code)
        errors.raise_any()
        if not two_factor.enabled(user):
            raise Conflict("Two-factor sign-in is already off")
        auth.confirm(user, *where(), password=password, code=code)
        two_factor.disable(user)
        audit.info("2fa disabled", extra={"username": user["username"]})
        return {"success": True}

    @app.post("/api/me/2fa/recovery-codes", role="user", without_2fa=True, audit="account.2fa_recovery_codes")
    def two_factor_new_recovery_codes():
        """New recovery codes for a current code; the old ones stop working."""
        code = check_code(json_body().get("code"))
        user = session_user()
        if not two_factor.enabled(user):
            raise Conflict("Two-factor sign-in is off")
        auth.confirm(user, *where(), code=code)
        codes = two_factor.new_recovery_codes(user)
        audit.info("2fa recovery codes replaced", extra={"username": user["username"]})
        return {"recovery_codes": codes}


def same_user(a, b):
    return a["id"] == b["id"] and a["username"].lower() == b["username"].lower()


def public_fields(user):
    return {"id": user["id"], "username": user["username"], "display_name": user["display_name"],
            "role": user["role"]}
