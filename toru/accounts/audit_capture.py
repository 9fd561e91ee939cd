"""What becomes an audit row, and how (docs/security.md#audit-trail).

Requests: every route that can change state (POST, PUT, PATCH, DELETE, or
a route for ANY method) declares its action, `@app.post(…, audit="user.create")`;
`check_routes` refuses to start otherwise, as `role=` is checked.
`AuditPlugin`, installed outermost, writes one row per such request once
its status is final — including refusals by the plugins inside it — with
the route's URL parameters as the target, the names of the JSON body's
fields and the values of a few harmless ones (`SAFE_VALUES`), never a
password, secret, token or code.

Everything else comes from the log lines Toru already writes: `TrailHandler`
listens on the loggers in `EVENTS`. A line written while a recorded request
runs is folded into that request's row (`details.log`), so one request is
one row; a line outside one (a WebSocket run or cancel, a schedule's run or
skip, a schedule or plugin disabled by Toru itself, a refused API token, an
identity-proxy sign-in) becomes a row of its own when `EVENTS` names it.
Log lines promise no secrets (toru/logs.py); keys that look like one are
dropped all the same.
"""

import json
import logging
import re

import bottle

from toru.logs import record_fields
from toru.web.http import STATE_CHANGING
from toru.web.security import client_ip

log = logging.getLogger("toru.audit.capture")

ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
# Body fields whose values are recorded; of any other field only the name.
SAFE_VALUES = frozenset({"username", "display_name", "role", "active", "name", "scopes", "expires_at", "enabled",
                         "script", "quick_action_id", "cron", "timezone", "overlap", "catch_up", "confirmed"})
SECRET_NAME = re.compile(r"pass|secret|token$|^token|code|cookie|authoriz|key$", re.I)
SAFE_TOKEN_FIELDS = {"token_id"}
# An unsuccessful request of these actions is recorded under the other name.
FAILED_ACTIONS = {"auth.login": "auth.login_failed"}
PENDING = "toru.audit.events"  # environ key: log lines of the request being recorded
MAX_FIELDS = 50


def outcome_of(status):
    if status < 400:
        return "ok"
    if status in (401, 403, 421, 429):
        return "denied"
    return "error" if status >= 500 else "invalid"


def writes(route):
    return route.method in STATE_CHANGING or route.method == "ANY"


def check_routes(app):
    """Every route that can change state must declare a well-formed audit action."""
    bad = [f"{r.method} {r.rule}" for r in app.routes
           if writes(r) and not ACTION.fullmatch(str(r.config.get("audit") or ""))]
    if bad:
        raise RuntimeError(f"state-changing routes without a valid audit= action: {', '.join(bad)}")


def safe_fields(fields):
    """`fields` without keys that could hold a credential (token_id stays)."""
    return {k: v for k, v in fields.items() if k in SAFE_TOKEN_FIELDS or not SECRET_NAME.search(k)}


def short(value):
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, list):
        return [short(v) for v in value[:20] if v is None or isinstance(v, (str, int, float, bool))]
    return value if value is None or isinstance(value, (int, float, bool)) else None


def body_summary(request, max_bytes):
    """(field names, safe values) of a JSON object body; ({}, {}) otherwise."""
    if not 0 < request.content_length <= max_bytes:
        return [], {}
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        return [], {}
    try:
        data = json.loads(request.body.read())
    except (ValueError, RecursionError):  # malformed: the handler answered 400 already, and said why
        return [], {}
    if not isinstance(data, dict):
        return [], {}
    names = sorted(str(k)[:64] for k in data)[:MAX_FIELDS]
    values = {k: short(v) for k, v in data.items()
              if k in SAFE_VALUES and not SECRET_NAME.search(k) and not isinstance(v, dict)}
    return names, values


def target_of(params, values, events):
    """The URL's parameters; else what the body or the log lines name."""
    if params:
        return "/".join(str(v) for v in params.values())
    for event in events:
        for key in ("target", "token_id", "schedule_id", "quick_action", "task_id", "plugin", "username"):
            if event.get(key) not in (None, ""):
                return event[key]
    return values.get("username") or values.get("name")


