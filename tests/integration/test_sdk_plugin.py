"""A plugin written with the Python SDK, shipped as one zipapp (SDK and
bundle inside, as `./build.sh plugins` makes them), inside the real core:
routes, replies, bundle, errors, log levels, concurrency, KV across plugin
and core restarts, and a clean shutdown."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import zipapp

import psutil
import pytest

from helpers import FIXTURE_PLUGINS, ROOT, ServerProcess, sign_in, wait_for

PLUGIN = "sdk-demo"
ROUTE = f"/api/plugins/route/{PLUGIN}"
BUNDLE = "window.ToruPlugins = window.ToruPlugins || {};\nwindow.ToruPlugins['sdk-demo'] = {mount() {}, unmount() {}};\n"


def build_binary(data_dir, stage):
    """`<data>/plugins/sdk-demo.binary`: a zipapp of the fixture, the SDK and the bundle."""
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(ROOT / "sdk_py" / "toru_plugin", stage / "toru_plugin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(FIXTURE_PLUGINS / "sdk_demo.py", stage / "__main__.py")
    (stage / "sdk_demo_bundle.js").write_text(BUNDLE)
    plugins = data_dir / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    target = plugins / f"{PLUGIN}.binary"
    zipapp.create_archive(stage, target, interpreter=sys.executable)
    return target


def info(admin):
    res = admin.get(f"/api/plugins/{PLUGIN}")
    return res.json["plugin"] if res.status == 200 else {}


def wait_running(admin, other_than=None, timeout=30):
    wait_for(lambda: info(admin).get("state") == "running" and info(admin).get("pid") not in (None, other_than),
             timeout=timeout, message=f"{PLUGIN} running: {info(admin)}")
    return info(admin)


def events(admin):
    return admin.get(f"/api/plugins/{PLUGIN}/events?limit=500").json["events"][::-1]


def exit_of(event):
    """How the process ended, as an event's details tell it: {"code"[, "signal"]}."""
    return {k: v for k, v in event["details"].items() if k in ("code", "signal")}


def logs(admin, level=None):
    query = f"?level={level}&page_size=1000" if level else "?page_size=1000"
    return admin.get(f"/api/plugins/{PLUGIN}/logs{query}").json["logs"]


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("sdk")
    build_binary(base / "data", base / "stage")
    server = ServerProcess(base / "data", env={"TRUST_PROXY": "1"}).start(timeout=40)
    wait_running(sign_in(server))
    yield server
    server.stop()


@pytest.fixture
def admin(sdk_server):
    return sign_in(sdk_server)


def test_the_binary_answers_metadata_and_help_like_any_plugin(tmp_path):
    binary = build_binary(tmp_path / "data", tmp_path / "stage")
    meta = subprocess.run([str(binary), "--metadata"], capture_output=True, text=True, timeout=30, cwd="/")
    assert meta.returncode == 0, meta.stderr
    assert json.loads(meta.stdout) == {"id": PLUGIN, "name": "SDK demo", "version": "2.1.0", "author": "tests",
                                       "icon": "🧪", "route": "/sdk-demo", "description": "Exercises toru_plugin.",
                                       "concurrent": True, "bundle": True}
    helped = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "--metadata" in helped.stdout
    bare = subprocess.run([str(binary)], capture_output=True, text=True, timeout=30,
                          env={k: v for k, v in os.environ.items() if k != "TORU_PLUGIN_SOCKET"})
    assert bare.returncode == 2 and "TORU_PLUGIN_SOCKET" in bare.stderr


