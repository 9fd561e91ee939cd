"""Task output as binary WebSocket frames (`"binary": true` on `run` and
`subscribe`), through a real server, real scripts and a real WebSocket
client: exact bytes, the frame header, replay, several tasks on one
connection, back-pressure — and JSON left as it was for clients that do not
ask. The wire format: docs/tasks.md#binary-output-frames."""

import time

import psutil
import pytest

from helpers import ServerProcess, TaskSocket, wait_for, write_script

from toru.tasks.runner import BATCH_BYTES

SUBSCRIBER_STALL = 1
TIMINGS = {"TORU_TIMINGS": f"kill_grace=0.5,subscriber_stall={SUBSCRIBER_STALL},drain_after_exit=1"}
STDOUT, STDERR = 1, 2

# Invalid UTF-8, then a 4-byte emoji cut after 2 bytes by a pause (two reads),
# CJK, and (later: two pipes keep no order, docs/tasks.md) a line on stderr: the bytes must come through as they were written.
AWKWARD = ("#!/bin/sh\nprintf 'ok \\377\\376 bad\\n'\nprintf '\\360\\237'\nsleep 0.3\n"
           "printf '\\230\\200 \\344\\275\\240\\345\\245\\275\\n'\nsleep 0.1\nprintf 'err \\303\\251\\n' >&2\n")
AWKWARD_OUT = b"ok \xff\xfe bad\n" + "😀 你好\n".encode()
AWKWARD_ERR = "err é\n".encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # conftest's module server, with short timings: a stuck watcher is dropped after 1 s.
    proc = ServerProcess(tmp_path_factory.mktemp("data") / "data", env={"TRUST_PROXY": "1", **TIMINGS}).start()
    yield proc
    proc.stop()


@pytest.fixture
def sock(server, admin):
    s = TaskSocket(server, admin)
    yield s
    s.close()


def run_binary(sock, script):
    started = sock.run(script, binary=True)
    assert isinstance(started["channel"], int) and started["channel"] >= 1
    return started


def test_a_binary_run_gets_the_exact_bytes_with_stream_and_channel_in_the_header(server, sock):
    write_script(server, "awkward.sh", AWKWARD)
    started = run_binary(sock, "awkward.sh")
    out, err, exit_message = sock.frames_until_exit(started["task_id"], started["channel"])
    assert out == AWKWARD_OUT and err == AWKWARD_ERR
    assert exit_message["type"] == "exit" and exit_message["status"] == "success"  # control stays JSON


def test_clients_that_do_not_ask_still_get_json_text(server, sock, admin):
    write_script(server, "awkward.sh", AWKWARD)
    started = sock.run("awkward.sh")
    assert "channel" not in started
    messages = sock.until(lambda m: m["type"] == "exit" and m.get("task_id") == started["task_id"])
    assert not [m for m in messages if m["type"] == "frame"]
    out = "".join(m["data"] for m in messages if m["type"] == "stdout")
    assert out == AWKWARD_OUT.decode("utf-8", "replace")
    assert "".join(m["data"] for m in messages if m["type"] == "stderr") == AWKWARD_ERR.decode()
    stored = admin.get(f"/api/history/{started['task_id']}").json["task"]["output"]
    assert stored == out + AWKWARD_ERR.decode()


def test_a_json_and_a_binary_watcher_of_one_task_each_get_their_own_kind(server, sock, admin):
    write_script(server, "slow-awkward.sh", "#!/bin/sh\nsleep 0.5\n" + AWKWARD.split("\n", 1)[1])
    started = run_binary(sock, "slow-awkward.sh")
    plain = TaskSocket(server, admin)
    try:
        plain.send(type="subscribe", task_id=started["task_id"])
        out_text, err_text, _ = plain.output_until_exit(started["task_id"])
    finally:
        plain.close()
    out, err, _ = sock.frames_until_exit(started["task_id"], started["channel"])
    assert (out, err) == (AWKWARD_OUT, AWKWARD_ERR)
    assert (out_text, err_text) == (AWKWARD_OUT.decode("utf-8", "replace"), AWKWARD_ERR.decode())


def test_a_finished_task_replays_its_stored_output_as_frames_then_exit(server, sock, admin):
    write_script(server, "awkward.sh", AWKWARD)
    task_id = sock.run("awkward.sh")["task_id"]
    sock.output_until_exit(task_id)
    late = TaskSocket(server, admin)
    try:
        late.send(type="subscribe", task_id=task_id, binary=True)
        started = late.recv()
        assert started["type"] == "started" and started["replay"] is True and started["channel"] >= 1
        out, err, exit_message = late.frames_until_exit(task_id, started["channel"])
    finally:
        late.close()
    stored = admin.get(f"/api/history/{task_id}").json["task"]["output"]
    assert out == stored.encode() and err == b""  # the stored text (invalid bytes replaced), as UTF-8
    assert started["replay_bytes"] == len(stored.encode())
    assert exit_message["status"] == "success"


