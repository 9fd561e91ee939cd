"""The SDK's routes, requests and responses, and Plugin's metadata and
command line, without a socket."""

import base64
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk_py"))

from toru_plugin import HTTPError, Plugin, Request, Response  # noqa: E402
from toru_plugin.context import Logger  # noqa: E402
from toru_plugin.http import Router, to_response  # noqa: E402


def http_payload(method, path, headers=None, body=None, **extra):
    """What the core sends: the four fields flat and nested in `payload`."""
    inner = dict({"method": method, "path": path, "headers": headers or {}, "body": body}, **extra)
    return dict(inner, type="http", request_id="core-1", payload=dict(inner))


def make_plugin():
    plugin = Plugin(id="demo", name="Demo", version="1.0.0", author="me", icon="👋", route="/demo")
    plugin.log = plugin.ctx.log = Logger(io.StringIO())
    return plugin


def log_lines(plugin):
    return [json.loads(line) for line in plugin.log._stream.getvalue().splitlines()]


def test_path_parameters_literals_and_trailing_slashes():
    router = Router()
    router.add("GET", "/", "root")
    router.add("GET", "/items", "items")
    router.add("GET", "/items/<name>", "item")
    router.add("GET", "/items/<name>/parts/<part>", "part")
    router.add("GET", "/files/<rest:path>", "files")
    assert router.resolve("GET", "/") == ("root", {})
    assert router.resolve("GET", "") == ("root", {})
    assert router.resolve("GET", "/items") == ("items", {})
    assert router.resolve("GET", "/items/") == ("items", {})
    assert router.resolve("GET", "/items/a b") == ("item", {"name": "a b"})
    assert router.resolve("GET", "/items/x/parts/7") == ("part", {"name": "x", "part": "7"})
    assert router.resolve("GET", "/files/a/b/c.txt") == ("files", {"rest": "a/b/c.txt"})
    with pytest.raises(HTTPError) as e:
        router.resolve("GET", "/items/a/b")
    assert e.value.status == 404 and e.value.message == "Not found"
    with pytest.raises(HTTPError):
        router.resolve("GET", "/items.json")  # '.' in a literal is not a wildcard


def test_methods_405_head_and_any():
    router = Router()
    router.add("GET", "/thing", "get")
    router.add(["post", "PUT"], "/thing", "write")
    router.add("*", "/any", "any")
    assert router.resolve("PUT", "/thing") == ("write", {})
    assert router.resolve("HEAD", "/thing") == ("get", {})
    assert router.resolve("PATCH", "/any") == ("any", {})
    with pytest.raises(HTTPError) as e:
        router.resolve("DELETE", "/thing")
    assert e.value.status == 405 and e.value.headers == {"Allow": "GET, POST, PUT"}


@pytest.mark.parametrize("pattern", ["items", "/a/<x>/<x>", "/a/<bad-name>", "/a/<x"])
def test_bad_patterns_are_refused_when_declared(pattern):
    with pytest.raises(ValueError):
        Router().add("GET", pattern, None)


def test_request_from_the_cores_payload():
    request = Request.from_payload(http_payload(
        "post", "/items/a b?x=1&y=&x=2&z=%C3%A9", {"Content-Type": "application/json", "x-toru-user": "ana",
                                                    "x-toru-role": "admin"}, '{"k": [1]}'))
    assert request.method == "POST" and request.path == "/items/a b"
    assert request.query == {"x": "2", "y": "", "z": "é"}
    assert request.query_list == [("x", "1"), ("y", ""), ("x", "2"), ("z", "é")]
    assert request.query_string == "x=1&y=&x=2&z=%C3%A9"
    assert request.headers["content-type"] == "application/json"
    assert request.user == "ana" and request.role == "admin" and request.is_admin
    assert request.body == '{"k": [1]}' and request.json() == {"k": [1]}


def test_request_shapes_and_bodies():
    nested_only = {"type": "http", "payload": {"method": "GET", "path": "/", "headers": {}, "body": None}}
    request = Request.from_payload(nested_only)
    assert request.method == "GET" and request.path == "/" and request.body == "" and request.json() is None
    assert request.user is None and request.role is None
    binary = Request.from_payload(http_payload("PUT", "/up", body=base64.b64encode(b"\xff\x00").decode(),
                                                body_encoding="base64"))
    assert binary.body == b"\xff\x00" and binary.text() == "\ufffd\x00"
    with pytest.raises(HTTPError) as e:
        Request.from_payload(http_payload("POST", "/", body="{oops")).json()
    assert e.value.status == 400
    with pytest.raises(HTTPError):
        Request.from_payload(http_payload("PUT", "/", body="***", body_encoding="base64"))


