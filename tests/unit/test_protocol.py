"""The core's side of the plugin wire protocol: frames and their reader."""

import socket
import struct

import pytest

from toru.plugins.protocol import MAX_FRAME, FrameError, FrameReader, encode_frame, reply_request_id


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


@pytest.mark.parametrize("raw, message", [
    (struct.pack(">I", MAX_FRAME + 1), "exceeds"),
    (struct.pack(">I", 9) + b"not json!", "malformed JSON"),
    (struct.pack(">I", 2) + b"[]", "not a JSON object"),
    (struct.pack(">I", 10) + b"{}", "closed mid-frame"),
])
def test_bad_frames_are_refused(pair, raw, message):
    a, b = pair
    a.sendall(raw)
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(FrameError, match=message):
        FrameReader(b).next()


def test_an_oversize_frame_is_not_encoded():
    with pytest.raises(FrameError):
        encode_frame({"x": "a" * (MAX_FRAME + 1)})


def test_replies_name_their_request_at_the_top_or_in_the_payload():
    assert reply_request_id({"request_id": "a", "payload": {"request_id": "b"}}) == "a"
    assert reply_request_id({"payload": {"request_id": "b"}}) == "b"
    assert reply_request_id({"request_id": None, "payload": {}}) is None
