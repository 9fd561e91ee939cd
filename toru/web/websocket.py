"""The WebSocket endpoint `/api/ws`: one connection per browser tab.

The handshake is checked before the upgrade (same-origin `Origin` and a live
session, else 403). After it, the connection belongs to the hub
(`toru/live.py`): message handlers, topics, the periodic session re-check.
"""

import json
import logging

import bottle

from toru.accounts import sessions as sessions_mod
from toru.accounts.auth import SETUP_FIRST, current_user, session_token
from toru.errors import Forbidden
from toru.web.http import SECURITY_HEADERS
from toru.web.security import host_problem, origin_problem

log = logging.getLogger("toru.ws")
PATH = "/api/ws"


def handshake_refusal(environ, services):
    """Why an upgrade to /api/ws must be refused, or None."""
    config = services.config
    problem = host_problem(environ, config) or origin_problem(environ, config)
    if problem:
        return problem
    user = services.auth.user_for_token(sessions_mod.cookie_token(environ))
    if user is None:
        return "Sign in first: WebSocket needs a valid session"
    if services.auth.must_set_up_2fa(user):
        return SETUP_FIRST
    return None


def handshake_hook(services):
    """geventwebsocket's pre_start_hook: answer a refused upgrade with 403
    before any WebSocket handshake is sent."""
    def hook(handler):
        environ = handler.environ
        if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return False
        problem = handshake_refusal(environ, services)
        if problem is None:
            return False
        body = json.dumps({"error": problem}).encode()

        def refuse(environ, start_response):
            start_response("403 Forbidden", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body)))] + SECURITY_HEADERS)
            return [body]
        handler.application = refuse
        handler.close_connection = True
        log.info("websocket refused", extra={"reason": problem, "ip": environ.get("REMOTE_ADDR")})
        return True  # handled as plain HTTP: no upgrade
    return hook


def register(app, services):
    @app.get(PATH, role="user")
    def websocket():
        ws = bottle.request.environ.get("wsgi.websocket")
        if ws is None:
            raise Forbidden("WebSocket upgrade required")
        services.hub.serve(ws, current_user(), session_token())
        return ""
