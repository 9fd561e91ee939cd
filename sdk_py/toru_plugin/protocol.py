"""The Toru plugin wire protocol, version 1: framing and envelopes.

A frame is a 4-byte unsigned big-endian length followed by that many bytes of
UTF-8 JSON, one object per frame, at most `MAX_FRAME` bytes. Every message is
an envelope `{"type", "timestamp", "request_id", "payload"}`.

This module is the one implementation of the framing: plugins built on this
SDK and the Toru core (which carries the SDK) both read and write frames
here. The policy for a bad frame, in two kinds:

- `FrameError`: the stream itself is broken (a length over the cap, the peer
  closed mid-frame). Nothing after it can be trusted: drop the connection.
- `MalformedFrame` (a FrameError too): one whole frame arrived, but its body
  is not UTF-8, not JSON, not a JSON object, or JSON nested too deeply to
  parse. The stream is still in step, so a reader may skip it (the SDK does,
  and logs it) or treat it as a broken connection (the core does: a reply it
  cannot read fails the waiting request at once instead of at its timeout).

Stdlib only: plugins copy this package into their own file.
"""

import json
import struct
import time

PROTOCOL_VERSION = 1
MAX_FRAME = 16 * 1024 * 1024
HEADER = struct.Struct(">I")
READ_SIZE = 64 * 1024       # one recv of a buffered reader
EXACT_READ_MAX = 1024 * 1024  # one recv of an exact reader
# Built once: json.dumps with arguments builds a new encoder on every call.
UTF8_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
ASCII_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_second = (None, "")  # (a Unix second, its RFC 3339 text): one strftime per second, not per frame


class FrameError(Exception):
    """The stream is broken (oversized or truncated frame): drop the connection."""


class MalformedFrame(FrameError):
    """One whole frame is not a UTF-8 JSON object; the stream is still in step."""


def timestamp():
    """Now, RFC 3339 with offset and milliseconds (UTC: `…T12:00:00.123+00:00`)."""
    global _second
    now = time.time()
    second = int(now)
    cached = _second  # read once: another thread may replace it (the tuple is swapped whole)
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((now - second) * 1000):03d}+00:00"


def envelope(kind, payload, request_id=None, **top):
    """`{type, timestamp, request_id, payload}`, plus any `top` fields (the
    core repeats a lifecycle frame's `action` there for old plugins)."""
    return dict({"type": kind, "timestamp": timestamp(), "request_id": request_id, "payload": payload}, **top)


def encode_frame(message):
    """The frame for `message`. Text goes as UTF-8; a string that UTF-8
    cannot carry (a lone surrogate) makes the whole frame use JSON's \\u
    escapes instead, so the peer still gets valid UTF-8 JSON."""
    try:
        data = UTF8_JSON.encode(message).encode("utf-8")
    except UnicodeEncodeError:
        data = ASCII_JSON.encode(message).encode("ascii")
    if len(data) > MAX_FRAME:
        raise FrameError(f"frame of {len(data)} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(len(data)) + data


def decode_body(data):
    """The message in one frame's body, or MalformedFrame."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedFrame(f"malformed frame: not UTF-8 JSON ({e})") from None
    except RecursionError:
        raise MalformedFrame("malformed frame: JSON nested too deeply") from None
    if not isinstance(message, dict):
        raise MalformedFrame(f"malformed frame: JSON {type(message).__name__}, not an object")
    return message


class FrameReader:
    """Frames from one stream socket, in order.

    Buffered (the default), one recv may bring several frames, or a frame
    and the start of the next. `exact=True` never reads past the frame being
    read, so a later reader on the same socket starts where this one
    stopped (that is `read_frame`)."""

    def __init__(self, sock, read_size=READ_SIZE, max_frame=MAX_FRAME, exact=False):
        self.sock = sock
        self.read_size = read_size
        self.max_frame = max_frame
        self.exact = exact
        self.buffer = bytearray()

    def next(self):
        """The next message (a dict), or None at a clean end of stream.
        Raises FrameError or MalformedFrame (see the module docstring)."""
        while True:
            message = self.take()
            if message is not None:
                return message
            want = min(self.missing(), EXACT_READ_MAX) if self.exact else self.read_size
            chunk = self.sock.recv(want)
            if not chunk:
                self.end()
                return None
            self.buffer += chunk

    def take(self):
        """The next message if the buffer holds a whole frame, else None (a
        reader that does its own reads, like the core's, appends to
        `buffer` and takes until None). Raises FrameError or MalformedFrame."""
        if len(self.buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > self.max_frame:
            raise FrameError(f"frame length {size} exceeds the {self.max_frame}-byte limit")
        end = HEADER.size + size
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[HEADER.size:end])
        del self.buffer[:end]
        return decode_body(body)

    def missing(self):
        """Bytes still needed for the frame under way (at least its header)."""
        if len(self.buffer) < HEADER.size:
            return HEADER.size - len(self.buffer)
        return HEADER.size + HEADER.unpack_from(self.buffer)[0] - len(self.buffer)

    def end(self):
        """The stream ended: FrameError if it ended inside a frame."""
        if self.buffer:
            raise FrameError(f"connection closed mid-frame ({len(self.buffer)} of "
                             f"{len(self.buffer) + self.missing()} bytes)")


def read_frame(sock, max_frame=MAX_FRAME):
    """The next message on `sock` (a dict), or None at a clean end of stream;
    reads exactly one frame's bytes. Raises FrameError when the stream cannot
    go on and MalformedFrame when only this frame is bad."""
    return FrameReader(sock, max_frame=max_frame, exact=True).next()


def reply_request_id(message):
    """Where a reply names its request: top level, else inside the payload."""
    if message.get("request_id") is not None:
        return message["request_id"]
    payload = message.get("payload")
    if isinstance(payload, dict) and payload.get("request_id") is not None:
        return payload["request_id"]
    return None
