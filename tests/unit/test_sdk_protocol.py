"""The SDK's framing: 4-byte big-endian length + UTF-8 JSON, 16 MiB cap,
frames split across reads or packed into one, malformed frames."""

import json
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk_py"))

from toru_plugin.protocol import (MAX_FRAME, FrameError, MalformedFrame, encode_frame,  # noqa: E402
                                  envelope, read_frame, reply_request_id)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.settimeout(10)
    b.settimeout(10)
    yield a, b
    a.close()
    b.close()


def frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data


def test_a_frame_is_a_big_endian_length_and_utf8_json():
    data = encode_frame({"type": "http", "text": "héllo 👋"})
    (size,) = struct.unpack(">I", data[:4])
    assert size == len(data) - 4
    assert json.loads(data[4:].decode("utf-8")) == {"type": "http", "text": "héllo 👋"}


def test_frames_arriving_one_byte_at_a_time_are_reassembled(pair):
    a, b = pair
    message = {"type": "http", "request_id": "r1", "payload": {"body": "x" * 5000}}
    data = frame(message)

    def trickle():
        for i in range(0, len(data), 7):
            a.sendall(data[i:i + 7])
            if i < 70:
                time.sleep(0.005)  # the header itself arrives in pieces
    thread = threading.Thread(target=trickle)
    thread.start()
    assert read_frame(b) == message
    thread.join()


def test_two_frames_in_one_write_are_two_messages(pair):
    a, b = pair
    a.sendall(frame({"n": 1}) + frame({"n": 2}) + frame({"n": 3})[:6])
    assert read_frame(b) == {"n": 1}
    assert read_frame(b) == {"n": 2}
    a.sendall(frame({"n": 3})[6:])
    assert read_frame(b) == {"n": 3}


def test_clean_end_of_stream_is_none_and_a_cut_frame_is_an_error(pair):
    a, b = pair
    a.sendall(frame({"n": 1}))
    a.shutdown(socket.SHUT_WR)
    assert read_frame(b) == {"n": 1}
    assert read_frame(b) is None
    c, d = socket.socketpair()
    c.sendall(frame({"n": 2})[:-3])
    c.close()
    with pytest.raises(FrameError, match="mid-frame"):
        read_frame(d)
    d.close()
    e, f = socket.socketpair()
    e.sendall(b"\x00\x00")  # half a header
    e.close()
    with pytest.raises(FrameError):
        read_frame(f)
    f.close()


def test_the_16_mib_cap(pair):
    a, b = pair
    a.sendall(struct.pack(">I", MAX_FRAME + 1))
    with pytest.raises(FrameError, match="exceeds"):
        read_frame(b)  # refused from the header alone: nothing more is read
    with pytest.raises(FrameError):
        encode_frame({"body": "x" * MAX_FRAME})
    # Exactly at the cap is fine, written and read in many pieces.
    body = {"body": "y" * (MAX_FRAME - len('{"body":""}'))}
    data = encode_frame(body)
    assert len(data) == MAX_FRAME + 4
    c, d = socket.socketpair()
    writer = threading.Thread(target=c.sendall, args=(data,))
    writer.start()
    assert read_frame(d) == body
    writer.join()
    c.close()
    d.close()


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b'"text"', b"",
                                  b"[" * 100_000 + b"]" * 100_000],  # nested too deeply: RecursionError
                         ids=["not-json", "not-utf8", "array", "string", "empty", "too-deep"])
def test_a_malformed_frame_is_reported_and_the_next_one_still_reads(pair, body):
    a, b = pair
    writer = threading.Thread(target=a.sendall, args=(struct.pack(">I", len(body)) + body + frame({"after": True}),))
    writer.start()
    with pytest.raises(MalformedFrame, match="^malformed frame: "):
        read_frame(b)
    assert read_frame(b) == {"after": True}
    writer.join()


def test_a_lone_surrogate_is_sent_as_an_escape_in_valid_utf8(pair):
    a, b = pair
    a.sendall(encode_frame({"key": "k\udc80", "text": "héllo"}))
    assert read_frame(b) == {"key": "k\udc80", "text": "héllo"}
    assert encode_frame({"text": "héllo"})[4:] == '{"text":"héllo"}'.encode()  # UTF-8 unless it cannot be


def test_envelopes_and_reply_ids():
    message = envelope("kv", {"action": "get"}, "kv-1")
    assert set(message) == {"type", "timestamp", "request_id", "payload"}
    assert message["timestamp"].endswith("+00:00") and "T" in message["timestamp"]
    assert reply_request_id({"request_id": "a", "payload": {"request_id": "b"}}) == "a"
    assert reply_request_id({"request_id": None, "payload": {"request_id": "b"}}) == "b"
    assert reply_request_id({"payload": "odd"}) is None