def test_routes_params_and_every_kind_of_reply(sdk_server, admin):
    plugin = info(admin)
    assert plugin["version"] == "2.1.0" and plugin["icon"] == "🧪" and plugin["health"] == "healthy"
    root = admin.get(f"{ROUTE}/").json
    assert root["user"] == "admin" and root["role"] == "admin" and root["same_ctx"] is True
    assert root["instance_id"] == admin.get("/api/instance").json["instance_id"]
    assert root["socket"].endswith(f"{PLUGIN}.sock") and root["log_path"]
    assert admin.get(ROUTE).json["pid"] == root["pid"]
    item = admin.get(f"{ROUTE}/items/a%20b?x=1&x=2&y=").json
    assert item == {"name": "a b", "query": {"x": "2", "y": ""}, "path": "/items/a b"}
    assert admin.get(f"{ROUTE}/files/deep/er/file.txt").json == {"rest": "deep/er/file.txt"}
    echoed = admin.request("PUT", f"{ROUTE}/echo", json_body={"k": ["v", 1]}).json
    assert echoed == {"method": "PUT", "json": {"k": ["v", 1]}, "type": "application/json"}
    text = admin.get(f"{ROUTE}/text")
    assert text.text == "plain words" and text.header("content-type").startswith("text/plain")
    raw = admin.get(f"{ROUTE}/bytes")
    assert raw.body == b"\x00\xff\x10" and raw.header("content-type") == "application/octet-stream"
    teapot = admin.get(f"{ROUTE}/teapot")
    assert teapot.status == 418 and teapot.text == "short and stout" and teapot.header("x-demo") == "yes"
    missing = admin.get(f"{ROUTE}/nothing/here")
    assert missing.status == 404 and missing.json == {"error": "Not found"}
    wrong = admin.request("DELETE", f"{ROUTE}/items/x")
    assert wrong.status == 405 and wrong.header("allow") == "GET"
    bad_json = admin.request("POST", f"{ROUTE}/echo", data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status == 400 and bad_json.json == {"error": "request body is not valid JSON"}


def test_user_and_role_come_from_the_core(sdk_server, admin):
    admin.post("/api/users", json={"username": "sdkclient", "password": "correct horse battery staple"})
    client = sdk_server.client()
    assert client.post("/api/auth/login", json={"username": "sdkclient",
                                                "password": "correct horse battery staple"}).status == 200
    res = client.get(f"{ROUTE}/", headers={"X-Toru-User": "admin", "X-Toru-Role": "admin"})
    assert (res.json["user"], res.json["role"]) == ("sdkclient", "client")
    assert client.get(f"{ROUTE}/forbidden").json == {"error": "admins only"}
    assert admin.get(f"{ROUTE}/forbidden").json == {"ok": True}


def test_the_bundle_is_served_from_inside_the_zipapp(sdk_server, admin):
    res = admin.get(f"/api/plugins/{PLUGIN}/bundle.js")
    assert res.status == 200 and res.text == BUNDLE
    direct = admin.get(f"{ROUTE}/bundle.js")
    assert direct.text == BUNDLE and direct.header("content-type").startswith("application/javascript")


def test_a_failing_handler_answers_500_logs_the_traceback_and_the_plugin_keeps_serving(sdk_server, admin):
    pid = info(admin)["pid"]
    res = admin.get(f"{ROUTE}/boom?marker=m-500")
    assert res.status == 500 and "error" in res.json and "kaboom" not in res.text
    line = wait_for(lambda: next((x for x in logs(admin, "error") if "kaboom m-500" in x["message"]), None),
                    timeout=15, message="the error line")
    assert line["level"] == "error" and "Traceback" in line["error"] and "RuntimeError" in line["error"]
    assert admin.get(f"{ROUTE}/").status == 200 and info(admin)["pid"] == pid


def test_log_levels_survive_into_the_cores_log(sdk_server, admin):
    assert admin.get(f"{ROUTE}/log?marker=lv-7").json == {"logged": "lv-7"}

    def mine(level=None):
        return {x["message"].split(" ")[0]: x["level"] for x in logs(admin, level) if "lv-7" in x["message"]}
    wait_for(lambda: len(mine()) == 4, timeout=15, message="four log lines")
    assert mine() == {"debug": "debug", "info": "info", "warn": "warn", "error": "error"}
    assert mine("warn") == {"warn": "warn", "error": "error"}
    assert mine("WARNING") == {"warn": "warn", "error": "error"}
    assert mine("error") == {"error": "error"}
    assert any("sdk-demo ready" in x["message"] and x["level"] == "info" for x in logs(admin, "info"))


def test_concurrent_requests_overlap_inside_the_plugin(sdk_server, admin):
    results = []
    clients = [sign_in(sdk_server) for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: results.append(c.get(f"{ROUTE}/sleep?s=1.5", timeout=30)))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status for r in results] == [200, 200, 200], results
    spans = [r.json for r in results]
    assert max(s["began"] for s in spans) < min(s["ended"] for s in spans)  # all three were in flight at once


