"""Plugin logs: rotation, line capture from real pipes, backwards reading."""

import json
import os
import random
import re
import subprocess
import sys
import time
import tracemalloc

import gevent
import pytest

from toru.plugins import logs
from toru.plugins.logs import (
    LineSplitter, RotatingJsonLog, SupervisorLog, capture_lines, level_rank, line_writer,
    lines_backwards, plugin_line_record, read_logs, rotated_paths)

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")
MARKER = re.compile(r" … \[truncated (\d+) bytes\]$")


def forward_records(path):
    """Brute force: every file read whole, oldest to newest."""
    records = []
    for file_path in reversed(rotated_paths(path)):
        if not file_path.exists():
            continue
        for raw in file_path.read_bytes().split(b"\n"):
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def reference_filter(newest_first, level):
    """Brute force level filter: a record without a known level counts as info."""
    minimum = level_rank(level)
    if minimum is None:
        return newest_first
    ranks = [level_rank(r.get("level")) for r in newest_first]
    return [r for r, rank in zip(newest_first, ranks)
            if (level_rank("info") if rank is None else rank) >= minimum]


# ── rotation ────────────────────────────────────────────────────────────

def test_rotation_keeps_at_most_six_files_in_order_with_bounded_sizes(tmp_path):
    path = tmp_path / "deep" / "plugins" / "p.log"
    log = RotatingJsonLog(path, max_bytes=1000, backups=5)
    assert not path.parent.exists()  # opened lazily
    for seq in range(2000):
        assert log.write({"seq": seq, "message": "ü" * (seq % 40)})
    log.close()

    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["p.log", "p.log.1", "p.log.2", "p.log.3", "p.log.4", "p.log.5"]
    for file_path in rotated_paths(path):
        assert 0 < file_path.stat().st_size <= 1000
    # Oldest file first, the live one last: one unbroken run ending at the last write.
    seqs = [r["seq"] for r in forward_records(path)]
    assert seqs == list(range(seqs[0], 2000))
    assert seqs[0] > 0  # the oldest were deleted
    assert json.loads(path.read_bytes().splitlines()[0])["seq"] > \
        json.loads(path.with_name("p.log.1").read_bytes().splitlines()[-1])["seq"]
    assert "ü" in path.read_text(encoding="utf-8")  # ensure_ascii=False


def test_a_reopened_log_continues_from_the_existing_size(tmp_path):
    path = tmp_path / "p.log"
    first = RotatingJsonLog(path, max_bytes=300, backups=2)
    first.write({"seq": 0, "pad": "x" * 200})
    first.close()
    second = RotatingJsonLog(path, max_bytes=300, backups=2)
    second.write({"seq": 1, "pad": "x" * 200})
    second.close()
    assert [r["seq"] for r in forward_records(path)] == [0, 1]
    assert path.with_name("p.log.1").exists() and path.stat().st_size <= 300


