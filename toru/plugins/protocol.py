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

Replies are read by the hub itself (an io watcher's callback), not by a
reader greenlet, and handed to the waiting request with one switch: a
proxied request costs the event loop what any other request does
(docs/benchmarks.md, Plugins).
"""

import itertools
import logging
import os
import socket
import sys

import gevent
import gevent.lock
from gevent.hub import Waiter, get_hub
from toru_plugin.protocol import READ_SIZE, FrameError, FrameReader, encode_frame, envelope, reply_request_id

from toru.errors import PluginTimeout, ToruError

log = logging.getLogger("toru.plugins")

CONNECT_TIMEOUT = 2.0
READ = 1  # libev's EV_READ: the io watcher's events
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
    (`kv`); `on_problem(reason)` is told of frames that broke the connection
    (the supervisor counts them against health, not as crashes).
    """

    def __init__(self, plugin_id, socket_path, concurrent=False, on_request=None, on_problem=None):
        self.plugin_id = plugin_id
        self.socket_path = str(socket_path)
        self.concurrent = concurrent
        self.on_request = on_request
        self.on_problem = on_problem or (lambda reason: None)
        self.sock = None
        self.watcher = None  # the hub's read watcher on `sock`: `_on_readable`
        self.frames = None   # what was read from `sock` and is not yet a whole frame
        self.pending = {}    # request id → Waiter of the greenlet waiting for the reply
        self.ids = itertools.count(1)
        self.turn = gevent.lock.Semaphore(1)  # lockstep: one outstanding request
        self.waiting = 0
        self.write_lock = gevent.lock.Semaphore(1)
        self.outbox = []     # a concurrent plugin's frames not yet written (`_cork`)
        self.writer = None   # the greenlet writing what the socket did not take at once
        self.closed = False
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
        self.frames = FrameReader(sock)
        self.watcher = get_hub().loop.io(sock.fileno(), READ)
        self.watcher.start(self._on_readable, sock)

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
        """Forget `sock` (if still current) and fail the requests written on
        it. May run in the hub (`_on_readable`): whatever can block — the
        log line, `on_problem` recording an event — runs in a greenlet."""
        if sock is None or sock is not self.sock:
            return
        self.sock = self.frames = None
        self.outbox.clear()  # their requests fail below
        self.watcher.stop()
        self.watcher.close()
        self.watcher = None
        try:
            sock.close()
        except OSError:
            pass
        if problem:
            self.last_problem = problem
            gevent.spawn(self._report, problem)
        waiters, self.pending = list(self.pending.values()), {}
        for waiter in waiters:  # Waiter.throw is for the hub only: a callback
            get_hub().loop.run_callback(waiter.throw, BadPluginReply(
                f"Plugin {self.plugin_id} closed the connection before answering"))

    def _report(self, problem):
        log.warning("plugin connection dropped", extra={"plugin": self.plugin_id, "reason": problem})
        self.on_problem(problem)

    # --- sending -----------------------------------------------------------------
    def send(self, message):
        """Write one frame, connecting first if needed. A lockstep plugin's
        frame not yet written when the plugin closes is resent on a new
        connection; a concurrent plugin's frames are corked (`_cork`)."""
        frame = encode_frame(message)
        if self.concurrent:
            self._cork(frame)
            return
        for attempt in (1, 2):
            try:
                self.connect()
            except OSError as e:
                raise PluginUnavailable(f"Plugin {self.plugin_id} is not accepting connections ({e.strerror})") \
                    from None
            sock = self.sock
            try:
                with self.write_lock:
                    # One send() takes a request frame whole; sendall() alone
                    # would also ask the kernel for the buffer size every time.
                    sent = sock.send(frame)
                    if sent < len(frame):
                        sock.sendall(memoryview(frame)[sent:])
                return
            except OSError:
                self._drop(sock, None)  # closed by the plugin: reconnect once
                if attempt == 2:
                    raise PluginUnavailable(f"Plugin {self.plugin_id} closed its socket") from None

    def _cork(self, frame):
        """Frames to a concurrent plugin leave together: those written by the
        greenlets one turn of the event loop woke (requests that arrived at
        once) go out in one write after that turn, so the plugin wakes once
        for them, not once each — on a VM the wake-up costs more than the
        write (docs/benchmarks.md, Plugins). A write that fails drops the
        connection, which fails the requests waiting on it."""
        try:
            self.connect()
        except OSError as e:
            raise PluginUnavailable(f"Plugin {self.plugin_id} is not accepting connections ({e.strerror})") \
                from None
        self.outbox.append(frame)
        if len(self.outbox) == 1 and self.writer is None:
            get_hub().loop.run_callback(self._flush)

    def _flush(self):
        """Write the outbox without blocking (a hub callback); what the
        socket does not take at once is left to a writer greenlet, which
        flushes again when it is done."""
        sock = self.sock
        if sock is None or self.writer is not None or not self.outbox:
            return
        data = b"".join(self.outbox)
        self.outbox.clear()
        try:
            sent = os.write(sock.fileno(), data)  # gevent keeps the fd non-blocking
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop(sock, None)
            return
        if sent < len(data):
            self.writer = gevent.spawn(self._write_rest, sock, memoryview(data)[sent:])

    def _write_rest(self, sock, data):
        try:
            with self.write_lock:
                sock.sendall(data)
        except OSError:
            self._drop(sock, None)
        finally:
            self.writer = None
        self._flush()

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
        request_id = f"core-{next(self.ids)}"
        waiter = self.pending[request_id] = Waiter()
        timer = gevent.Timeout._start_new_or_dummy(timeout)
        try:
            self.send(envelope(kind, dict(payload, type=kind, request_id=request_id), request_id))
            return waiter.get()
        except gevent.Timeout as t:
            if t is not timer:
                raise
            raise PluginTimeout(f"Plugin {self.plugin_id} did not answer within {timeout:g} s") from None
        finally:
            timer.close()
            self.pending.pop(request_id, None)
            if not self.concurrent:
                self.turn.release()

    # --- receiving ---------------------------------------------------------------
    def _on_readable(self, sock):
        """Read what arrived on `sock` and hand each reply to the greenlet
        waiting for it. This is the io watcher's callback, so it runs in the
        hub: a reply costs one switch (hub → request), where a reader
        greenlet cost two and a scheduled callback. Nothing here may block:
        requests from the plugin are answered in greenlets of their own."""
        if sock is not self.sock:
            return
        try:
            data = os.read(sock.fileno(), READ_SIZE)  # gevent keeps the fd non-blocking
        except BlockingIOError:
            return
        except OSError:
            data = b""
        frames = self.frames
        try:
            if not data:
                frames.end()  # FrameError when it ended inside a frame
                self._drop(sock, None)
                return
            frames.buffer += data
            while sock is self.sock:  # a request woken below may have closed it
                message = frames.take()
                if message is None:
                    return
                self._dispatch(message)
        except FrameError as e:
            self._drop(sock, str(e))
        except Exception:  # the top of a hub callback: log (not here: it may block) and drop
            gevent.spawn(log.error, "plugin frame handling failed", exc_info=sys.exc_info(),
                         extra={"plugin": self.plugin_id})
            self._drop(sock, "the core failed to handle a frame")

    def _dispatch(self, message):
        kind = message.get("type")
        request_id = reply_request_id(message)
        if kind in REQUESTS:
            if self.on_request:
                gevent.spawn(self._answer, message)
                return
        else:
            waiter = self.pending.pop(request_id, None) if request_id is not None else None
            if waiter is None and request_id is None and len(self.pending) == 1:
                waiter = self.pending.popitem()[1]  # a lockstep plugin that dropped the id
            if waiter is not None:
                waiter.switch(message)
                return
        log.debug("plugin frame ignored", extra={"plugin": self.plugin_id, "type": kind,
                                                 "request_id": request_id})

    def _answer(self, message):
        try:
            reply = self.on_request(self, message)
        except Exception:
            log.exception("plugin request failed", extra={"plugin": self.plugin_id, "type": message.get("type")})
            return
        if reply is None:  # a message that wants no answer (`notify`)
            return
        try:
            self.send(reply)
        except (ToruError, FrameError) as e:
            log.warning("cannot answer plugin", extra={"plugin": self.plugin_id, "error": str(e)})
