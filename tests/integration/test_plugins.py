"""The plugin runtime with real plugin processes: the reference plugin from
the original design, routing, KV, supervision, faults, rescan and config."""

import base64
import json
import os
import signal
import time

import psutil
import pytest

from helpers import ServerProcess, install_plugin, plugin_info as plugin, sign_in, wait_for, wait_plugin as wait_state


def events(admin, plugin_id):
    return [e["event_type"] for e in admin.get(f"/api/plugins/{plugin_id}/events?limit=500").json["events"]][::-1]


def event_rows(admin, plugin_id, after_id=0):
    """The plugin's events (oldest first) with an id above `after_id`."""
    rows = admin.get(f"/api/plugins/{plugin_id}/events?limit=500").json["events"][::-1]
    return [e for e in rows if e["id"] > after_id]


def supervisor_lines(server, plugin_id):
    path = server.data_dir / "logs" / "plugin-supervisor.log"
    return [line for line in map(json.loads, path.read_text().splitlines()) if line["plugin"] == plugin_id]


def pushes_until(sock, plugin_id, predicate, timeout=15):
    """The `plugins` pushes about `plugin_id` up to one matching `predicate`."""
    seen = sock.until(lambda m: m["type"] == "plugins" and m["data"]["id"] == plugin_id and predicate(m["data"]),
                      timeout=timeout)
    return [m["data"] for m in seen if m["type"] == "plugins" and m["data"]["id"] == plugin_id]


def assert_one_record_per_event(server, padmin, plugin_id, rows, pushes, log_before):
    """Each event is one row, one supervisor-log line and one push, and a
    transition's push shows the state it moved to (recorded after the move)."""
    assert [p["event"]["id"] for p in pushes] == [r["id"] for r in rows]
    for push in pushes:
        event = push["event"]
        if "new" in event["details"]:
            assert push["state"] == event["details"]["new"], push
    log = supervisor_lines(server, plugin_id)[log_before:]
    assert [line["event"] for line in log] == [r["event_type"] for r in rows]
    assert all(line["message"].startswith(f"Plugin {plugin_id}: {line['event']} - ") for line in log)


def subscribed(server, admin):
    from helpers import TaskSocket
    sock = TaskSocket(server, admin)
    sock.send(type="subscribe", topic="plugins")
    sock.send(type="ping")
    sock.until(lambda m: m["type"] == "pong")
    return sock


@pytest.fixture(scope="module")
def psrv(tmp_path_factory):
    data = tmp_path_factory.mktemp("plugins") / "data"
    for fixture, name in (("hello_python", "hello"), ("toolbox", "echo"), ("toolbox", "echo-b"),
                          ("toolbox", "concurrent"), ("toolbox", "silent"), ("toolbox", "oversize"),
                          ("toolbox", "malformed"), ("toolbox", "rustsdk"), ("metadata_fails", "broken")):
        install_plugin(data, fixture, name)
    # A short stop grace: the reference plugin ignores `shutdown`, and the teardown would wait 3 s for it.
    server = ServerProcess(data, env={"TRUST_PROXY": "1", "TORU_PLUGIN_TIMEOUT": "2",
                                      "TORU_TIMINGS": "stop_grace=0.5"}).start()
    admin = sign_in(server)
    for plugin_id in ("hello-plugin-python", "echo", "echo-b", "concurrent", "silent", "oversize", "malformed",
                      "rustsdk"):
        wait_state(admin, plugin_id, "running")
    yield server
    server.stop()


@pytest.fixture
def padmin(psrv):
    return sign_in(psrv)


def test_the_original_reference_plugin_runs_and_answers(psrv, padmin):
    info = plugin(padmin, "hello-plugin-python")
    assert info["health"] == "healthy" and info["enabled"] and info["running"] and info["pid"]
    assert info["route"] == "/hello-python" and info["version"] == "1.0.0" and info["rss"] > 0
    res = padmin.get("/api/plugins/route/hello-python/")
    assert res.status == 200, res
    assert res.json["message"] == "Hello from Python plugin!"
    assert res.json["instance_id"] == padmin.get("/api/instance").json["instance_id"]
    assert padmin.get("/api/plugins/route/hello-python").json["message"] == "Hello from Python plugin!"
    missing = padmin.get("/api/plugins/route/hello-python/nothing-here")
    assert missing.status == 404 and missing.json == {"error": "Not found"}
    logs = padmin.get("/api/plugins/hello-plugin-python/logs").json["logs"]
    assert any(line["message"].startswith("[HelloPlugin]") for line in logs)


