"""Live push: the one owner of WebSocket connections, message handlers and
topics.

Features never see a connection's socket. They
- publish on a topic: `hub.topic("resources").publish(data)` sends
  `{"type": "resources", "data": data}`, encoded once, to every subscriber;
- register what a client may send where the feature lives:
  `hub.handle("run", fn)` (fn(conn, message)); `hub.handle("subscribe", fn,
  key="task_id")` takes the `subscribe` messages that carry a `task_id`;
- hear about closed connections with `hub.on_close(fn)`.

Every connection has a bounded outbox drained by its own writer greenlet.
`Connection.send` never blocks: when a slow client's outbox is full, its
oldest message is dropped. Producers that must not lose data (task output)
use `Topic.send(..., backlog=N)`, which waits for room and drops the
subscriber that stays stuck instead.

Binary frames: a feature may stream bytes without JSON (task output). A
subscriber added with a `channel` number (`Topic.add(conn, channel=N)`,
numbers from `Connection.channel`) gets each `Topic.send(..., frame=(tag,
payload))` as one binary WebSocket frame: FRAME_HEADER (the feature's
`tag`, one byte, then `channel`, four bytes big-endian) and the payload.
The others get the JSON message, encoded once and only if someone needs it.

Topics clients subscribe to by name are made with `public=True` (with
`admin_only=True`, only admins may, and a user who stops being one leaves
them); other topics (one per running task) are joined by the feature's own
handler after it checked who may watch.
"""

import json
import logging
import struct
import time

import gevent
import gevent.event
import gevent.queue
from geventwebsocket.exceptions import WebSocketError

from toru.accounts.auth import is_admin
from toru.errors import Forbidden, Invalid
from toru.web.http import decode_json

log = logging.getLogger("toru.ws")
QUEUE_SIZE = 1000
MAX_MESSAGE = 64 * 1024
FRAME_HEADER = struct.Struct(">BI")  # tag, channel: docs/tasks.md#binary-output-frames


def binary_frame(tag, channel, payload):
    """One binary WebSocket message: the header, then the payload bytes."""
    return FRAME_HEADER.pack(tag, channel) + payload


class Connection:
    """One browser tab's WebSocket: who it is and its outbox."""

    def __init__(self, websocket, user, token=None):
        self.websocket = websocket
        self.user = user
        self.token = token  # the session behind it, re-checked periodically and by handlers that need it
        self.outbox = gevent.queue.Queue(maxsize=QUEUE_SIZE)
        self.drained = gevent.event.Event()
        self.closed = False
        self.dropped = 0
        self.topics = set()  # Topic objects this connection is subscribed to
        self.channels = {}   # key (a task id) → its channel number in binary frames

    def channel(self, key):
        """The channel number of `key` on this connection: the same on every
        call, never reused for another key, so frames cannot be mistaken."""
        number = self.channels.get(key)
        if number is None:
            number = self.channels[key] = len(self.channels) + 1
        return number

    def wait_for_room(self, limit, timeout):
        """Block the calling greenlet until at most `limit` messages wait
        (False after `timeout` s); a slow client slows the producer down."""
        deadline = time.monotonic() + timeout
        while not self.closed and self.outbox.qsize() > limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.drained.clear()
            self.drained.wait(min(remaining, 1.0))
        return True

    def send(self, message):
        """Queue a message (a dict, text already encoded, or the bytes of a
        binary frame) without ever
        blocking the sender: when the queue is full the oldest is dropped."""
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
                # str → text frame, bytes → binary frame (geventwebsocket decides by type).
                self.websocket.send(json.dumps(message) if isinstance(message, dict) else message)
                self.drained.set()
        except WebSocketError:
            pass
        finally:
            self.closed = True
            self.drained.set()
            self.websocket.close()


