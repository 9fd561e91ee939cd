"""The WebSocket endpoint `/api/ws`: one connection per browser tab.

The handshake is checked before the upgrade (same-origin `Origin` and a live
session, else 403), and the session is checked again every REVALIDATE_EVERY
seconds so a signed-out or deactivated user's socket closes. Messages are
JSON objects with a `type`; `services.ws_handlers` maps each type to a
function(connection, message) — later features register theirs there.
Producers never touch the socket: they `send()` into a bounded queue that
one writer greenlet drains.
"""

import json
import logging
import time

import bottle
import gevent
import gevent.event
import gevent.queue
from geventwebsocket.exceptions import WebSocketError

from toru import sessions as sessions_mod
from toru.auth import current_user, session_token
from toru.errors import Forbidden, Invalid
from toru.security import host_problem, origin_problem
from toru.web import SECURITY_HEADERS

log = logging.getLogger("toru.ws")
PATH = "/api/ws"
REVALIDATE_EVERY = 30
QUEUE_SIZE = 1000
MAX_MESSAGE = 64 * 1024


class Connection:
    def __init__(self, websocket, user, token=None):
        self.websocket = websocket
        self.user = user
        self.token = token  # the session behind it, re-checked by handlers that need it
        self.outbox = gevent.queue.Queue(maxsize=QUEUE_SIZE)
        self.drained = gevent.event.Event()
        self.closed = False
        self.dropped = 0

    def wait_for_room(self, limit, timeout):
        """Block the calling greenlet until at most `limit` messages wait
        (False after `timeout` s). Producers that must not lose data — task
        output — use this; it makes a slow client slow the producer down."""
        deadline = time.monotonic() + timeout
        while not self.closed and self.outbox.qsize() > limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.drained.clear()
            self.drained.wait(min(remaining, 1.0))
        return True

    def send(self, message):
        """Queue a message without ever blocking the sender: when a slow
        client's queue is full, its oldest message is dropped."""
        if self.closed:
            return
        while True:
            try:
                self.outbox.put_nowait(message)
                return
            except gevent.queue.Full:
                try:
                    self.outbox.get_nowait()
                    self.dropped += 1
                except gevent.queue.Empty:
                    pass

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.outbox.put_nowait(None)
            except gevent.queue.Full:  # the writer checks `closed` too
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)

    def write_loop(self):
        try:
            for message in self.outbox:
                if message is None:
                    break
                # Producers may hand over text already encoded (one encoding for all subscribers).
                self.websocket.send(message if isinstance(message, str) else json.dumps(message))
                self.drained.set()
        except WebSocketError:
            pass
        finally:
            self.closed = True
            self.drained.set()
            self.websocket.close()


def handshake_refusal(environ, services):
    """Why an upgrade to /api/ws must be refused, or None."""
    config = services.config
    problem = host_problem(environ, config) or origin_problem(environ, config)
    if problem:
        return problem
    if services.auth.user_for_token(sessions_mod.cookie_token(environ)) is None:
        return "Sign in first: WebSocket needs a valid session"
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
    handlers = services.ws_handlers
    topics = services.ws_topics
    handlers["ping"] = lambda conn, message: conn.send({"type": "pong"})

    # Other kinds of subscription name their key: {"task_id": (subscribe, unsubscribe)}.
    kinds = services.ws_subscriptions

    def subscribe(conn, message):
        for key, (start, _) in kinds.items():
            if key in message:
                return start(conn, message)
        topic = message.get("topic")
        if topic not in topics:
            raise Invalid(f"Unknown topic: {topic!r} (known: {', '.join(sorted(topics))})")
        topics[topic].add(conn)

    def unsubscribe(conn, message):
        for key, (_, stop) in kinds.items():
            if key in message:
                return stop(conn, message)
        topic = message.get("topic")
        if topic not in topics:
            raise Invalid(f"Unknown topic: {topic!r}")
        topics[topic].discard(conn)

    handlers["subscribe"] = subscribe
    handlers["unsubscribe"] = unsubscribe

    @app.get(PATH, role="user")
    def websocket():
        ws = bottle.request.environ.get("wsgi.websocket")
        if ws is None:
            raise Forbidden("WebSocket upgrade required")
        conn = Connection(ws, current_user(), session_token())
        writer = gevent.spawn(conn.write_loop)
        watcher = gevent.spawn(revalidate, services, conn)
        try:
            read_loop(ws, conn, handlers)
        finally:
            for subscribers in topics.values():
                subscribers.discard(conn)
            for hook in services.ws_close_hooks:
                hook(conn)
            conn.close()
            watcher.kill(block=False)
            writer.join(timeout=5)
        return ""


def read_loop(ws, conn, handlers):
    while not conn.closed:
        try:
            raw = ws.receive()
        except WebSocketError:
            return
        if raw is None:
            return
        if len(raw) > MAX_MESSAGE:
            conn.send({"type": "error", "data": f"Message larger than {MAX_MESSAGE} bytes"})
            continue
        try:
            message = json.loads(raw)
        except ValueError:
            conn.send({"type": "error", "data": "Message must be a JSON object"})
            continue
        if not isinstance(message, dict):
            conn.send({"type": "error", "data": "Message must be a JSON object"})
            continue
        handler = handlers.get(message.get("type"))
        if handler is None:
            conn.send({"type": "error", "data": f"Unknown message type: {message.get('type')!r}"})
            continue
        try:
            handler(conn, message)
        except Exception as e:  # one bad message must not end the connection
            status = getattr(e, "status", None)
            if status is None:
                log.exception("websocket handler failed", extra={"type": message.get("type")})
            reply = {"type": "error", "data": getattr(e, "message", "Internal error")}
            for key in ("task_id", "ref"):  # say which request failed
                if isinstance(message.get(key), str):
                    reply[key] = message[key][:100]
            conn.send(reply)


def revalidate(services, conn):
    while not conn.closed:
        gevent.sleep(REVALIDATE_EVERY)
        user = services.auth.user_for_token(conn.token)
        if user is None:
            conn.send({"type": "error", "data": "Session ended; sign in again"})
            conn.close()
        else:
            conn.user = user  # a changed role counts from now on
