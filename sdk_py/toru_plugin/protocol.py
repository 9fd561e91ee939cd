"""The Toru plugin wire protocol, version 1: framing and envelopes.

A frame is a 4-byte unsigned big-endian length followed by that many bytes of
UTF-8 JSON, one object per frame, at most `MAX_FRAME` bytes. Every message is
an envelope `{"type", "timestamp", "request_id", "payload"}`.
"""

import json
import struct
from datetime import datetime, timezone

PROTOCOL_VERSION = 1
MAX_FRAME = 16 * 1024 * 1024
HEADER = struct.Struct(">I")


class FrameError(Exception):
    """The stream is broken (oversized or truncated frame): drop the connection."""


class MalformedFrame(Exception):
    """One frame is not a JSON object; the stream is still in step."""


def timestamp():
    """Now, RFC 3339 with offset and milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def envelope(kind, payload, request_id=None):
    return {"type": kind, "timestamp": timestamp(), "request_id": request_id, "payload": payload}


def encode_frame(message):
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if len(data) > MAX_FRAME:
        raise FrameError(f"frame of {len(data)} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(len(data)) + data


def decode_body(data):
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedFrame(f"frame is not UTF-8 JSON: {e}") from None
    if not isinstance(message, dict):
        raise MalformedFrame(f"frame is JSON {type(message).__name__}, not an object")
    return message


def recv_exactly(sock, size):
    """`size` bytes from `sock`, however the kernel splits them; b"" if the
    peer closed before the first byte; FrameError if it closed mid-way."""
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


def read_frame(sock, max_frame=MAX_FRAME):
    """The next message (a dict), or None at a clean end of stream.

    Raises FrameError when the stream cannot go on (the length is over the
    cap, or the peer closed mid-frame) and MalformedFrame when this one
    frame's body is not a JSON object (the next frame can still be read).
    """
    header = recv_exactly(sock, HEADER.size)
    if not header:
        return None
    (size,) = HEADER.unpack(header)
    if size > max_frame:
        raise FrameError(f"frame length {size} exceeds the {max_frame}-byte limit")
    body = recv_exactly(sock, size) if size else b""
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