class Topic:
    """A named set of subscribed connections."""

    def __init__(self, name, public, admin_only=False):
        self.name = name
        self.public = public
        self.admin_only = admin_only
        self.subscribers = set()
        self.channels = {}  # subscriber → channel number, for those that take binary frames

    def add(self, conn, channel=None):
        """Subscribe `conn`; with a `channel` number it gets `send`'s
        frames as binary (added again without one: JSON again)."""
        self.subscribers.add(conn)
        conn.topics.add(self)
        if channel is None:
            self.channels.pop(conn, None)
        else:
            self.channels[conn] = channel

    def discard(self, conn):
        self.subscribers.discard(conn)
        self.channels.pop(conn, None)
        conn.topics.discard(self)

    def publish(self, data, to=None):
        """Push `{"type": <topic>, "data": data}` to every subscriber (with
        `to`, only to those whose user `to(user)` accepts)."""
        if self.subscribers:
            self.publish_encoded(json.dumps(data), to)

    def publish_encoded(self, data_json, to=None):
        """Like publish, for data the caller already holds as JSON text."""
        if self.subscribers:
            self._fan_out('{"type": ' + json.dumps(self.name) + ', "data": ' + data_json + "}", to)

    def send(self, message, backlog=None, stall=None, frame=None):
        """Fan out one message of the feature's own shape (encoded once, and
        only if a subscriber takes JSON). With `frame` = (tag, payload),
        subscribers added with a channel get that binary frame instead.
        With `backlog`, wait up to `stall` s for each subscriber to have at
        most `backlog` messages queued; those that stay stuck are dropped
        from the topic and returned, so the feature can tell them."""
        encoded = None
        stalled = []
        for conn in list(self.subscribers):
            if conn.closed:
                self.discard(conn)
                continue
            if backlog is not None and not conn.wait_for_room(backlog, stall):
                self.discard(conn)
                stalled.append(conn)
                continue
            channel = self.channels.get(conn) if frame is not None else None
            if channel is not None:
                conn.send(binary_frame(frame[0], channel, frame[1]))
            else:
                if encoded is None:
                    encoded = json.dumps(message)
                conn.send(encoded)
        return stalled

    def _fan_out(self, encoded, to=None):
        for conn in list(self.subscribers):
            if conn.closed:
                self.discard(conn)
            elif to is None or to(conn.user):
                conn.send(encoded)