class AuditPlugin:
    """One row per request to a route with `audit=` whose method changes state."""

    name = "toru_audit"
    api = 2

    def __init__(self, trail, config):
        self.trail = trail
        self.config = config

    def apply(self, callback, route):
        action = route.config.get("audit")
        if not action:
            return callback

        def wrapper(*args, **kwargs):
            environ = bottle.request.environ
            if environ["REQUEST_METHOD"] not in STATE_CHANGING:
                return callback(*args, **kwargs)
            environ[PENDING] = []
            status, extra = 500, {}
            try:
                result = callback(*args, **kwargs)
                status = result.status_code if isinstance(result, bottle.HTTPResponse) else bottle.response.status_code
                return result
            except bottle.HTTPResponse as e:
                status, extra = e.status_code, getattr(e, "extra", None) or {}
                raise
            finally:
                self.record(action, environ, kwargs, status, extra)
        return wrapper

    def record(self, action, environ, params, status, extra):
        events = environ.pop(PENDING, None) or []
        try:
            outcome = outcome_of(status)
            names, values = body_summary(bottle.request, self.config.max_body_bytes)
            details = {"method": environ["REQUEST_METHOD"], "path": environ.get("PATH_INFO", "")[:300],
                       "status": status}
            if names:
                details["fields"] = names
            if values:
                details["values"] = values
            if events:
                details["log"] = events
            if extra.get("locked_until"):
                details["locked_until"] = extra["locked_until"]  # this failure started a lock-out
            user, token = environ.get("toru.user"), environ.get("toru.token")
            if token is not None:
                actor = f"token:{token['id']}"
                details["as_user"] = user["username"] if user else token.get("username")
            elif user is not None:
                actor = f"user:{user['username']}"
            else:
                named = [e["username"] for e in events if e.get("username")]
                actor = f"user:{named[-1]}" if named and outcome == "ok" else "anonymous"
            if outcome != "ok":
                action = FAILED_ACTIONS.get(action, action)
            self.trail.record(actor, action, outcome, target_of(params, values, events),
                              client_ip(environ, self.config), details)
        except Exception:
            log.exception("could not write the audit row", extra={"action": action})


def user_actor(fields, key="actor"):
    name = fields.get(key)
    return f"user:{name}" if name else "system"


def schedule_actor(fields):
    return f"schedule:{fields.get('schedule_id')}"


# (logger, message) → fields → (actor, action, outcome, target) or None (not recorded).
EVENTS = {
    ("toru.tasks", "task started"): lambda f: None if f.get("trigger") == "schedule" else (
        user_actor(f, "user"), "task.run", "ok", f.get("task_id")),
    ("toru.audit", "task cancelled"): lambda f: (user_actor(f), "task.cancel", "ok", f.get("task_id")),
    ("toru.schedules", "schedule ran"): lambda f: (schedule_actor(f), "task.run", "ok", f.get("task_id")),
    ("toru.schedules", "schedule skipped"): lambda f: (schedule_actor(f), "schedule.skip", "ok",
                                                       f.get("schedule_id")),
    ("toru.audit", "schedule disabled"): lambda f: ("system", "schedule.disable", "ok", f.get("schedule_id")),
    ("toru.plugins", "plugin transition"): lambda f: ("system", "plugin.disable", "ok", f.get("plugin"))
    if f.get("event") == "disabled_after_max_restarts" else None,
    ("toru.audit", "api token refused"): lambda f: ("anonymous", "auth.token_refused", "denied", None),
    ("toru.audit", "login"): lambda f: (user_actor(f, "username"), "auth.login", "ok", f.get("username")),
    ("toru.audit", "proxy sign-in refused"): lambda f: ("anonymous", "auth.login_failed", "denied",
                                                        f.get("username")),
}
LOGGERS = sorted({name for name, _ in EVENTS})


class TrailHandler(logging.Handler):
    """Log lines → audit rows (see the module docstring)."""

    def __init__(self, trail, config):
        super().__init__(logging.INFO)
        self.trail = trail
        self.config = config

    def emit(self, record):
        try:
            environ = request_environ()
            fields = safe_fields(record_fields(record))
            message = record.getMessage()
            pending = environ.get(PENDING) if environ is not None else None
            if pending is not None:
                if record.name in LOGGERS:
                    pending.append(dict({k: v for k, v in fields.items() if k not in ("actor", "ip", "user")},
                                        message=message))
                return
            rule = EVENTS.get((record.name, message))
            row = rule(fields) if rule else None
            if row is None:
                return
            actor, action, outcome, target = row
            ip = fields.pop("ip", None) or (client_ip(environ, self.config) if environ else None)
            details = {k: v for k, v in fields.items() if k not in ("actor", "user")}
            self.trail.record(actor, action, outcome, target, ip, dict(details, message=message))
        except Exception:
            self.handleError(record)

    def attach(self):
        """Listen on EVENTS' loggers (one trail per process: a previous app's handler goes)."""
        for name in LOGGERS:
            logger = logging.getLogger(name)
            for old in [h for h in logger.handlers if isinstance(h, TrailHandler)]:
                logger.removeHandler(old)
            logger.addHandler(self)
            # The trail needs these info lines even at TORU_LOG_LEVEL=warn; the
            # log's own handlers keep the operator's level (toru/logs.py).
            if not logger.isEnabledFor(logging.INFO):
                logger.setLevel(logging.INFO)

    def detach(self):
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self)


def request_environ():
    """The environ of the request this greenlet serves, or None (a greenlet
    of its own, such as the scheduler's, has no request)."""
    try:
        return bottle.request.environ
    except (RuntimeError, AttributeError):
        return None