def test_kv_survives_a_plugin_restart_and_init_uses_kv(sdk_server, admin):
    assert admin.request("PUT", f"{ROUTE}/kv/colour", data=b"teal").json == {"value": "teal"}
    assert admin.request("PUT", f"{ROUTE}/kv/temp", data=b"x").json == {"value": "x"}
    assert admin.request("DELETE", f"{ROUTE}/kv/temp").json == {"value": None}
    assert admin.get(f"{ROUTE}/kv?prefix=col").json == {"keys": ["colour"]}
    assert set(admin.get(f"{ROUTE}/kv").json["keys"]) >= {"colour", "inits"}
    inits = int(admin.get(f"{ROUTE}/kv/inits").json["value"])
    assert admin.get(f"{ROUTE}/visits").json == {"visits": 1}
    old_pid = info(admin)["pid"]
    assert admin.post(f"/api/plugins/{PLUGIN}/restart").json == {"success": True}
    wait_running(admin, other_than=old_pid)
    assert admin.get(f"{ROUTE}/kv/colour").json == {"value": "teal"}
    assert admin.get(f"{ROUTE}/visits").json == {"visits": 2}
    wait_for(lambda: int(admin.get(f"{ROUTE}/kv/inits").json["value"]) == inits + 1, timeout=15,
             message="on_init ran again")
    stopped = [e for e in events(admin) if e["event_type"] == "stopped"]
    assert stopped and exit_of(stopped[-1]) == {"code": 0}  # it left on `shutdown`, not by a signal
    assert (stopped[-1]["details"]["old"], stopped[-1]["details"]["new"]) == ("stopping", "stopped")
    assert "killed" not in [e["event_type"] for e in events(admin)]
    shutdown_file = sdk_server.data_dir / "sdk-demo.shutdown"
    assert str(old_pid) in shutdown_file.read_text().split()


def test_sigterm_to_the_plugin_exits_0_and_removes_its_socket(sdk_server, admin):
    before = info(admin)
    socket_path = admin.get(f"{ROUTE}/").json["socket"]
    assert os.path.exists(socket_path)
    os.kill(before["pid"], signal.SIGTERM)
    wait_for(lambda: any(e["event_type"] == "exited" and exit_of(e) == {"code": 0} for e in events(admin)),
             timeout=15, message="exit 0 after SIGTERM")
    assert str(before["pid"]) in (sdk_server.data_dir / "sdk-demo.shutdown").read_text().split()
    wait_running(admin, other_than=before["pid"])  # the supervisor restarts it
    assert admin.get(f"{ROUTE}/").status == 200


def config_events(admin):
    return [e for e in events(admin) if e["event_type"] == "config_changed"]


def test_a_config_is_stored_sent_to_the_running_plugin_and_carried_by_init(sdk_server, admin):
    from helpers import TaskSocket
    assert admin.get(f"/api/plugins/{PLUGIN}/config").json == {"config": {}, "updated_at": None, "updated_by": None}
    assert admin.get(f"{ROUTE}/config").json["config"] == {}
    sock = TaskSocket(sdk_server, admin)
    try:
        sock.send(type="subscribe", topic="plugins")
        sock.send(type="ping")
        sock.until(lambda m: m["type"] == "pong")
        wanted = {"greeting": "kia ora", "limits": {"n": 3}, "tags": ["a", "ü"]}
        res = admin.put(f"/api/plugins/{PLUGIN}/config", json={"config": wanted})
        assert res.status == 200, res
        assert res.json["config"] == wanted and res.json["updated_by"] == "admin" and res.json["updated_at"]
        seen = wait_for(lambda: (lambda c: c if c["changes"] else None)(admin.get(f"{ROUTE}/config").json),
                        timeout=15, message="on_config in the plugin")
        assert seen["config"] == wanted and seen["changes"] == [wanted]
        sock.send(type="ping")  # the push went out before the PUT answered: all of it is before the pong
        pushed = [m["data"] for m in sock.until(lambda m: m["type"] == "pong") if m["type"] == "plugins"]
        changed = config_events(admin)
        assert len(changed) == 1 and changed[0]["details"] == {"by": "admin", "bytes": len(json.dumps(
            wanted, ensure_ascii=False, separators=(",", ":")).encode()), "delivery": "now"}
        assert [p["event"]["id"] for p in pushed if p["event"]["event_type"] == "config_changed"] == [changed[0]["id"]]
    finally:
        sock.close()
    old_pid = info(admin)["pid"]
    assert admin.post(f"/api/plugins/{PLUGIN}/restart").status == 200
    wait_running(admin, other_than=old_pid)
    after = wait_for(lambda: (lambda c: c if c["at_init"] is not None else None)(admin.get(f"{ROUTE}/config").json),
                     timeout=15, message="on_init of the new process")
    assert after == {"config": wanted, "at_init": wanted, "changes": []}  # the new process got it with init


