"""The HTTP layer in-process (create_app on a temp dir, WSGI calls): typed
errors, body limits and JSON parsing, and 500s that hide the traceback."""

import json
import logging

import pytest

from helpers import call_wsgi
from toru.errors import Conflict
from toru.web.http import json_body


@pytest.fixture
def echo_app(app):
    @app.post("/api/test/echo", role="public")
    def echo():
        return {"got": json_body()}

    @app.get("/api/test/boom", role="public")
    def boom():
        raise RuntimeError("secret internal detail")

    @app.get("/api/test/conflict", role="public")
    def conflict():
        raise Conflict("already there", field="name")

    return app


def post(app, body, content_type="application/json", headers=None):
    hdrs = {"Content-Type": content_type, "Origin": "http://127.0.0.1"}
    hdrs.update(headers or {})
    return call_wsgi(app, "POST", "/api/test/echo", body, hdrs)


def test_valid_json_round_trips(echo_app):
    res = post(echo_app, b'{"a": [1, "\\u00e9"]}')
    assert res.status == 200 and res.json == {"got": {"a": [1, "é"]}}


@pytest.mark.parametrize("body,fragment", [
    (b'{"a": ', "Malformed JSON"),
    (b"\xff\xfe", "Malformed JSON"),
    (b"[1, 2]", "must be an object"),
    (b"", "JSON body is required"),
])
def test_bad_json_is_400(echo_app, body, fragment):
    res = post(echo_app, body)
    assert res.status == 400 and fragment in res.json["error"]


def test_non_json_content_type_is_415(echo_app):
    res = post(echo_app, b'{"a": 1}', content_type="text/plain")
    assert res.status == 415 and "application/json" in res.json["error"]


def test_body_over_the_cap_is_413_before_the_handler_reads_it(echo_app):
    cap = echo_app.services.config.max_body_bytes
    res = post(echo_app, b'{"a": "' + b"x" * cap + b'"}')
    assert res.status == 413 and str(cap) in res.json["error"]


def test_chunked_body_is_refused(echo_app):
    res = post(echo_app, b"", headers={"Transfer-Encoding": "chunked"})
    assert res.status == 411 and "Content-Length" in res.json["error"]


def test_typed_error_carries_status_and_fields(echo_app):
    res = call_wsgi(echo_app, "GET", "/api/test/conflict")
    assert res.status == 409 and res.json == {"error": "already there", "field": "name"}


def test_unexpected_error_is_500_without_traceback_but_logged(echo_app, caplog):
    with caplog.at_level(logging.ERROR, logger="toru"):
        res = call_wsgi(echo_app, "GET", "/api/test/boom")
    assert res.status == 500
    assert res.json == {"error": "Internal server error"}
    assert "secret internal detail" not in res.text and "Traceback" not in res.text
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "secret internal detail" in logged
    assert res.headers["x-frame-options"] == "DENY"


def test_router_errors_are_json(echo_app):
    res = call_wsgi(echo_app, "PUT", "/api/test/echo")
    assert res.status == 405 and json.loads(res.body)["error"]
