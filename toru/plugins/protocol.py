"""The plugin wire protocol, version 1 (DESIGN §6, §6a).

A frame is a 4-byte unsigned big-endian length and that many bytes of UTF-8
JSON, one object per frame, at most MAX_FRAME bytes. Every frame the core
sends is an envelope `{type, timestamp, request_id, payload}`.

`PluginConnection` is the core's one connection to one plugin. Old plugins
(the original design's SDKs) read one frame at a time and may serve one
connection at a time, so by default at most one core→plugin request is
outstanding (others wait, bounded); plugins that declare `"concurrent": true`
get multiplexed requests. If a plugin closes the connection, the next request
reconnects — that is how some plugins work, not a crash.
"""

import itertools
import json
import logging
import socket
import struct
import time
from datetime import datetime, timezone

import gevent
import gevent.event
import gevent.lock

from toru.errors import PluginTimeout, ToruError

log = logging.getLogger("toru.plugins")

PROTOCOL_VERSION = 1
MAX_FRAME = 16 * 1024 * 1024
HEADER = struct.Struct(">I")
CONNECT_TIMEOUT = 2.0
MAX_WAITING = 64  # requests queued behind a lockstep plugin's outstanding one


class FrameError(Exception):
    """A frame the core cannot accept: the connection is dropped."""


class PluginUnavailable(ToruError):
    status = 503


class BadPluginReply(ToruError):
    status = 502


def timestamp():
    """RFC 3339 with offset, milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def envelope(kind, payload, request_id=None, **top):
    return dict({"type": kind, "timestamp": timestamp(), "request_id": request_id, "payload": payload}, **top)


def encode_frame(message):
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise FrameError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(data)) + data


def decode_body(data):
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FrameError(f"malformed JSON frame: {e}") from None
    if not isinstance(message, dict):
        raise FrameError("frame is not a JSON object")
    return message


def recv_exactly(sock, size):
    """`size` bytes, or b"" if the peer closed before the first byte."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 1024 * 1024))
        if not chunk:
            if got:
                raise FrameError(f"connection closed mid-frame ({got} of {size} bytes)")
            return b""
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(sock):
    """The next message, or None at a clean end of stream."""
    header = recv_exactly(sock, HEADER.size)
    if not header:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise FrameError(f"frame length {size} exceeds {MAX_FRAME}")
    body = recv_exactly(sock, size)
    if len(body) != size:
        raise FrameError("connection closed mid-frame")
    return decode_body(body)


def reply_request_id(message):
    """Where a reply names its request: top level, else inside the payload."""
    if message.get("request_id") is not None:
        return message["request_id"]
    payload = message.get("payload")
    if isinstance(payload, dict) and payload.get("request_id") is not None:
        return payload["request_id"]
    return None


class FrameReader:
    """Frames from a socket through one buffer: a frame that arrives whole
    costs one recv, not one for the header and one for the body."""

    def __init__(self, sock, read_size=64 * 1024):
        self.sock = sock
        self.read_size = read_size
        self.buffer = bytearray()

    def next(self):
        """The next message, or None at a clean end of stream."""
        while True:
            if len(self.buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(self.buffer)
                if size > MAX_FRAME:
                    raise FrameError(f"frame length {size} exceeds {MAX_FRAME}")
                end = HEADER.size + size
                if len(self.buffer) >= end:
                    body = bytes(self.buffer[HEADER.size:end])
                    del self.buffer[:end]
                    return decode_body(body)
            chunk = self.sock.recv(self.read_size)
            if not chunk:
                if self.buffer:
                    raise FrameError(f"connection closed mid-frame ({len(self.buffer)} bytes pending)")
                return None
            self.buffer += chunk


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
        if result is None and request_id is None and len(self.pending) == 1 and kind != "kv":
            result = next(iter(self.pending.values()))  # a lockstep plugin that dropped the id
        if result is not None and kind != "kv":
            self.last_reply_at = time.time()
            if not result.ready():
                result.set(message)
            return
        if kind == "kv" and self.on_request:
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
        try:
            self.send(reply)
        except (ToruError, FrameError) as e:
            log.warning("cannot answer plugin", extra={"plugin": self.plugin_id, "error": str(e)})