def test_a_write_that_fails_returns_false_and_recovers(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = RotatingJsonLog(blocker / "p.log")
    assert log.write({"message": "lost"}) is False
    blocker.unlink()
    assert log.write({"message": "kept"}) is True
    log.close()
    assert forward_records(blocker / "p.log") == [{"message": "kept"}]


def test_supervisor_log_uses_the_original_message_pattern(tmp_path):
    path = tmp_path / "plugin-supervisor.log"
    sup = SupervisorLog(path)
    sup.event("hello", "exited", {"code": 1, "signal": None}, level="WARNING")
    sup.event("hello", "started", "pid 42")
    sup.close()
    exited, started = forward_records(path)
    assert exited["message"] == 'Plugin hello: exited - {"code": 1, "signal": null}'
    assert exited["level"] == "warn" and exited["plugin"] == "hello"
    assert exited["event"] == "exited" and exited["details"] == {"code": 1, "signal": None}
    assert started["message"] == "Plugin hello: started - pid 42" and started["level"] == "info"
    assert TIMESTAMP.fullmatch(started["timestamp"])


# ── captured line → record ──────────────────────────────────────────────

def test_a_plain_line_is_info_on_either_stream():
    out = plugin_line_record("hello", b"[HelloPlugin] started\r\n", "stdout", 42)
    assert TIMESTAMP.fullmatch(out.pop("timestamp"))
    assert out == {"level": "info", "plugin": "hello", "message": "[HelloPlugin] started",
                   "pid": 42, "stream": "stdout"}
    assert plugin_line_record("hello", b"Traceback ...", "stderr", 42)["level"] == "info"


def test_a_json_line_keeps_level_message_error_pid_timestamp_but_not_plugin():
    line = json.dumps({"level": "WARNING", "message": "disk low", "plugin": "someone-else",
                       "error": "ENOSPC", "pid": 7, "timestamp": "2026-11-25T19:00:00.123456789Z",
                       "other": 1}).encode()
    out = plugin_line_record("hello", line, "stderr", 42)
    assert out == {"timestamp": "2026-11-25T19:00:00.123456789Z", "level": "warn", "plugin": "hello",
                   "message": "disk low", "error": "ENOSPC", "pid": 7, "stream": "stderr"}


@pytest.mark.parametrize("given, kept", [("DEBUG", "debug"), ("Notice", "notice"), ("error", "error"),
                                         ("warn", "warn"), ("FATAL", "fatal")])
def test_json_levels_are_lowercased_and_unknown_ones_kept(given, kept):
    line = json.dumps({"level": given, "message": "m"}).encode()
    assert plugin_line_record("p", line, "stdout", 1)["level"] == kept


def test_json_lines_with_bad_fields_fall_back_to_ours():
    line = json.dumps({"level": "error", "msg": "from msg", "timestamp": "2026-02-31T00:00:00Z",
                       "pid": "seven"}).encode()
    out = plugin_line_record("p", line, "stdout", 3)
    assert out["message"] == "from msg" and out["level"] == "error" and out["pid"] == 3
    assert TIMESTAMP.fullmatch(out["timestamp"])  # Feb 31 is not a valid timestamp
    no_offset = json.dumps({"message": "m", "timestamp": "2026-11-25T19:00:00"}).encode()
    assert TIMESTAMP.fullmatch(plugin_line_record("p", no_offset, "stdout", 3)["timestamp"])
    # JSON that is not a log object stays a plain line.
    for text in (b'{"a": 1}', b"[1, 2]", b"{not json"):
        out = plugin_line_record("p", text, "stdout", 3)
        assert out["message"] == text.decode() and out["level"] == "info"


def test_a_long_line_is_truncated_with_a_marker_and_fits_64_kib():
    line = b"x" * (200 * 1024)
    message = plugin_line_record("p", line, "stdout", 1)["message"]
    dropped = int(MARKER.search(message).group(1))
    kept = message[:MARKER.search(message).start()]
    assert set(kept) == {"x"} and len(kept) + dropped == len(line)
    assert len(message.encode()) <= 64 * 1024
    # Exactly 64 KiB is not "longer than" and stays whole.
    assert plugin_line_record("p", b"y" * 65536, "stdout", 1)["message"] == "y" * 65536


def test_truncation_cuts_at_a_character_boundary_and_invalid_utf8_is_replaced():
    message = plugin_line_record("p", "é".encode() * 40000, "stdout", 1)["message"]
    assert "\ufffd" not in message and MARKER.search(message)
    assert plugin_line_record("p", b"bad \xff\xfe bytes", "stdout", 1)["message"] == "bad \ufffd\ufffd bytes"


# ── splitting and capturing ─────────────────────────────────────────────

def test_the_splitter_joins_lines_across_reads_and_flushes_the_last():
    lines = []
    splitter = LineSplitter(lines.append, max_line=40)
    for piece in (b"ab", b"c\nde", b"f\n\n", b"0" * 30, b"A" * 30, b"\nlast"):
        splitter.feed(piece)
    splitter.finish()
    assert lines[:3] == [b"abc", b"def", b""]
    long_line = lines[3].decode()
    marker = MARKER.search(long_line)
    assert len(lines[3]) <= 40 and long_line.startswith("0")
    assert marker.start() + int(marker.group(1)) == 60
    assert lines[4:] == [b"last"]


def run_capture(code, on_line, timeout=60):
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        reader = gevent.spawn(capture_lines, proc.stdout, on_line)
        reader.join(timeout)
        assert reader.successful(), reader.exception
    finally:
        proc.stdout.close()
        proc.wait(10)
    return proc


def test_capture_lines_from_a_real_process_with_an_unterminated_long_line(tmp_path):
    code = ("import sys, json\n"
            "sys.stdout.write('one\\n')\n"
            "sys.stdout.write(json.dumps({'level': 'ERROR', 'message': 'boom'}) + '\\n')\n"
            "sys.stdout.flush()\n"
            "sys.stdout.buffer.write(b'\\xff broken\\n')\n"
            "sys.stdout.buffer.write(b'z' * (200 * 1024))\n")
    path = tmp_path / "plugins" / "p.log"
    log = RotatingJsonLog(path)
    proc = run_capture(code, line_writer(log, "p", "stdout", 1234))
    log.close()
    records = forward_records(path)
    assert [r["message"][:4] for r in records] == ["one", "boom", "\ufffd br", "zzzz"]
    assert records[1]["level"] == "error" and records[0]["pid"] == 1234
    dropped = int(MARKER.search(records[3]["message"]).group(1))
    assert len(records[3]["message"]) - len(MARKER.search(records[3]["message"]).group(0)) + dropped == 200 * 1024
    assert proc.returncode == 0


def test_capture_of_a_flood_stays_small_in_memory_and_lets_other_greenlets_run():
    code = ("import sys\n"
            "out = sys.stdout.buffer\n"
            "for i in range(100000): out.write(b'flood line %d\\n' % i)\n"
            "for _ in range(320): out.write(b'w' * 65536)\n"  # one 20 MiB line
            "out.write(b'\\nafter\\n')\n")
    seen = {"lines": 0, "longest": 0, "last": None}
    ticks = []

    def on_line(line):
        seen["lines"] += 1
        seen["longest"] = max(seen["longest"], len(line))
        seen["last"] = line

    def ticker():
        while True:
            ticks.append(1)
            gevent.sleep(0.001)

    tick_greenlet = gevent.spawn(ticker)
    tracemalloc.start()
    try:
        run_capture(code, on_line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        tick_greenlet.kill()
    assert seen["lines"] == 100002 and seen["last"] == b"after"
    assert seen["longest"] <= 64 * 1024
    assert peak < 2 * 1024 * 1024, peak  # the 20 MiB line was never held
    assert len(ticks) > 5  # the hub was not starved while the pipe stayed full


def test_capture_yields_to_other_greenlets_when_data_never_runs_out(tmp_path):
    # A regular file is always readable, like a pipe a plugin keeps full:
    # nb_read never waits, so only an explicit yield lets others run.
    path = tmp_path / "always-ready"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(200000)))
    ticks, lines = [], []
    fd = os.open(path, os.O_RDONLY)

    def ticker():
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(0.001)

    tick_greenlet = gevent.spawn(ticker)
    gevent.sleep(0)
    try:
        capture_lines(fd, lambda line: lines.append(len(line)))
    finally:
        os.close(fd)
        tick_greenlet.kill()
    assert len(lines) == 200000
    assert len(ticks) > 10, len(ticks)