def test_a_running_task_replays_head_marker_and_tail_then_goes_on_live(server, sock, admin):
    admin.put("/api/settings", json={"output_cap_bytes": 4096})
    try:
        write_script(server, "long-ticker.sh", "#!/bin/sh\nseq 1 3000\nfor i in $(seq 1 20); do echo tick$i; "
                     "sleep 0.05; done\n")
        task_id = sock.run("long-ticker.sh")["task_id"]
        sock.until(lambda m: "tick2\n" in m.get("data", ""))
        late = TaskSocket(server, admin)
        try:
            late.send(type="subscribe", task_id=task_id, binary=True)
            started = late.recv()
            assert started["replay"] is True
            out, _, _ = late.frames_until_exit(task_id, started["channel"])
        finally:
            late.close()
    finally:
        admin.put("/api/settings", json={"output_cap_bytes": 1024 * 1024})
    text = out.decode()
    assert text.startswith("1\n2\n3\n") and "bytes omitted" in text
    assert text.endswith("".join(f"tick{i}\n" for i in range(5, 21)))


def test_two_tasks_on_one_connection_are_told_apart_by_channel(server, sock):
    write_script(server, "count-a.sh", "#!/bin/sh\nfor i in 1 2 3 4 5; do echo a$i; sleep 0.05; done\n")
    write_script(server, "count-b.sh", "#!/bin/sh\nfor i in 1 2 3 4 5; do echo b$i; sleep 0.05; done\n")
    sock.send(type="run", script="count-a.sh", binary=True, ref="a")
    sock.send(type="run", script="count-b.sh", binary=True, ref="b")
    ends = {}
    messages = sock.until(lambda m: m["type"] == "exit" and ends.setdefault(m["task_id"], m) and len(ends) == 2)
    a, b = (next(m for m in messages if m.get("ref") == ref) for ref in "ab")
    assert a["type"] == b["type"] == "started" and a["channel"] != b["channel"]
    for started, letter in ((a, "a"), (b, "b")):
        frames = b"".join(m["payload"] for m in messages if m["type"] == "frame" and m["channel"] == started["channel"])
        assert frames.decode() == "".join(f"{letter}{i}\n" for i in range(1, 6))
    # Watching a task again on the same connection keeps its number.
    sock.send(type="subscribe", task_id=a["task_id"], binary=True)
    assert sock.until(lambda m: m["type"] == "started")[-1]["channel"] == a["channel"]


def test_a_million_lines_arrive_exact_in_batched_frames(server, sock):
    write_script(server, "million.sh", "#!/bin/sh\nseq 1 1000000\n")
    started = run_binary(sock, "million.sh")
    messages = sock.until(lambda m: m["type"] == "exit" and m.get("task_id") == started["task_id"], timeout=60)
    frames = [m["payload"] for m in messages if m["type"] == "frame"]
    assert b"".join(frames) == "".join(f"{i}\n" for i in range(1, 1000001)).encode()
    assert all(len(f) <= BATCH_BYTES for f in frames) and len(frames) < 1000


def test_a_binary_watcher_that_stops_reading_is_dropped_while_the_task_completes(server, admin):
    write_script(server, "flood.sh", "#!/bin/sh\nseq 1 10000000\n")
    proc = psutil.Process(server.proc.pid)
    before = proc.memory_info().rss
    sock = TaskSocket(server, admin)
    try:
        started = run_binary(sock, "flood.sh")
        peak, deadline = before, time.monotonic() + SUBSCRIBER_STALL + 2
        while time.monotonic() < deadline:  # read nothing for longer than the server waits
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.2)
        messages = sock.until(lambda m: m["type"] == "error" and m.get("task_id") == started["task_id"], timeout=30)
        assert messages[-1]["code"] == "fell_behind"
        assert {m["channel"] for m in messages if m["type"] == "frame"} == {started["channel"]}
    finally:
        sock.close()
    assert peak - before < 50 * 1024 * 1024, f"server RSS grew {(peak - before) >> 20} MiB"
    wait_for(lambda: admin.get(f"/api/history/{started['task_id']}").json["task"]["status"] == "success", timeout=60)
    assert admin.get(f"/api/history/{started['task_id']}").json["task"]["output_bytes"] == 78888897


def test_binary_must_be_a_boolean_and_nothing_runs_otherwise(server, sock, admin):
    write_script(server, "awkward.sh", AWKWARD)
    sock.send(type="run", script="awkward.sh", binary="yes", ref="bad")
    reply = sock.until(lambda m: m.get("ref") == "bad")[-1]
    assert reply["type"] == "error" and "binary" in reply["data"]
    assert admin.get("/api/tasks/running").json["tasks"] == []
