"""The wire framing as the core uses it: `toru_plugin.protocol`'s buffered
`FrameReader` (one implementation for the core and the SDK), and the core's
connection dropping on a frame it cannot read."""

import json
import socket
import struct
import threading
import time

import gevent
import pytest

import toru_plugin.protocol as sdk_protocol
from toru_plugin.protocol import MAX_FRAME, FrameError, FrameReader, MalformedFrame, encode_frame

from toru.plugins import protocol as core_protocol


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_frames_split_anywhere_or_packed_together_come_out_whole(pair):
    a, b = pair
    data = encode_frame({"n": 1}) + encode_frame({"n": 2, "text": "é" * 1000}) + encode_frame({"n": 3})
    reader = FrameReader(b, read_size=7)  # tiny reads: every boundary gets split
    a.sendall(data)
    a.shutdown(socket.SHUT_WR)
    assert [reader.next()["n"] for _ in range(3)] == [1, 2, 3]
    assert reader.next() is None


def test_several_frames_in_one_read(pair):
    a, b = pair
    a.sendall(b"".join(encode_frame({"n": i}) for i in range(50)))
    reader = FrameReader(b)
    assert [reader.next()["n"] for _ in range(50)] == list(range(50))


DEEP = b"[" * 100_000 + b"]" * 100_000  # parses only by recursing past Python's limit


@pytest.mark.parametrize("raw, message", [
    (struct.pack(">I", MAX_FRAME + 1), "exceeds"),
    (struct.pack(">I", 9) + b"not json!", "malformed frame: not UTF-8 JSON"),
    (struct.pack(">I", 4) + b"\xff{}\xfe", "malformed frame: not UTF-8 JSON"),
    (struct.pack(">I", 2) + b"[]", "malformed frame: JSON list, not an object"),
    (struct.pack(">I", len(DEEP)) + DEEP, "malformed frame: JSON nested too deeply"),
    (struct.pack(">I", 10) + b"{}", "closed mid-frame"),
])
def test_bad_frames_are_refused(pair, raw, message):
    a, b = pair
    writer = threading.Thread(target=lambda: (a.sendall(raw), a.shutdown(socket.SHUT_WR)), daemon=True)
    writer.start()
    with pytest.raises(FrameError, match=message):
        FrameReader(b).next()
    writer.join(5)  # before the fixture closes the socket under it


def test_the_core_reads_with_the_sdks_framing():
    """One implementation: the core keeps no frame reader or encoder of its own."""
    for name in ("FrameReader", "read_frame", "encode_frame", "decode_body", "recv_exactly", "FrameError",
                 "envelope", "reply_request_id"):
        assert getattr(core_protocol, name, None) in (None, getattr(sdk_protocol, name, None)), name


def test_the_core_drops_a_connection_on_a_malformed_frame_and_fails_the_request_at_once(tmp_path):
    """The documented policy: a reply the core cannot read (here JSON nested
    too deeply, which once escaped as RecursionError) fails the waiting
    request with 502 now, not at its timeout, and is reported as a problem."""
    path = str(tmp_path / "p.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def plugin():
        conn, _ = server.accept()
        with conn:
            FrameReader(conn).next()  # the request
            conn.sendall(struct.pack(">I", len(DEEP)) + DEEP)
            conn.settimeout(10)
            conn.recv(1)  # until the core hangs up
    thread = threading.Thread(target=plugin, daemon=True)
    thread.start()
    problems = []
    connection = core_protocol.PluginConnection("p", path, on_problem=problems.append)
    began = time.monotonic()
    with pytest.raises(core_protocol.BadPluginReply):
        connection.request("http", {"method": "GET"}, timeout=5)
    assert time.monotonic() - began < 2
    assert problems == ["malformed frame: JSON nested too deeply"]
    connection.close()
    thread.join(5)
    server.close()


def test_a_string_utf8_cannot_carry_is_sent_escaped_not_refused():
    data = encode_frame({"value": "a\ud800b", "text": "é"})
    body = data[4:].decode("utf-8")  # valid UTF-8 on the wire
    assert "\\ud800" in body
    assert json.loads(body) == {"value": "a\ud800b", "text": "é"}
    assert issubclass(MalformedFrame, FrameError)  # a reader that drops on FrameError drops on both


@pytest.fixture
def fake_plugin(tmp_path):
    """`start(behaviour)`: a plugin socket whose first connection is served
    by `behaviour(conn)` in a thread; returns the socket's path."""
    path = str(tmp_path / "p.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    threads = []

    def start(behaviour):
        def serve():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                behaviour(conn)
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return path
    yield start
    for thread in threads:
        thread.join(5)
    server.close()


def reply_to(message, body):
    return encode_frame(sdk_protocol.envelope("http", {"status": 200, "body": body}, message["request_id"]))


def test_a_notify_reaches_on_request_and_gets_no_answer(fake_plugin):
    """A plugin's `kv` and `notify` go to `on_request`; a `notify` (None
    from on_request) is answered with nothing: the first frame back is the
    reply to the `kv` sent after it, the next the core's own request."""
    received = []

    def plugin(conn):
        frames = FrameReader(conn)
        conn.sendall(encode_frame(sdk_protocol.envelope("notify", {"title": "disk full", "severity": "warning"}))
                     + encode_frame(sdk_protocol.envelope("kv", {"action": "get", "key": "x"}, "kv-1")))
        received.append(frames.next())
        request = frames.next()
        received.append(request)
        conn.sendall(reply_to(request, "ok"))
        conn.recv(1)  # until the core hangs up

    handled = []

    def on_request(connection, message):
        handled.append(message)
        if message["type"] == "kv":
            return sdk_protocol.envelope("kv", {"type": "kv", "request_id": "kv-1", "value": None}, "kv-1")
        return None

    connection = core_protocol.PluginConnection("p", fake_plugin(plugin), on_request=on_request)
    connection.connect()
    deadline = time.monotonic() + 5
    while len(handled) < 2 and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert [m["type"] for m in handled] == ["notify", "kv"]
    assert handled[0]["payload"] == {"title": "disk full", "severity": "warning"}
    reply = connection.request("http", {"method": "GET", "path": "/"}, timeout=5)
    connection.close()
    assert reply["payload"]["body"] == "ok"
    assert [(m["type"], m["request_id"]) for m in received] == [("kv", "kv-1"), ("http", reply["request_id"])]


def test_a_concurrent_plugins_replies_find_their_requests_in_any_order_and_any_chunks(fake_plugin):
    def plugin(conn):
        frames = FrameReader(conn)
        first, second, third = frames.next(), frames.next(), frames.next()
        data = b"".join(reply_to(m, m["payload"]["path"] + " é") for m in (third, first, second))
        for i in range(0, len(data), 7):  # replies cut anywhere, several in one read
            conn.sendall(data[i:i + 7])
        conn.recv(1)

    connection = core_protocol.PluginConnection("p", fake_plugin(plugin), concurrent=True)
    greenlets = {path: gevent.spawn(connection.request, "http", {"method": "GET", "path": path}, 5)
                 for path in ("/a", "/b", "/c")}
    gevent.joinall(list(greenlets.values()), timeout=10, raise_error=True)
    connection.close()
    assert {path: g.value["payload"]["body"] for path, g in greenlets.items()} == {
        "/a": "/a é", "/b": "/b é", "/c": "/c é"}