class Hub:
    """Connections, message handlers by `type`, and topics."""

    def __init__(self, user_for_token, revalidate_every):
        self.user_for_token = user_for_token    # token → user or None (the session check)
        self.revalidate_every = revalidate_every
        self.topics = {}
        self.handlers = {}                      # type → {key or None: fn(conn, message)}
        self.close_hooks = []
        self.user_hooks = []                    # fn(conn) after conn.user was re-read
        self.connections = set()                # open ones, for recheck_user
        self.handle("ping", lambda conn, message: conn.send({"type": "pong"}))
        self.handle("subscribe", self._subscribe)
        self.handle("unsubscribe", self._unsubscribe)

    # --- what features use -------------------------------------------------------------
    def topic(self, name, public=False, admin_only=False):
        """The topic called `name`, made on first use. Clients may subscribe
        by name only to public ones; to `admin_only` ones only admins."""
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name, public, admin_only)
        return topic

    def drop_topic(self, name):
        topic = self.topics.pop(name, None)
        if topic:
            for conn in list(topic.subscribers):
                topic.discard(conn)

    def handle(self, message_type, fn, key=None):
        """fn(conn, message) answers messages of `message_type`; with `key`,
        only those that carry that field (checked before the keyless one)."""
        by_key = self.handlers.setdefault(message_type, {})
        if key in by_key:
            raise ValueError(f"a handler for {message_type!r} with key {key!r} is already registered")
        by_key[key] = fn

    def on_close(self, fn):
        self.close_hooks.append(fn)

    def on_user_change(self, fn):
        """fn(conn) runs after a connection's user was re-read (periodically,
        or at once by `recheck_user`): a feature drops what that user may no
        longer receive, e.g. an admin made client watching others' runs."""
        self.user_hooks.append(fn)

    def _user_refreshed(self, conn):
        if conn.user is None or not is_admin(conn.user):
            for topic in [t for t in conn.topics if t.admin_only]:
                topic.discard(conn)
        for hook in self.user_hooks:
            try:
                hook(conn)
            except Exception:
                log.exception("websocket user hook failed")

    # --- subscriptions by topic name --------------------------------------------------------
    def _public_topic(self, message):
        name = message.get("topic")
        topic = self.topics.get(name) if isinstance(name, str) else None
        if topic is None or not topic.public:
            known = ", ".join(sorted(n for n, t in self.topics.items() if t.public))
            raise Invalid(f"Unknown topic: {name!r} (known: {known})")
        return topic

    def _subscribe(self, conn, message):
        topic = self._public_topic(message)
        if topic.admin_only and (conn.user is None or not is_admin(conn.user)):
            raise Forbidden(f"Only admins receive {topic.name!r}")
        topic.add(conn)

    def _unsubscribe(self, conn, message):
        self._public_topic(message).discard(conn)

    # --- one connection ------------------------------------------------------------------------
    def serve(self, websocket, user, token):
        """Run one connection until it closes (the `/api/ws` route calls this)."""
        conn = Connection(websocket, user, token)
        self.connections.add(conn)
        writer = gevent.spawn(conn.write_loop)
        watcher = gevent.spawn(self._revalidate, conn)
        try:
            self._read_loop(conn)
        finally:
            self.connections.discard(conn)
            for topic in list(conn.topics):
                topic.discard(conn)
            for hook in self.close_hooks:
                try:
                    hook(conn)
                except Exception:
                    log.exception("websocket close hook failed")
            conn.close()
            watcher.kill(block=False)
            writer.join(timeout=5)

    def dispatch(self, conn, raw):
        """Answer one raw message from a client."""
        if len(raw) > MAX_MESSAGE:
            conn.send({"type": "error", "data": f"Message larger than {MAX_MESSAGE} bytes"})
            return
        try:
            message = decode_json(raw)
        except Invalid:
            message = None
        if not isinstance(message, dict):
            conn.send({"type": "error", "data": "Message must be a JSON object"})
            return
        handler = self._handler_for(message)
        if handler is None:
            conn.send({"type": "error", "data": f"Unknown message type: {message.get('type')!r}"})
            return
        try:
            handler(conn, message)
        except Exception as e:  # one bad message must not end the connection
            if getattr(e, "status", None) is None:
                log.exception("websocket handler failed", extra={"type": message.get("type")})
            # The extras an HTTP error would carry too (`fields`, `confirm`).
            reply = {**(getattr(e, "extra", None) or {}), "type": "error",
                     "data": getattr(e, "message", "Internal error")}
            for key in ("task_id", "ref"):  # say which request failed
                if isinstance(message.get(key), str):
                    reply[key] = message[key][:100]
            conn.send(reply)

    def _handler_for(self, message):
        by_key = self.handlers.get(message.get("type"))
        if not by_key or not isinstance(message.get("type"), str):
            return None
        for key, fn in by_key.items():
            if key is not None and key in message:
                return fn
        return by_key.get(None)

    def _read_loop(self, conn):
        while not conn.closed:
            try:
                raw = conn.websocket.receive()
            except WebSocketError:
                return
            if raw is None:
                return
            self.dispatch(conn, raw)

    def _revalidate(self, conn):
        while not conn.closed:
            gevent.sleep(self.revalidate_every)
            user = self.user_for_token(conn.token)
            if user is None:
                conn.send({"type": "error", "data": "Session ended; sign in again"})
                conn.close()
            else:
                conn.user = user  # a changed role counts from now on
                self._user_refreshed(conn)

    def recheck_user(self, user_id):
        """Re-check now, not at the next `revalidate_every`, the connections
        of a user an admin just deactivated, deleted or changed: an ended
        session closes them and takes them off every topic (task output)."""
        for conn in [c for c in self.connections if c.user and c.user["id"] == user_id]:
            if self.current_user(conn) is None:
                for topic in list(conn.topics):
                    topic.discard(conn)
            else:
                self._user_refreshed(conn)

    def current_user(self, conn):
        """Re-check the session behind `conn` now (handlers that start work
        call it); closes the connection and returns None when it ended."""
        conn.user = self.user_for_token(conn.token)
        if conn.user is None:
            conn.send({"type": "error", "data": "Session ended; sign in again"})
            conn.close()
        return conn.user