def test_a_plugin_that_never_replies_gets_504_and_the_core_stays_fast(psrv, padmin):
    began = time.monotonic()
    res = padmin.get("/api/plugins/route/hello-python/bundle.js")  # absent file: the plugin never replies
    assert res.status == 504 and 1.5 < time.monotonic() - began < 5
    assert padmin.get("/api/plugins/route/hello-python/").status == 200  # lockstep slot released
    assert padmin.get("/api/plugins/hello-plugin-python/bundle.js").status in (404, 504)


def test_requests_are_forwarded_with_user_headers_and_without_the_cookie(psrv, padmin):
    res = padmin.request("POST", "/api/plugins/route/echo/items/a%20b?x=1&y=two", json_body={"k": "v"},
                         headers={"X-Toru-User": "mallory", "X-Toru-Role": "admin", "Authorization": "Bearer t",
                                  "X-Custom": "kept"})
    assert res.status == 200, res
    echo = res.json
    assert echo["method"] == "POST" and echo["path"] == "/items/a b?x=1&y=two"
    assert json.loads(echo["body"]) == {"k": "v"}
    headers = echo["headers"]
    assert headers["x-toru-user"] == "admin" and headers["x-toru-role"] == "admin"
    assert "cookie" not in headers and "authorization" not in headers
    assert headers["x-custom"] == "kept" and headers["content-type"] == "application/json"
    assert padmin.get("/api/plugins/route/echo").json["path"] == "/"
    binary = padmin.request("PUT", "/api/plugins/route/echo/up", data=b"\xff\x00\x01",
                            headers={"Content-Type": "application/octet-stream"}).json
    assert binary["body_encoding"] == "base64" and binary["body"] == "/wAB"


@pytest.mark.parametrize("data, encoding", [
    ("héllo ✓ 🐍\r\n\x00 \"q\" \\".encode("utf-8"), None),  # text: a plain string, no base64
    (b"\xff\xfe\x00\x80 binary", "base64"),                      # not UTF-8: base64, as before
])
def test_request_bodies_reach_a_real_plugin_exactly(psrv, padmin, data, encoding):
    echo = padmin.request("PUT", "/api/plugins/route/echo/body", data=data,
                          headers={"Content-Type": "application/octet-stream"}).json
    assert echo["body_encoding"] == encoding
    assert (base64.b64decode(echo["body"]) if encoding else echo["body"].encode("utf-8")) == data


def test_replies_pass_back_without_cookies_or_hop_by_hop_headers(psrv, padmin):
    res = padmin.get("/api/plugins/route/echo/cookie")
    assert res.status == 200 and res.header("x-plugin") == "yes"
    assert res.headers["set-cookie-list"] == []
    assert padmin.get("/api/plugins/route/echo/binary").body == b"\x00\xff\x10"
    assert padmin.get("/api/plugins/route/echo/nostatus").status == 502


def test_clients_may_use_plugin_routes_but_not_manage(psrv):
    admin = sign_in(psrv)
    admin.post("/api/users", json={"username": "pclient", "password": "correct horse battery staple"})
    client = psrv.client()
    client.post("/api/auth/login", json={"username": "pclient", "password": "correct horse battery staple"})
    assert client.get("/api/plugins/route/echo/x").json["headers"]["x-toru-role"] == "client"
    assert client.get("/api/plugins").status == 200
    assert client.post("/api/plugins/echo/restart").status == 403
    assert client.get("/api/plugins/echo/logs").status == 403
    assert psrv.client().get("/api/plugins/route/echo/x").status == 401


def test_unknown_routes_and_ids_are_404_and_ids_never_reach_files(psrv, padmin):
    assert padmin.get("/api/plugins/route/nobody/x").json == {"error": "Plugin not found"}
    for bad in ("..", "UPPER", "a" * 65, "%2e%2e", "x.y"):
        assert padmin.get(f"/api/plugins/{bad}/logs").status == 404
        assert padmin.get(f"/api/plugins/{bad}/bundle.js").status == 404
    assert padmin.post("/api/plugins/nobody/restart").json == {"error": "Plugin not found"}