def test_what_handlers_return_becomes_a_reply_payload():
    assert to_response({"a": 1}).payload() == {
        "status": 200, "headers": {"Content-Type": "application/json"}, "body": '{"a": 1}'}
    assert json.loads(to_response([1, "é"]).payload()["body"]) == [1, "é"]
    assert to_response("hi").payload() == {
        "status": 200, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": "hi"}
    assert to_response(b"\x00\xff").payload() == {
        "status": 200, "headers": {"Content-Type": "application/octet-stream"}, "body": "AP8=",
        "body_encoding": "base64"}
    assert to_response(None).payload() == {"status": 204, "headers": {}, "body": ""}
    custom = Response("<b>x</b>", status=201, headers={"content-type": "text/html", "X-N": 3}).payload()
    assert custom == {"status": 201, "headers": {"content-type": "text/html", "X-N": "3"}, "body": "<b>x</b>"}
    assert Response.json({"e": 1}, status=409).payload()["status"] == 409
    with pytest.raises(TypeError):
        to_response(("body", 200))
    with pytest.raises(ValueError):
        Response("x", status=99)


def test_respond_routes_and_turns_errors_into_json_replies():
    plugin = make_plugin()

    @plugin.route("GET", "/items/<name>")
    def item(request):
        assert request.ctx is plugin.ctx
        return {"name": request.params["name"], "q": request.query.get("q")}

    @plugin.route("GET", "/boom")
    def boom(request):
        raise ValueError("kaboom")

    @plugin.route("GET", "/teapot")
    def teapot(request):
        raise HTTPError(418, "I'm a teapot")

    ok = plugin.respond(http_payload("GET", "/items/x?q=1"))
    assert ok.status == 200 and json.loads(ok.payload()["body"]) == {"name": "x", "q": "1"}
    assert plugin.respond(http_payload("GET", "/nothing")).payload()["body"] == '{"error": "Not found"}'
    assert plugin.respond(http_payload("POST", "/boom")).status == 405
    assert plugin.respond(http_payload("GET", "/teapot")).payload()["body"] == '{"error": "I\'m a teapot"}'
    failed = plugin.respond(http_payload("GET", "/boom"))
    assert failed.status == 500 and "error" in json.loads(failed.payload()["body"])
    assert "kaboom" not in failed.payload()["body"]  # details go to the log, not to the browser
    [line] = [r for r in log_lines(plugin) if r["level"] == "error"]
    assert "GET /boom failed" in line["message"] and "kaboom" in line["message"]
    assert "Traceback" in line["error"] and "raise ValueError" in line["error"]


def test_the_logger_writes_json_lines_with_level_and_fields():
    plugin = make_plugin()
    plugin.ctx.log.warn("disk low", free=3, mount="/srv data")
    plugin.ctx.log.error("failed", error="trace here")
    plugin.ctx.log.debug("detail")
    warn, error, debug = log_lines(plugin)
    assert warn["level"] == "warn" and warn["message"] == 'disk low free=3 mount="/srv data"'
    assert warn["free"] == 3 and warn["timestamp"].endswith("+00:00")
    assert error == {"timestamp": error["timestamp"], "level": "error", "message": "failed", "error": "trace here"}
    assert debug["level"] == "debug"


def test_metadata_and_its_validation():
    plugin = make_plugin()
    assert plugin.metadata() == {"id": "demo", "name": "Demo", "version": "1.0.0", "author": "me", "icon": "👋",
                                 "route": "/demo", "concurrent": True}
    described = Plugin(id="x", name="X", version="1", description="Does x.")
    assert described.metadata()["route"] == "/x" and described.metadata()["description"] == "Does x."
    for bad in (dict(id="Bad"), dict(id="a/b"), dict(route="/a/b"), dict(route="x"), dict(route="/"),
                dict(version=1), dict(description=5)):
        with pytest.raises(ValueError):
            Plugin(**dict(dict(id="ok", name="Ok", version="1"), **bad))


def test_run_answers_metadata_help_and_usage_errors(capsys):
    plugin = make_plugin()
    with pytest.raises(SystemExit) as e:
        plugin.run(["--metadata"], {})
    assert e.value.code == 0
    assert json.loads(capsys.readouterr().out)["concurrent"] is True
    with pytest.raises(SystemExit) as e:
        plugin.run(["--help"], {})
    assert e.value.code == 0 and "--metadata" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        plugin.run(["--frobnicate"], {})
    assert e.value.code == 2 and "unknown argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        plugin.run([], {})
    assert e.value.code == 2 and "TORU_PLUGIN_SOCKET is not set" in capsys.readouterr().err