# ── reading backwards ───────────────────────────────────────────────────

@pytest.mark.parametrize("block", [1, 3, 7, 64, 4096])
def test_lines_backwards_matches_a_forward_read(tmp_path, block):
    rng = random.Random(block)
    path = tmp_path / "f.log"
    for trial in range(30):
        lines = [bytes(rng.choice(b"ab") for _ in range(rng.randrange(0, 20))) for _ in range(rng.randrange(0, 30))]
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        path.write_bytes(data)
        expected = [line for line in reversed(data.split(b"\n")) if line]
        assert list(lines_backwards(path, block_size=block)) == expected
    assert list(lines_backwards(tmp_path / "missing.log")) == []


def test_lines_backwards_skips_a_line_too_long_to_assemble(tmp_path):
    path = tmp_path / "f.log"
    path.write_bytes(b"first\n" + b"h" * 5000 + b"\nlast\n")
    assert list(lines_backwards(path, block_size=100, max_line=1000)) == [b"last", b"first"]


def write_random_log(path, rng, count, max_bytes):
    levels = ["trace", "debug", "info", "warn", "error", "WARNING", "Error", "fatal", "critical",
              "notice", None, 5]
    log = RotatingJsonLog(path, max_bytes=max_bytes, backups=5)
    for seq in range(count):
        record = {"timestamp": "t", "seq": seq, "message": "m" * rng.randrange(0, 50)}
        level = rng.choice(levels)
        if level is not None:
            record = {"timestamp": "t", "level": level, "seq": seq, "message": record["message"]}
        log.write(record)
        if seq % 97 == 0:  # a torn line and a stray non-object
            log._write_all(b'{"level": "error", "seq": \n[1, 2]\n')
    log.close()