@pytest.mark.parametrize("part", ["key", "value"])
def test_a_kv_request_the_store_cannot_keep_gets_an_error_reply(psrv, padmin, part):
    """A lone surrogate is valid JSON (`\\ud800`) but SQLite refuses it: the
    plugin gets an error reply at once instead of waiting for its timeout."""
    began = time.monotonic()
    res = padmin.get(f"/api/plugins/route/echo/kv-unstorable?part={part}")
    assert res.status == 200, res
    assert res.json["value"] is None and res.json["error"].startswith("cannot store this key or value")
    assert time.monotonic() - began < 1.5
    assert padmin.get("/api/plugins/route/echo/kv/k").json["value"] is None  # nothing was stored
    assert plugin(padmin, "echo")["health"] == "healthy"


def test_kv_round_trips_in_every_request_shape_and_stays_in_its_namespace(psrv, padmin):
    base = "/api/plugins/route/echo/kv"
    assert padmin.request("PUT", f"{base}/colour", data=b"blue").json["value"] == "blue"
    assert padmin.get(f"{base}/colour").json["value"] == "blue"
    assert padmin.get(f"{base}/colour?shape=top").json["value"] == "blue"
    assert padmin.get(f"{base}/colour?shape=nested&action=Get").json["value"] == "blue"
    assert padmin.request("PUT", "/api/plugins/route/echo-b/kv/colour", data=b"red").json["value"] == "red"
    assert padmin.get(f"{base}/colour").json["value"] == "blue"
    assert padmin.get("/api/plugins/route/echo-b/kv/colour").json["value"] == "red"
    assert padmin.get(f"{base}/col?action=list").json["keys"] == ["colour"]
    bad = padmin.get(f"{base}/colour?action=explode").json
    assert bad["value"] is None and "unknown kv action" in bad["error"]
    # Survives a restart of the plugin.
    old_pid = plugin(padmin, "echo")["pid"]
    assert padmin.post("/api/plugins/echo/restart").json == {"success": True}
    info = wait_state(padmin, "echo", "running")
    assert info["pid"] != old_pid
    assert padmin.get(f"{base}/colour").json["value"] == "blue"
    assert padmin.request("DELETE", f"{base}/colour").json["value"] is None
    assert padmin.get(f"{base}/colour").json["value"] is None


def test_a_plugin_that_never_answers_does_not_slow_others(psrv, padmin):
    import threading
    results = []
    slow = [threading.Thread(target=lambda: results.append(padmin.get("/api/plugins/route/silent/x").status))
            for _ in range(3)]
    for t in slow:
        t.start()
    time.sleep(0.2)
    began = time.monotonic()
    for _ in range(20):
        assert padmin.get("/api/health").status == 200
        assert padmin.get("/api/plugins/route/echo/fast").status == 200
    assert time.monotonic() - began < 2
    for t in slow:
        t.join()
    assert 504 in results


