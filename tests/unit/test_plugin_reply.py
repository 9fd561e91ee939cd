"""router.parse_reply: which reply shapes count as an answer (DESIGN §6a),
including the original Rust SDK's reply-inside-a-request shape."""

import json

import pytest

from toru.plugins.protocol import BadPluginReply
from toru.plugins.router import parse_reply


def rust_reply(inner_body):
    """What the original's Rust example sends: Message::new_http(id, HttpRequest{.., body})."""
    return {"type": "http", "request_id": "r1", "payload": {"type": "http", "request_id": "r1", "payload": {
        "method": "GET", "path": "", "headers": {}, "body": inner_body}}}


def test_the_rust_sdk_shape_is_unwrapped():
    inner = {"status": 201, "headers": {"Content-Type": "application/json", "Set-Cookie": "x=1"}, "body": '{"a":1}'}
    assert parse_reply("p", rust_reply(json.dumps(inner))) == (201, {"Content-Type": "application/json"}, b'{"a":1}')


@pytest.mark.parametrize("inner_body", [
    "not json", '{"status": "200"}', '{"status": 700}', "[200]", '{"headers": {}}', None, '{"status": true}'])
def test_a_body_without_a_valid_inner_status_is_still_a_broken_reply(inner_body):
    with pytest.raises(BadPluginReply):
        parse_reply("p", rust_reply(inner_body))


def test_an_outer_status_wins_over_a_json_body_that_looks_like_a_reply():
    body = json.dumps({"status": 500, "headers": {}, "body": "inner"})
    message = {"type": "http", "payload": {"status": 200, "headers": {}, "body": body}}
    assert parse_reply("p", message) == (200, {}, body.encode())
