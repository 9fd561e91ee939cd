"""`Plugin.serve` in this process against a fake core on a real Unix socket:
init, KV correlation, concurrency, unknown and broken frames, reconnects,
shutdown and bundles (also from inside a zipapp)."""

import io
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk_py"))

from helpers import wait_for  # noqa: E402
from toru_plugin import KVError, Plugin  # noqa: E402
from toru_plugin.context import Logger  # noqa: E402
from toru_plugin.plugin import read_resource  # noqa: E402
from toru_plugin.protocol import HEADER, encode_frame, envelope, read_frame  # noqa: E402

TIMEOUT = 20


class FakeCore:
    """One connection to the plugin, speaking as the core does."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_for(lambda: self._connect(path), timeout=TIMEOUT, message="plugin socket")
        self.sock.settimeout(TIMEOUT)

    def _connect(self, path):
        try:
            self.sock.connect(path)
            return True
        except OSError:
            return False

    def send(self, kind, payload, request_id=None):
        self.sock.sendall(encode_frame(envelope(kind, payload, request_id)))

    def init(self, instance_id="inst-1"):
        self.send("lifecycle", {"type": "lifecycle", "action": "init", "instance_id": instance_id,
                                "plugin_socket": "/x.sock", "socket_path": "/x.sock", "log_path": "/x.log",
                                "protocol_version": 1})

    def http(self, request_id, method, path, body=None, headers=None):
        inner = {"method": method, "path": path, "headers": headers or {}, "body": body}
        self.send("http", dict(inner, type="http", request_id=request_id, payload=dict(inner)), request_id)

    def recv(self):
        return read_frame(self.sock)

    def answer_kv(self, message, value, **extra):
        rid = message["request_id"]
        self.send("kv", dict({"type": "kv", "request_id": rid, "value": value}, **extra), rid)

    def close(self):
        self.sock.close()


@pytest.fixture
def sock_dir():
    path = tempfile.mkdtemp(prefix="sdk", dir="/tmp")  # short: a socket path has 107 bytes
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def served(sock_dir):
    """(plugin, socket path, start()): start() runs serve() in a thread."""
    plugin = Plugin(id="t", name="T", version="1")
    plugin.log = plugin.ctx.log = Logger(io.StringIO())
    plugin.ctx.kv.timeout = 5
    path = str(sock_dir / "t.sock")
    outcome = {}

    def start():
        thread = threading.Thread(target=lambda: outcome.setdefault("code", plugin.serve(path)), daemon=True)
        thread.start()
        return thread
    yield plugin, path, start, outcome
    plugin.stop("test over")


def logged(plugin):
    return [json.loads(line) for line in plugin.log._stream.getvalue().splitlines()]


def test_init_runs_the_hook_with_kv_before_requests_are_handled(served):
    plugin, path, start, _ = served
    seen = {}

    @plugin.on_init
    def init(ctx):
        seen["instance"] = ctx.instance_id
        seen["colour"] = ctx.kv.get("colour")
        ctx.kv.set("colour", "green")
        ctx.kv.set_json("cfg", {"n": 1})

    @plugin.route("GET", "/")
    def index(request):
        return {"colour": seen.get("colour"), "instance": request.ctx.instance_id}

    start()
    core = FakeCore(path)
    core.init("inst-42")
    core.http("core-1", "GET", "/")   # arrives while on_init waits for KV: must wait for it
    get = core.recv()
    assert get["type"] == "kv" and get["request_id"] == get["payload"]["request_id"]
    assert get["payload"]["action"] == "get" and get["payload"]["key"] == "colour"
    assert "T" in get["timestamp"]
    core.answer_kv(get, "blue")
    put = core.recv()
    assert put["payload"]["action"] == "set" and put["payload"]["value"] == "green"
    core.answer_kv(put, "green")
    put_json = core.recv()
    assert json.loads(put_json["payload"]["value"]) == {"n": 1}
    core.answer_kv(put_json, put_json["payload"]["value"])
    reply = core.recv()
    assert reply["type"] == "http" and reply["request_id"] == "core-1" and "timestamp" in reply
    assert reply["payload"]["status"] == 200
    assert json.loads(reply["payload"]["body"]) == {"colour": "blue", "instance": "inst-42"}
    assert seen["instance"] == "inst-42" and plugin.ctx.log_path == "/x.log"


def test_requests_run_concurrently_and_kv_replies_find_their_caller(served):
    plugin, path, start, _ = served
    both_in = threading.Barrier(2, timeout=10)

    @plugin.route("GET", "/kv/<key>")
    def read(request):
        both_in.wait()  # only passes if the two requests are in flight together
        return {"key": request.params["key"], "value": request.ctx.kv.get(request.params["key"])}

    start()
    core = FakeCore(path)
    core.http("r-a", "GET", "/kv/a")
    core.http("r-b", "GET", "/kv/b")
    first, second = core.recv(), core.recv()
    assert {first["payload"]["key"], second["payload"]["key"]} == {"a", "b"}
    for message in (second, first):  # answered in the other order
        core.answer_kv(message, "value-of-" + message["payload"]["key"])
    replies = {m["request_id"]: json.loads(m["payload"]["body"]) for m in (core.recv(), core.recv())}
    assert replies == {"r-a": {"key": "a", "value": "value-of-a"}, "r-b": {"key": "b", "value": "value-of-b"}}


def test_kv_list_errors_and_no_connection(served):
    plugin, path, start, _ = served

    @plugin.route("GET", "/keys")
    def keys(request):
        return {"keys": request.ctx.kv.list("a")}

    @plugin.route("GET", "/fail")
    def fail(request):
        try:
            request.ctx.kv.set("k", "v")
        except KVError as e:
            return {"error": str(e)}

    start()
    core = FakeCore(path)
    core.http("r1", "GET", "/keys")
    listing = core.recv()
    assert listing["payload"]["action"] == "list" and listing["payload"]["prefix"] == "a"
    core.answer_kv(listing, json.dumps(["a1", "a2"]), keys=["a1", "a2"])
    assert json.loads(core.recv()["payload"]["body"]) == {"keys": ["a1", "a2"]}
    core.http("r2", "GET", "/fail")
    core.answer_kv(core.recv(), None, error="plugin already stores 10000 keys")
    assert "10000 keys" in json.loads(core.recv()["payload"]["body"])["error"]
    core.close()
    wait_for(lambda: plugin.link._connection is None, timeout=TIMEOUT, message="connection dropped")
    plugin.ctx.kv.timeout = 0.2
    with pytest.raises(KVError, match="not connected"):
        plugin.ctx.kv.get("k")


def test_unknown_and_malformed_frames_are_ignored_oversized_ones_drop_only_that_connection(served):
    plugin, path, start, _ = served

    @plugin.route("GET", "/")
    def index(request):
        return {"ok": True}

    start()
    core = FakeCore(path)
    core.send("ping", {"type": "ping"}, "p-1")
    core.send("lifecycle", {"type": "lifecycle", "action": "reload"})
    core.send("kv", {"type": "kv", "value": "nobody asked"}, "kv-999")
    core.sock.sendall(HEADER.pack(9) + b"{not json")
    core.http("r1", "GET", "/")
    reply = core.recv()
    assert reply["request_id"] == "r1" and reply["payload"]["status"] == 200
    assert any("ignored a frame" in r["message"] for r in logged(plugin))
    core.sock.sendall(HEADER.pack(16 * 1024 * 1024 + 1))
    assert core.recv() is None  # the plugin dropped this connection...
    again = FakeCore(path)      # ...and still accepts the next one (the core reconnects)
    again.http("r2", "GET", "/")
    assert again.recv()["payload"]["status"] == 200
    assert any(r["level"] == "error" and "exceeds" in r["message"] for r in logged(plugin))


def test_the_plugin_answers_503_beyond_its_limit_of_requests_in_flight(served):
    plugin, path, start, _ = served
    plugin.max_in_flight = 1
    release = threading.Event()

    @plugin.route("GET", "/slow")
    def slow(request):
        release.wait(10)
        return "done"

    start()
    core = FakeCore(path)
    core.http("r1", "GET", "/slow")  # counted in flight by the reader before it reads r2
    core.http("r2", "GET", "/slow")
    busy = core.recv()
    assert busy["request_id"] == "r2" and busy["payload"]["status"] == 503
    release.set()
    assert core.recv()["payload"]["body"] == "done"


def test_shutdown_runs_the_hook_removes_the_socket_and_returns_0(served):
    plugin, path, start, outcome = served
    calls = []
    plugin.on_shutdown(lambda ctx: calls.append(ctx))
    thread = start()
    core = FakeCore(path)
    core.send("lifecycle", {"type": "lifecycle", "action": "shutdown"}, None)
    thread.join(TIMEOUT)
    assert not thread.is_alive() and outcome["code"] == 0
    assert calls == [plugin.ctx] and not os.path.exists(path)
    assert core.recv() is None  # the connection is closed too


def test_a_stale_socket_file_is_replaced_and_a_foreign_file_is_left_alone(served, sock_dir):
    plugin, path, start, _ = served
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    start()
    FakeCore(path).close()  # connects: the plugin bound a fresh socket
    other = Plugin(id="u", name="U", version="1")
    other.log = Logger(io.StringIO())
    regular = sock_dir / "file.sock"
    regular.write_text("not a socket")
    with pytest.raises(OSError):
        other.serve(str(regular))
    assert regular.read_text() == "not a socket"


def test_bundle_files_are_served_from_a_directory_and_from_inside_a_zipapp(tmp_path, served):
    plugin, path, start, _ = served
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "bundle.js").write_text("window.ToruPlugins = {};")
    module = tmp_path / "app" / "__main__.py"
    module.write_text("")
    code = compile("full = plugin.bundle('bundle.js')", str(module), "exec")
    scope = {"plugin": plugin, "__file__": str(module)}
    exec(code, scope)
    assert scope["full"] == str(tmp_path / "app" / "bundle.js")
    assert plugin.metadata()["bundle"] is True
    reply = plugin.respond({"method": "GET", "path": "/bundle.js", "headers": {}, "body": None})
    assert reply.status == 200 and reply.payload()["body"] == "window.ToruPlugins = {};"
    assert reply.payload()["headers"]["Content-Type"] == "application/javascript; charset=utf-8"
    archive = tmp_path / "demo.binary"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("__main__.py", "")
        z.writestr("web/bundle.js", "zipped();")
    assert read_resource(str(archive / "web" / "bundle.js")) == b"zipped();"
    with pytest.raises(FileNotFoundError):
        read_resource(str(archive / "web" / "missing.js"))
    (tmp_path / "app" / "bundle.js").unlink()
    missing = plugin.respond({"method": "GET", "path": "/bundle.js", "headers": {}, "body": None})
    assert missing.status == 404
