"""System monitoring on a real server sampling every 0.5 s."""

import json
import os
import socket
import threading
import time

import pytest
import websocket

from helpers import ADMIN_PASSWORD, wait_for, ws_connect

INTERVAL = 0.5


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    from helpers import ServerProcess
    # lo included: the tests make known traffic on loopback.
    proc = ServerProcess(tmp_path_factory.mktemp("mon") / "data",
                         env={"TORU_SAMPLE_INTERVAL": str(INTERVAL), "TORU_SKIP_INTERFACES": ""}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def user(monitored):
    c = monitored.client()
    assert c.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status == 200
    return c


def live_snapshot(user):
    return wait_for(lambda: (lambda s: s if not s["warming_up"] else None)(user.get("/api/resources").json),
                    timeout=10, message="a sample with rates")


def test_snapshot_fields_and_types(user):
    s = live_snapshot(user)
    for key in ("cpu_percent", "memory_percent", "swap_percent", "timestamp"):
        assert isinstance(s[key], (int, float)) and s[key] >= 0, key
    assert 0 <= s["cpu_percent"] <= 100 and len(s["cpu_per_core"]) == s["cpu_count"] >= 1
    assert len(s["load_average"]) == 3
    assert s["memory_total"] >= s["memory_used"] > 0 and s["memory_available"] > 0
    assert s["uptime_seconds"] > 0 and s["boot_time"] < time.time() and s["process_count"] > 1
    assert s["hostname"] == socket.gethostname() and s["kernel"] == os.uname().release
    assert s["os"] and s["cpu_model"] and s["interval_s"] == INTERVAL
    assert s["disks"], "at least the root filesystem"
    for d in s["disks"]:
        assert d["fstype"] not in ("tmpfs", "squashfs", "overlay", "proc")
        assert d["total"] >= d["used"] >= 0 and 0 <= d["percent"] <= 100 and d["mount_point"].startswith("/")
    assert any(n["interface"] == "lo" for n in s["networks"])
    for n in s["networks"]:
        assert n["rx_bytes_per_s"] >= 0 and n["tx_bytes_per_s"] >= 0 and n["received"] >= 0
    assert s["disk_io"]["read_bytes_per_s"] >= 0 and s["disk_io"]["write_bytes_per_s"] >= 0


def test_requires_sign_in(monitored):
    c = monitored.client()
    for path in ("/api/resources", "/api/resources/history", "/api/processes"):
        assert c.get(path).status == 401


def test_loopback_traffic_shows_up_in_the_rates(user):
    live_snapshot(user)
    started = time.time()
    sent = 64 * 1024 * 1024
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def sink():
        conn, _ = server.accept()
        while conn.recv(1 << 20):
            pass
        conn.close()

    reader = threading.Thread(target=sink)
    reader.start()
    with socket.create_connection(server.getsockname()) as out:
        chunk = b"x" * (1 << 20)
        for _ in range(sent // len(chunk)):
            out.sendall(chunk)
    reader.join()
    server.close()
    time.sleep(3 * INTERVAL)
    h = user.get("/api/resources/history?range=1h&series=net").json
    rx = h["series"]["net"]["lo"]["rx"]
    total = sum((r or 0) * h["step_s"] for t, r in zip(h["timestamps"], rx) if t >= started - INTERVAL)
    # Every byte crossed lo once as rx (plus a little other traffic).
    assert 0.8 * sent <= total <= 3 * sent, (total, sent)


def test_disk_writes_show_up_in_the_rates(user, tmp_path):
    live_snapshot(user)
    started = time.time()
    written = 48 * 1024 * 1024
    with open(tmp_path / "blob", "wb") as f:
        for _ in range(written // (1 << 20)):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
    time.sleep(3 * INTERVAL)
    h = user.get("/api/resources/history?range=1h&series=disk_io").json
    total = sum((w or 0) * h["step_s"] for t, w in zip(h["timestamps"], h["series"]["disk_io"]["write"])
                if t >= started - INTERVAL)
    assert total >= 0.8 * written, (total, written)


def test_history_grows_with_aligned_series(user):
    first = user.get("/api/resources/history?range=1h").json
    time.sleep(3 * INTERVAL)
    second = user.get("/api/resources/history?range=1h").json
    assert len(second["timestamps"]) > len(first["timestamps"])
    n = len(second["timestamps"])
    s = second["series"]
    assert set(s) == {"cpu", "cores", "mem", "swap", "load1", "net", "disk_io", "disk"}
    assert len(s["cpu"]) == len(s["mem"]) == len(s["load1"]) == n and all(len(c) == n for c in s["cores"])
    assert all(len(v) == n for v in s["disk"].values())
    assert second["step_s"] == INTERVAL and second["timestamps"] == sorted(second["timestamps"])
    day = user.get("/api/resources/history?range=24h&series=cpu").json
    assert day["step_s"] == 60 and set(day["series"]) == {"cpu", "cpu_max"} and day["timestamps"]


@pytest.mark.parametrize("query", ["range=2h", "range=1h&series=cpu,bogus", "range="])
def test_bad_history_queries_are_400(user, query):
    res = user.get(f"/api/resources/history?{query}")
    assert res.status == 400 and res.json["error"]


def test_processes_sorted_and_capped(user):
    by_cpu = user.get("/api/processes?sort=cpu&limit=5").json["processes"]
    assert len(by_cpu) == 5
    assert [p["cpu_percent"] for p in by_cpu] == sorted((p["cpu_percent"] for p in by_cpu), reverse=True)
    by_mem = user.get("/api/processes?sort=mem&limit=100").json["processes"]
    assert 1 < len(by_mem) <= 100
    assert [p["rss"] for p in by_mem] == sorted((p["rss"] for p in by_mem), reverse=True)
    p = by_mem[0]
    assert {"pid", "name", "user", "cpu_percent", "rss", "cmdline", "started"} <= set(p)
    assert all(len(p["cmdline"]) <= 201 for p in by_mem)
    for bad in ("limit=101", "limit=0", "limit=x", "sort=name"):
        assert user.get(f"/api/processes?{bad}").status == 400


def receive_resources(ws, count, deadline=10, stamps=None):
    """Arrival times of `count` samples; their own timestamps go to `stamps`."""
    times, end = [], time.monotonic() + deadline
    while len(times) < count and time.monotonic() < end:
        msg = json.loads(ws.recv())
        if msg["type"] == "resources":
            assert msg["data"]["cpu_percent"] >= 0
            times.append(time.monotonic())
            if stamps is not None:
                stamps.append(msg["data"]["timestamp"])
    return times


def test_subscribe_receives_samples_at_the_interval_and_unsubscribe_stops_them(monitored, user):
    ws = ws_connect(monitored, user)
    try:
        ws.send(json.dumps({"type": "subscribe", "topic": "resources"}))
        stamps = []
        times = receive_resources(ws, 5, stamps=stamps)
        assert len(times) == 5
        # Taken on the interval's schedule (a late sample is followed by an
        # early one, so single gaps judge the machine's load, their mean the
        # sampler), and each pushed at once: no gap on arrival near two intervals.
        assert 0.75 * INTERVAL < (stamps[-1] - stamps[0]) / 4 < 1.5 * INTERVAL, stamps
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g < 2.5 * INTERVAL for g in gaps), gaps
        ws.send(json.dumps({"type": "unsubscribe", "topic": "resources"}))
        ws.send(json.dumps({"type": "ping"}))
        while json.loads(ws.recv())["type"] != "pong":
            pass  # samples already queued before the unsubscribe
        ws.settimeout(3 * INTERVAL)
        with pytest.raises(websocket.WebSocketTimeoutException):
            while True:
                assert json.loads(ws.recv())["type"] != "resources"
    finally:
        ws.close()


def test_unknown_topic_is_an_error_message(monitored, user):
    ws = ws_connect(monitored, user)
    try:
        ws.send(json.dumps({"type": "subscribe", "topic": "nope"}))
        msg = json.loads(ws.recv())
        assert msg["type"] == "error" and "Unknown topic" in msg["data"]
    finally:
        ws.close()


def test_a_stalled_client_does_not_delay_another(monitored, user):
    # The stalled client never reads, with a tiny receive buffer.
    stalled = ws_connect(monitored, user, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    healthy = ws_connect(monitored, user)
    try:
        stalled.send(json.dumps({"type": "subscribe", "topic": "resources"}))
        healthy.send(json.dumps({"type": "subscribe", "topic": "resources"}))
        times = receive_resources(healthy, 12, deadline=15)
        assert len(times) == 12
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) < 3 * INTERVAL, gaps
    finally:
        stalled.close()
        healthy.close()