def test_bad_configs_are_refused_with_a_reason_and_change_nothing(sdk_server, admin, tmp_path):
    before = admin.get(f"/api/plugins/{PLUGIN}/config").json
    in_plugin = admin.get(f"{ROUTE}/config").json
    events_before = len(config_events(admin))
    url = f"/api/plugins/{PLUGIN}/config"
    for body, status, words in (
            ({"config": [1, 2]}, 400, "must be a JSON object ({…}), not an array"),
            ({"config": "text"}, 400, "not str"),
            ({"config": None}, 400, "not null"),
            ({"settings": {}}, 400, 'The body must be {"config": {…}}'),
            ({"config": {}, "extra": 1}, 400, "Unknown field(s) extra"),
            ({"config": {"big": "x" * 70_000}}, 413, "at most 65536 (64 KiB)")):
        res = admin.put(url, json=body)
        assert (res.status, words in res.json["error"]) == (status, True), (body, res)
    assert admin.put(url, data=b"[1]", headers={"Content-Type": "application/json"}).status == 400
    assert admin.put(url, data=b"{nope", headers={"Content-Type": "application/json"}).status == 400
    assert admin.put(url, data=b'{"config": {"n": NaN}}', headers={"Content-Type": "application/json"}).status == 400
    assert admin.put(url, data=b"{}", headers={"Content-Type": "text/plain"}).status == 415
    assert admin.put("/api/plugins/nobody/config", json={"config": {}}).json == {"error": "Plugin not found"}
    assert admin.get("/api/plugins/UPPER/config").status == 404
    admin.post("/api/users", json={"username": "cfgclient", "password": "correct horse battery staple"})
    client = sdk_server.client()
    client.post("/api/auth/login", json={"username": "cfgclient", "password": "correct horse battery staple"})
    assert client.get(url).status == 403 and client.put(url, json={"config": {}}).status == 403
    assert admin.get(url).json == before
    assert admin.get(f"{ROUTE}/config").json == in_plugin
    assert len(config_events(admin)) == events_before


def test_kv_survives_a_core_restart_and_the_plugin_shuts_down_cleanly_with_the_core(tmp_path):
    data = tmp_path / "data"
    build_binary(data, tmp_path / "stage")
    first = ServerProcess(data).start(timeout=40)
    try:
        admin = sign_in(first)
        wait_running(admin)
        assert admin.request("PUT", f"{ROUTE}/kv/kept", data=b"across restarts").status == 200
        root = admin.get(f"{ROUTE}/").json
        pid, socket_path = root["pid"], root["socket"]
        assert os.path.exists(socket_path)
    finally:
        assert first.stop() == 0
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             timeout=15, message="the plugin gone with the core")
    assert not os.path.exists(socket_path)
    assert str(pid) in (data / "sdk-demo.shutdown").read_text().split()
    second = ServerProcess(data).start(timeout=40)
    try:
        admin = sign_in(second)
        wait_running(admin)
        assert admin.get(f"{ROUTE}/kv/kept").json == {"value": "across restarts"}
        stopped = [e for e in events(admin) if e["event_type"] in ("stopped", "killed")]
        assert stopped and stopped[-1]["event_type"] == "stopped" and exit_of(stopped[-1]) == {"code": 0}
        assert stopped[-1]["details"]["reason"] == "core stopping"
    finally:
        second.stop()
