"""What the core puts in an `http` frame and takes from the reply
(toru/plugins/router.py): headers filtered with precomputed names, text
bodies as plain strings (base64 only for bytes that are not UTF-8), and
both surviving the frame's JSON exactly."""

import base64

import pytest
from toru_plugin.protocol import decode_body, encode_frame, envelope

from toru.plugins import router

TEXT = "héllo wörld ✓ 🐍\r\n\x00\t\"quoted\" \\ back\u2028slash"


def environ(**headers):
    base = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/plugins/route/p/x", "SERVER_NAME": "127.0.0.1",
            "wsgi.input": None, "bottle.route": object(), "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5"}
    return dict(base, **{f"HTTP_{k}": v for k, v in headers.items()})


def test_the_plugin_never_sees_credentials_toru_headers_or_hop_by_hop_ones():
    env = environ(COOKIE="toru_session=secret", AUTHORIZATION="Bearer t", X_TORU_USER="mallory",
                  X_TORU_ROLE="admin", X_TORU_ANYTHING="x", HOST="h", CONNECTION="keep-alive",
                  TRANSFER_ENCODING="chunked", PROXY_AUTHORIZATION="p", X_CUSTOM="kept", ACCEPT="*/*",
                  X_EMPTY="")
    expected = {"content-type": "text/plain", "x-custom": "kept", "accept": "*/*"}
    assert router.request_headers(env) == expected
    assert router.request_headers(env) == expected  # again, from the precomputed names
    assert router.FORWARDED_NAMES["HTTP_COOKIE"] is None and router.FORWARDED_NAMES["HTTP_X_CUSTOM"] == "x-custom"


def test_the_precomputed_names_are_bounded_whatever_clients_send(monkeypatch):
    monkeypatch.setattr(router, "FORWARDED_NAMES", {})
    monkeypatch.setattr(router, "MAX_FORWARDED_NAMES", 10)
    headers = router.request_headers(environ(**{f"X_MADE_UP_{i}": str(i) for i in range(50)}, X_TORU_USER="m"))
    assert len(router.FORWARDED_NAMES) == 10
    assert len(headers) == 51 and "x-toru-user" not in headers and headers["x-made-up-49"] == "49"


def test_reply_headers_lose_set_cookie_and_hop_by_hop_ones():
    _, headers, _ = router.parse_reply("p", {"payload": {"status": 200, "body": "", "headers": {
        "Set-Cookie": "toru_session=evil", "set-cookie": "a=b", "Connection": "close", "Content-Length": "99",
        "X-Plugin": "yes", "Content-Type": "text/plain"}}})
    assert headers == {"X-Plugin": "yes", "Content-Type": "text/plain"}


def through_a_frame(message):
    """What the peer reads: the message encoded and decoded as a frame."""
    return decode_body(encode_frame(message)[4:])


@pytest.mark.parametrize("data", [TEXT.encode("utf-8"), b"plain ascii", b"{\"json\": [1, 2]}"])
def test_a_utf8_request_body_travels_as_text_without_base64_and_arrives_exactly(data):
    payload = through_a_frame(envelope("http", router.http_payload("POST", "/x", {}, data), "r1"))["payload"]
    for shape in (payload, payload["payload"]):  # both shapes old plugins read
        assert isinstance(shape["body"], str) and "body_encoding" not in shape
        assert shape["body"].encode("utf-8") == data


@pytest.mark.parametrize("data", [b"\xff\xfe\x00\x80binary", "é".encode("latin-1"), b"\xed\xa0\x80"])
def test_a_request_body_that_is_not_utf8_goes_base64_and_arrives_exactly(data):
    payload = through_a_frame(envelope("http", router.http_payload("PUT", "/x", {}, data), "r1"))["payload"]
    for shape in (payload, payload["payload"]):
        assert shape["body_encoding"] == "base64" and base64.b64decode(shape["body"]) == data


def test_an_empty_request_body_is_null():
    payload = router.http_payload("GET", "/x", {}, b"")
    assert payload["body"] is None and payload["payload"]["body"] is None


@pytest.mark.parametrize("body, extra, data", [
    (TEXT, {}, TEXT.encode("utf-8")),
    (base64.b64encode(b"\x00\xff\x10").decode(), {"body_encoding": "base64"}, b"\x00\xff\x10"),
    (None, {}, b""),
])
def test_reply_bodies_come_back_exactly(body, extra, data):
    message = through_a_frame(envelope("http", dict({"status": 200, "headers": {}, "body": body}, **extra), "r1"))
    assert router.parse_reply("p", message)[2] == data