def test_concurrent_plugins_get_requests_in_parallel(psrv, padmin):
    import threading
    statuses = []
    began = time.monotonic()
    threads = [threading.Thread(target=lambda: statuses.append(
        padmin.get("/api/plugins/route/concurrent/slow?s=1").status)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    assert time.monotonic() - began < 2.5  # four 1 s requests overlapped


def test_a_concurrent_plugin_gets_requests_multiplexed_on_its_one_connection(psrv, padmin):
    """While a 1.8 s request is in flight (the plugin timeout here is 2 s), a
    concurrent plugin answers others, and they travel on the same connection
    as the slow one. The slow one still running when the fast one came back
    is the proof: behind it, the fast one would have waited for its end."""
    import threading
    slow = []
    thread = threading.Thread(target=lambda: slow.append(padmin.get("/api/plugins/route/concurrent/slow?s=1.8")))
    thread.start()

    def fast_beside_the_slow_one():
        res = padmin.get("/api/plugins/route/concurrent/fast")
        assert res.status == 200, res
        return res.json if res.json["in_flight"] >= 1 else None
    fast = wait_for(fast_beside_the_slow_one, timeout=1.5, message="a request answered while the slow one runs")
    assert thread.is_alive()
    thread.join()
    assert slow[0].status == 200 and slow[0].json["connection"] == fast["connection"]


def test_frames_larger_than_the_socket_takes_at_once_reach_a_concurrent_plugin_whole(psrv, padmin):
    """Frames to a concurrent plugin are written together, the rest by a
    writer greenlet when the socket is full: big and small requests at once
    all arrive intact."""
    import threading
    data = ("é" * 400_000).encode("utf-8")  # 800 KB, sent twice in the frame (both payload shapes)
    results = {}

    def put(n):
        results[n] = padmin.request("PUT", f"/api/plugins/route/concurrent/big/{n}", data=data,
                                    headers={"Content-Type": "text/plain"})
    threads = [threading.Thread(target=put, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    small = [padmin.get(f"/api/plugins/route/concurrent/small/{n}") for n in range(5)]
    for t in threads:
        t.join()
    assert [r.json["path"] for r in small] == [f"/small/{n}" for n in range(5)]
    for n, res in results.items():
        assert res.status == 200 and res.json["path"] == f"/big/{n}" and res.json["body"].encode("utf-8") == data


def test_a_lockstep_plugin_gets_one_request_at_a_time(psrv, padmin):
    """The original design's plugins read one frame at a time: the core
    sends the next request only after the answer to the last one."""
    import threading
    statuses = []
    began = time.monotonic()
    threads = [threading.Thread(target=lambda: statuses.append(padmin.get("/api/plugins/route/echo/slow?s=0.5")))
               for _ in range(2)]
    for t in threads:
        t.start()
    fast = padmin.get("/api/plugins/route/echo/fast")
    for t in threads:
        t.join()
    assert [s.status for s in statuses] == [200, 200] and fast.status == 200
    assert time.monotonic() - began >= 1.0  # the two slow ones took turns
    assert {s.json["in_flight"] for s in statuses} == {0} and fast.json["in_flight"] == 0


@pytest.mark.parametrize("plugin_id", ["oversize", "malformed"])
def test_broken_frames_drop_the_connection_not_the_core(psrv, padmin, plugin_id):
    res = padmin.get(f"/api/plugins/route/{plugin_id}/x")
    assert res.status == 502
    assert padmin.get("/api/health").status == 200
    assert "connection_problem" in events(padmin, plugin_id)
    assert plugin(padmin, plugin_id)["health"] == "unhealthy"
    if plugin_id == "malformed":  # it behaves after one bad frame: a new connection serves again
        assert padmin.get("/api/plugins/route/malformed/x").status == 200
        assert plugin(padmin, plugin_id)["health"] == "healthy"


def test_kill_9_of_a_plugin_restarts_it_within_about_a_second(psrv, padmin):
    info = plugin(padmin, "echo-b")
    pid, restarts = info["pid"], info["restarts"]
    last_id = max([0] + [e["id"] for e in event_rows(padmin, "echo-b")])
    log_before = len(supervisor_lines(psrv, "echo-b"))
    sock = subscribed(psrv, padmin)
    try:
        os.kill(pid, signal.SIGKILL)
        began = time.monotonic()
        pushes = pushes_until(sock, "echo-b", lambda d: d["state"] == "running")
        took = time.monotonic() - began
    finally:
        sock.close()
    assert 0.8 < took < 3, took
    assert padmin.get("/api/plugins/route/echo-b/x").status == 200
    rows = event_rows(padmin, "echo-b", last_id)
    # One crash, three transitions, three events — each recorded once the state had changed.
    assert [(r["event_type"], r["details"]["old"], r["details"]["new"]) for r in rows] == [
        ("exited", "running", "backoff"), ("restarting_with_backoff", "backoff", "starting"),
        ("started", "starting", "running")]
    exited = rows[0]["details"]
    assert exited["signal"] == "SIGKILL" and exited["crashes"] == 1 and exited["delay"] == 1
    assert rows[2]["details"]["pid"] not in (None, pid)
    assert_one_record_per_event(psrv, padmin, "echo-b", rows, pushes, log_before)
    assert [p["condition"] for p in pushes] == ["restarting", "starting", "running"]
    assert [p["health"] for p in pushes] == ["unhealthy", "unhealthy", "healthy"]
    assert plugin(padmin, "echo-b")["restarts"] == restarts + 1


def test_invalid_plugins_are_listed_with_their_reason(psrv, padmin):
    broken = plugin(padmin, "broken")
    assert broken["state"] == "invalid" and broken["health"] == "unhealthy" and broken["condition"] == "invalid"
    assert "exited with 1" in broken["reason"] and "Error" in broken["reason"]


def test_disable_stops_it_persists_and_enable_starts_it(psrv, padmin):
    assert padmin.post("/api/plugins/echo-b/disable").json == {"success": True}
    info = wait_state(padmin, "echo-b", "stopped")
    assert info["health"] == "disabled" and info["condition"] == "disabled" and info["pid"] is None
    assert padmin.get("/api/plugins/route/echo-b/x").status == 404
    config = json.loads((psrv.data_dir / "plugins" / ".metadata" / "config.json").read_text())
    assert config["plugins"]["echo-b"] is False
    assert (psrv.data_dir / "echo-b.shutdown").exists()  # it was asked to shut down
    assert padmin.post("/api/plugins/echo-b/enable").json == {"success": True}
    wait_state(padmin, "echo-b", "running")
    assert padmin.get("/api/plugins/route/echo-b/x").status == 200


def test_crash_loop_backs_off_then_fails_and_disables(fresh_server):
    server = fresh_server(env={"TORU_PLUGIN_BACKOFF_BASE": "0.01"})
    install_plugin(server.data_dir, "toolbox", "crashy")
    install_plugin(server.data_dir, "toolbox", "echo")
    server.start()
    admin = sign_in(server)
    info = wait_state(admin, "crashy", "failed", timeout=30)
    assert info["enabled"] is False and info["health"] == "disabled" and info["condition"] == "failed"
    assert info["reason"] == "failed 10 times in a row; disabled (last: exited, exit code 1)"
    evs = admin.get("/api/plugins/crashy/events?limit=500").json["events"][::-1]
    delays = [e["details"]["delay"] for e in evs if e["event_type"] == "restarting_with_backoff"]
    assert delays == [0.01, 0.02, 0.04, 0.08, 0.16, 0.16, 0.16, 0.16, 0.16]  # base × 2^n, capped at 16 × base
    assert [e["event_type"] for e in evs].count("exited") == 10
    # Giving up is one transition, one event (no second `disabled` event for it).
    assert [e["event_type"] for e in evs][-2:] == ["exited", "disabled_after_max_restarts"]
    assert "disabled" not in [e["event_type"] for e in evs]
    assert wait_state(admin, "echo", "running")["health"] == "healthy"  # the others are untouched
    config = json.loads((server.data_dir / "plugins" / ".metadata" / "config.json").read_text())
    assert config["plugins"]["crashy"] is False


def test_a_plugin_that_never_creates_its_socket_is_killed_and_retried(fresh_server):
    server = fresh_server(env={"TORU_TIMINGS": "socket_timeout=1,backoff_base=0.1,stop_grace=0.5"})
    install_plugin(server.data_dir, "never_socket")
    server.start()
    admin = sign_in(server)
    first_pid = wait_state(admin, "never-socket", "starting")["pid"]
    wait_for(lambda: "restarting_with_backoff" in events(admin, "never-socket"), timeout=10)
    wait_for(lambda: not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie")
    failed = next(e for e in event_rows(admin, "never-socket") if e["event_type"] == "start_failed")
    assert failed["details"]["error"] == "no socket within 1 s" and failed["details"]["signal"] == "SIGKILL"
    assert (failed["details"]["old"], failed["details"]["new"]) == ("starting", "backoff")


def test_rescan_picks_up_added_removed_and_replaced_binaries(psrv, padmin):
    plugins = psrv.data_dir / "plugins"
    install_plugin(psrv.data_dir, "toolbox", "echo-new")
    counts = padmin.post("/api/plugins/rescan").json
    assert counts["success"] is True and counts["added"] == 1
    wait_state(padmin, "echo-new", "running")
    old_pid = plugin(padmin, "echo-new")["pid"]
    target = plugins / "echo-new.binary"
    target.write_text(target.read_text() + "\n# replaced\n")
    assert padmin.post("/api/plugins/rescan").json["replaced"] == 1
    info = wait_state(padmin, "echo-new", "running")
    assert info["pid"] != old_pid
    target.unlink()
    assert padmin.post("/api/plugins/rescan").json["removed"] == 1
    assert padmin.get("/api/plugins/echo-new").status == 404
    wait_for(lambda: not psutil.pid_exists(info["pid"]) or psutil.Process(info["pid"]).status() == "zombie")


def test_the_periodic_check_finds_a_new_binary_without_a_request(fresh_server):
    server = fresh_server(env={"TORU_TIMINGS": "rescan_interval=0.2"}).start()
    admin = sign_in(server)
    install_plugin(server.data_dir, "toolbox", "echo-auto")
    wait_state(admin, "echo-auto", "running", timeout=10)
    (server.data_dir / "plugins" / "echo-auto.binary").unlink()
    wait_for(lambda: plugin(admin, "echo-auto") is None, timeout=10)
    recent = admin.get("/api/plugins/events?limit=100").json["events"][::-1]
    assert [e["event_type"] for e in recent if e["plugin_id"] == "echo-auto"] == [
        "discovered", "starting", "started", "stopping", "stopped", "removed"]


def test_logs_page_and_filter_by_level(psrv, padmin):
    logs = padmin.get("/api/plugins/echo/logs?page_size=500").json
    assert logs["page"] == 0 and logs["page_size"] == 500
    warns = padmin.get("/api/plugins/echo/logs?level=WARN").json["logs"]
    assert warns and all(line["level"] in ("warn", "error") for line in warns)
    assert all(line["plugin"] == "echo" for line in warns)  # a plugin cannot log as another
    everything = padmin.get("/api/plugins/echo/logs?page_size=1000").json["logs"]
    assert len(everything) >= len(warns)
    stamps = [line["timestamp"] for line in everything]
    assert stamps == sorted(stamps, reverse=True)
    page1 = padmin.get("/api/plugins/echo/logs?page_size=2&page=1").json["logs"]
    assert page1 == everything[2:4]
    recent = padmin.get("/api/plugins/events?limit=5").json["events"]
    assert len(recent) == 5


def test_a_flooding_plugin_keeps_at_most_six_log_files(fresh_server):
    server = fresh_server()
    install_plugin(server.data_dir, "toolbox", "flood")
    server.start()
    admin = sign_in(server)
    wait_state(admin, "flood", "running", timeout=60)
    logs = server.data_dir / "logs" / "plugins"
    def last_line_written():
        try:  # the file may be mid-write or mid-rotation while we look
            tail = (logs / "flood.log").read_text().splitlines()[-3:]
            return any(json.loads(line)["message"].startswith("69999 ") for line in tail)
        except (OSError, ValueError):
            return False
    wait_for(last_line_written, timeout=60)
    files = sorted(p.name for p in logs.iterdir() if p.name.startswith("flood.log"))
    assert files == ["flood.log", "flood.log.1", "flood.log.2", "flood.log.3", "flood.log.4", "flood.log.5"]
    assert all((logs / f).stat().st_size <= 10 * 1024 * 1024 for f in files)


def test_sigterm_of_the_core_sends_shutdown_to_plugins(fresh_server):
    server = fresh_server()
    install_plugin(server.data_dir, "toolbox", "echo")
    install_plugin(server.data_dir, "hello_python", "hello")
    server.start()
    admin = sign_in(server)
    pids = [wait_state(admin, "echo", "running")["pid"], wait_state(admin, "hello-plugin-python", "running")["pid"]]
    began = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - began < 10
    assert (server.data_dir / "echo.shutdown").exists()
    assert all(not psutil.pid_exists(pid) for pid in pids)


def test_kill_9_of_the_core_leaves_no_plugin_behind(fresh_server):
    server = fresh_server()
    install_plugin(server.data_dir, "toolbox", "echo")
    install_plugin(server.data_dir, "toolbox", "silent")
    server.start()
    admin = sign_in(server)
    pids = [wait_state(admin, "echo", "running")["pid"], wait_state(admin, "silent", "running")["pid"]]
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids),
             timeout=5, message="plugins gone with the core")


def test_a_corrupt_config_is_kept_aside_and_reported(fresh_server):
    server = fresh_server()
    install_plugin(server.data_dir, "toolbox", "echo")
    meta = server.data_dir / "plugins" / ".metadata"
    meta.mkdir(parents=True)
    (meta / "config.json").write_text("{not json")
    server.start()
    admin = sign_in(server)
    listing = admin.get("/api/plugins").json
    assert "config_problem" in listing and "corrupt" in listing["config_problem"]
    assert [p.name for p in meta.iterdir() if ".corrupt-" in p.name]
    wait_state(admin, "echo", "running")
    admin.post("/api/plugins/echo/disable")
    server.stop()
    server.start()
    admin = sign_in(server)
    time.sleep(0.5)
    assert plugin(admin, "echo")["state"] == "stopped" and plugin(admin, "echo")["enabled"] is False


def test_state_changes_are_pushed_to_websocket_subscribers(psrv, padmin):
    wait_state(padmin, "echo-b", "running")
    last_id = max([0] + [e["id"] for e in event_rows(padmin, "echo-b")])
    log_before = len(supervisor_lines(psrv, "echo-b"))
    sock = subscribed(psrv, padmin)
    try:
        assert padmin.post("/api/plugins/echo-b/restart").json == {"success": True}
        pushes = pushes_until(sock, "echo-b", lambda d: d["state"] == "running")
    finally:
        sock.close()
    rows = event_rows(padmin, "echo-b", last_id)
    assert [(r["event_type"], r["details"]["old"], r["details"]["new"]) for r in rows] == [
        ("stopping", "running", "stopping"), ("stopped", "stopping", "stopped"),
        ("starting", "stopped", "starting"), ("started", "starting", "running")]
    assert all(r["details"]["reason"] for r in rows)
    assert_one_record_per_event(psrv, padmin, "echo-b", rows, pushes, log_before)
    assert pushes[-1]["health"] == "healthy" and pushes[-1]["condition"] == "running"
    assert pushes[-1]["event"]["plugin_id"] == "echo-b"


def test_a_plugin_built_with_the_original_rust_sdk_answers(psrv, padmin):
    """Its reply is a request-shaped `http` message with the real reply as a
    JSON string in payload.payload.body: Toru unwraps it (the original core
    answered 500)."""
    res = padmin.request("POST", "/api/plugins/route/rustsdk/items?x=1", json_body={"k": "v"})
    assert res.status == 200 and res.header("content-type") == "application/json", res
    assert res.json["path"] == "/items?x=1" and json.loads(res.json["body"]) == {"k": "v"}
    assert padmin.get("/api/plugins/route/rustsdk/binary").body == b"\x00\xff\x10"  # body_encoding inside too
    cookie = padmin.get("/api/plugins/route/rustsdk/cookie")
    assert cookie.header("x-plugin") == "yes" and cookie.headers["set-cookie-list"] == []
    assert plugin(padmin, "rustsdk")["health"] == "healthy"


def test_status_and_events_carry_the_originals_fields(psrv, padmin):
    info = plugin(padmin, "echo")
    assert info["socket_path"].endswith("/echo.sock") and os.path.exists(info["socket_path"])
    assert plugin(padmin, "broken")["socket_path"] is None
    event = padmin.get("/api/plugins/events?limit=1").json["events"][0]
    stamp = event["timestamp_rfc3339"]
    assert isinstance(event["timestamp"], float) and stamp.endswith("Z")
    from datetime import datetime
    assert abs(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - event["timestamp"]) < 0.001


def test_old_plugins_ignore_a_config_change_and_keep_their_connection(psrv, padmin):
    """A config change reaches old plugins as a `lifecycle` frame with action
    `config` (the only frame types they know): they ignore it and keep
    serving on the same connection."""
    for plugin_id in ("hello-plugin-python", "rustsdk"):
        last_id = max([0] + [e["id"] for e in event_rows(padmin, plugin_id)])
        res = padmin.put(f"/api/plugins/{plugin_id}/config", json={"config": {"mode": "quiet"}})
        assert res.status == 200 and res.json["config"] == {"mode": "quiet"}, res
        assert [(e["event_type"], e["details"]["delivery"]) for e in event_rows(padmin, plugin_id, last_id)] == [
            ("config_changed", "now")]
    wait_for(lambda: any(line["message"] == "lifecycle config ignored"
                         for line in padmin.get("/api/plugins/rustsdk/logs").json["logs"]),
             timeout=15, message="the toolbox plugin to receive the config frame")
    assert padmin.get("/api/plugins/route/hello-python/").json["message"] == "Hello from Python plugin!"
    assert padmin.get("/api/plugins/route/rustsdk/x").status == 200
    for plugin_id in ("hello-plugin-python", "rustsdk"):
        assert plugin(padmin, plugin_id)["health"] == "healthy"
        assert "connection_problem" not in [e["event_type"] for e in event_rows(padmin, plugin_id)]