@pytest.mark.parametrize("block", [173, None])
def test_read_logs_pages_and_levels_match_a_brute_force_reference(tmp_path, monkeypatch, block):
    if block:
        monkeypatch.setattr(logs, "READ_BLOCK", block)
    path = tmp_path / "plugins" / "p.log"
    write_random_log(path, random.Random(7), 3000, max_bytes=8000)
    assert path.with_name("p.log.5").exists() and not path.with_name("p.log.6").exists()
    newest_first = list(reversed(forward_records(path)))
    for level in (None, "trace", "debug", "INFO", "warn", "warning", "Error", "fatal", "critical", "bogus", ""):
        matching = reference_filter(newest_first, level)
        for page_size in (1, 7, 100, 5000):
            size = min(page_size, 1000)
            for page in (0, 1, 3, len(matching) // size, len(matching) // size + 1):
                expected = matching[page * size:(page + 1) * size]
                assert read_logs(path, page, page_size, level) == expected, (level, page, page_size)


def test_read_logs_clamps_page_size_and_handles_no_files(tmp_path):
    path = tmp_path / "p.log"
    assert read_logs(path) == []
    log = RotatingJsonLog(path)
    for seq in range(1500):
        log.write({"level": "info", "seq": seq})
    log.close()
    assert len(read_logs(path, page_size=5000)) == 1000
    assert [r["seq"] for r in read_logs(path, page_size=0)] == [1499]
    assert [r["seq"] for r in read_logs(path, page=1, page_size=1000)] == list(range(499, -1, -1))


def build_big_log(path, size=52 * 1024 * 1024):
    filler = (json.dumps({"timestamp": "2026-11-25T19:00:00.000+00:00", "level": "debug", "plugin": "p",
                          "message": "filler " + "f" * 100, "pid": 1, "stream": "stdout"}) + "\n").encode()
    tail = b"".join((json.dumps({"timestamp": "2026-11-25T19:00:01.000+00:00", "level": level, "plugin": "p",
                                 "message": f"tail {i}", "pid": 1, "stream": "stdout"}) + "\n").encode()
                    for i in range(3000) for level in ("info", "debug", "error" if i % 10 == 0 else "warn"))
    rare = (json.dumps({"timestamp": "t", "level": "fatal", "plugin": "p", "message": "rare"}) + "\n").encode()
    with open(path, "wb") as f:
        f.write(rare)
        f.write(filler * (size // len(filler)))
        f.write(tail)
    assert path.stat().st_size >= 50 * 1024 * 1024


def timed(fn):
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


def test_a_50_mb_log_serves_its_newest_pages_fast_without_loading_the_file(tmp_path):
    path = tmp_path / "big.log"
    build_big_log(path)
    for level, expect_level in ((None, "warn"), ("error", "error"), ("WARN", "warn"), ("info", "warn")):
        records, elapsed, peak = timed(lambda: read_logs(path, 0, 100, level))
        assert len(records) == 100 and records[0]["level"] == expect_level
        assert elapsed < 1.0, (level, elapsed)
        assert peak < 8 * 1024 * 1024, (level, peak)  # a whole-file read would be 50 MB
    # A match only at the very start costs one pass over the file (about a
    # second here; the bound is loose for slow CI machines).
    start = time.perf_counter()
    assert [r["message"] for r in read_logs(path, 0, 100, "fatal")] == ["rare"]
    assert time.perf_counter() - start < 15
