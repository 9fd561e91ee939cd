"""The core's side of the plugin wire protocol, version 1 (DESIGN §6, §6a).

Framing and envelopes are `toru_plugin.protocol`'s (the SDK the core
carries): one implementation for both ends. A frame the core cannot read —
a broken stream or one malformed frame — drops the connection (the plugin
counts as unhealthy until it answers again; the next request reconnects).

`PluginConnection` is the core's one connection to one plugin. Old plugins
(the original design's SDKs) read one frame at a time and may serve one
connection at a time, so by default at most one core→plugin request is
outstanding (others wait, bounded); plugins that declare `"concurrent": true`
get multiplexed requests. If a plugin closes the connection, the next request
reconnects — that is how some plugins work, not a crash.
"""

import itertools
import logging
import socket
import time

import gevent
import gevent.event
import gevent.lock
from toru_plugin.protocol import FrameError, FrameReader, encode_frame, envelope, reply_request_id

from toru.errors import PluginTimeout, ToruError

log = logging.getLogger("toru.plugins")

CONNECT_TIMEOUT = 2.0
MAX_WAITING = 64  # requests queued behind a lockstep plugin's outstanding one
# What a plugin sends the core on its own, handed to `on_request`: `kv` (answered)
# and `notify` (an alert of its own, no answer). Never a reply to a core request.
REQUESTS = ("kv", "notify")


class PluginUnavailable(ToruError):
    status = 503


class BadPluginReply(ToruError):
    status = 502


class PluginConnection:
    """The core's connection to one plugin process's socket.

    `on_request(connection, message)` answers requests the plugin sends
    (`kv`; a `notify` gets no answer: it returns None); `on_problem(reason)` is told of frames that broke the connection
    (the supervisor counts them against health, not as crashes).
    """

    def __init__(self, plugin_id, socket_path, concurrent=False, on_request=None, on_problem=None):
        self.plugin_id = plugin_id
        self.socket_path = str(socket_path)
        self.concurrent = concurrent
        self.on_request = on_request
        self.on_problem = on_problem or (lambda reason: None)
        self.sock = None
        self.reader = None
        self.pending = {}  # request id → AsyncResult
        self.ids = itertools.count(1)
        self.turn = gevent.lock.Semaphore(1)  # lockstep: one outstanding request
        self.waiting = 0
        self.write_lock = gevent.lock.Semaphore(1)
        self.closed = False
        self.last_reply_at = None
        self.last_problem = None

    # --- connection ------------------------------------------------------------
    def connect(self, timeout=CONNECT_TIMEOUT):
        if self.sock is not None:
            return
        if self.closed:
            raise PluginUnavailable(f"Plugin {self.plugin_id} is not running")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        sock.settimeout(None)
        self.sock = sock
        self.reader = gevent.spawn(self._read_loop, sock)

    def try_connect(self):
        try:
            self.connect()
            return True
        except OSError:
            return False

    def close(self):
        self.closed = True
        self._drop(self.sock, None)

    def _drop(self, sock, problem):
        """Forget `sock` (if still current) and fail the requests written on it."""
        if sock is None or sock is not self.sock:
            return
        self.sock = None
        try:
            sock.close()
        except OSError:
            pass
        if problem:
            self.last_problem = problem
            log.warning("plugin connection dropped", extra={"plugin": self.plugin_id, "reason": problem})
            self.on_problem(problem)
        for result in list(self.pending.values()):
            if not result.ready():
                result.set_exception(BadPluginReply(
                    f"Plugin {self.plugin_id} closed the connection before answering"))
        self.pending.clear()

    # --- sending -----------------------------------------------------------------
    def send(self, message):
        """Write one frame, connecting first if needed. A frame not yet
        written when the plugin closes is resent on a new connection."""
        frame = encode_frame(message)
        for attempt in (1, 2):
            try:
                self.connect()
            except OSError as e:
                raise PluginUnavailable(f"Plugin {self.plugin_id} is not accepting connections ({e.strerror})") \
                    from None
            sock = self.sock
            try:
                with self.write_lock:
                    sock.sendall(frame)
                return
            except OSError:
                self._drop(sock, None)  # closed by the plugin: reconnect once
                if attempt == 2:
                    raise PluginUnavailable(f"Plugin {self.plugin_id} closed its socket") from None

    def lifecycle(self, action, **fields):
        payload = dict({"type": "lifecycle", "action": action}, **fields)
        self.send(envelope("lifecycle", payload, None, action=action))

    def notify(self, action, timeout, **fields):
        """A lifecycle frame sent while the plugin runs (`config`): to a
        lockstep plugin only between requests, never while one is
        outstanding — old SDKs may lose a second frame that arrives in the
        same read as the first."""
        if self.concurrent:
            self.lifecycle(action, **fields)
            return
        if not self.turn.acquire(timeout=timeout):
            raise PluginTimeout(f"Plugin {self.plugin_id} is still busy with an earlier request")
        try:
            self.lifecycle(action, **fields)
        finally:
            self.turn.release()

    def request(self, kind, payload, timeout):
        """Send a request and wait for its reply; returns the reply message."""
        if not self.concurrent:
            if self.waiting >= MAX_WAITING:
                raise PluginUnavailable(f"Plugin {self.plugin_id} has {MAX_WAITING} requests waiting; try again")
            self.waiting += 1
            try:
                if not self.turn.acquire(timeout=timeout):
                    raise PluginTimeout(f"Plugin {self.plugin_id} is still busy with an earlier request")
            finally:
                self.waiting -= 1
        try:
            request_id = f"core-{next(self.ids)}"
            result = gevent.event.AsyncResult()
            self.pending[request_id] = result
            try:
                self.send(envelope(kind, dict(payload, type=kind, request_id=request_id), request_id))
                return result.get(timeout=timeout)
            except gevent.Timeout:
                raise PluginTimeout(f"Plugin {self.plugin_id} did not answer within {timeout:g} s") from None
            finally:
                self.pending.pop(request_id, None)
        finally:
            if not self.concurrent:
                self.turn.release()

    # --- receiving ---------------------------------------------------------------
    def _read_loop(self, sock):
        problem = None
        frames = FrameReader(sock)
        try:
            while True:
                message = frames.next()
                if message is None:
                    break
                self._dispatch(message)
        except FrameError as e:
            problem = str(e)
        except OSError:
            pass
        finally:
            self._drop(sock, problem)

    def _dispatch(self, message):
        kind = message.get("type")
        request_id = reply_request_id(message)
        result = self.pending.get(request_id) if request_id is not None else None
        if result is None and request_id is None and len(self.pending) == 1 and kind not in REQUESTS:
            result = next(iter(self.pending.values()))  # a lockstep plugin that dropped the id
        if result is not None and kind not in REQUESTS:
            self.last_reply_at = time.time()
            if not result.ready():
                result.set(message)
            return
        if kind in REQUESTS and self.on_request:
            gevent.spawn(self._answer, message)
            return
        log.debug("plugin frame ignored", extra={"plugin": self.plugin_id, "type": kind,
                                                 "request_id": request_id})

    def _answer(self, message):
        try:
            reply = self.on_request(self, message)
        except Exception:
            log.exception("plugin request failed", extra={"plugin": self.plugin_id, "type": message.get("type")})
            return
        if reply is None:  # a `notify`: nothing to answer
            return
        try:
            self.send(reply)
        except (ToruError, FrameError) as e:
            log.warning("cannot answer plugin", extra={"plugin": self.plugin_id, "error": str(e)})
