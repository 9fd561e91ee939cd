"""Toru's streaming benchmark: a script's output through the WebSocket against
the same output read raw, both measured in this one run, on 127.0.0.1 only.

    python3 bench/stream_bench.py [--pyz dist/toru.pyz] [--lines 10000000] [--rounds 3] [--json]

The script is `seq N` (default 10,000,000 lines, 78,888,897 bytes), a file
`seq.sh` in the server's scripts dir, run as the signed-in env admin.

1. throughput: {"type":"run","script":"seq.sh"} over /api/ws, every stdout
   message counted (bytes, newlines) until `exit`; the totals must equal the
   output of seq 1..N. Two protocols (`--protocols`): `json` (the original's
   `stdout` messages, what a client that does not ask gets) and `binary`
   (`"binary": true`, output as binary frames: what the browser asks for,
   docs/tasks.md#binary-output-frames). Against the same script read raw by
   a small gevent program in a separate process on the pyz's interpreter
   and gevent (gevent.subprocess.Popen, stdout=PIPE, 64 KiB cooperative
   reads, bytes and newlines counted). Raw and each protocol take turns,
   `--rounds` each; medians count. Goals: >= 10 M lines/s through Toru and
   >= 0.25x raw with the browser's protocol; the server's CPU time per MiB
   of output with it at most half that of JSON.
2. server RSS, sampled with psutil every 5 ms during every stream; growth =
   peak during any stream - RSS before the first one. Goal: < 50 MiB.
3. GET /api/health p99 from a second client (its own process, one
   keep-alive connection, sequential requests 2 ms apart) while a stream
   runs (`--probe-rounds` more streams with the browser's protocol, default
   5: a stream lasts ~1 s), next to the same probe idle.
   Goal: < 50 ms.

The WebSocket client is a minimal frame reader on a plain socket (`--client
raw`, the default) or websocket-client (`--client websocket-client`, UTF-8
validation off); one extra stream with the other client is printed for
information, and the CPU time of the reading thread is reported, so a
client that limits the stream shows.

Benchmarks inform, they do not gate: the exit status is 0 unless something
crashed. Every process it starts is stopped by PID in a `finally`.
Needs psutil (and websocket-client for the comparison), both in .venv-test.
"""

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import (MIB, PATH, ROOT, BenchError, Processes, Setup,  # noqa: E402
                        machine, own_cpu_seconds, run_and_report, wait_ready)
from loadgen import HOST, NOISY_PCT, busy_cpu_seconds, percentile  # noqa: E402
from resources_bench import COOKIE, login  # noqa: E402

import psutil  # noqa: E402  (http_bench already said how to get it)

GOALS = {"mlines_per_s": 10.0, "raw_ratio": 0.25, "cpu_per_mib_vs_json": 0.5, "rss_growth_mib": 50.0,
         "p99_ms": 50.0}
SCRIPT = "seq.sh"
RAW_READ = 64 * 1024
RSS_EVERY = 0.005
PROBE_PAUSE = 0.002  # a steady probe, not a load (as in login_bench.py)
CLIENTS = ("raw", "websocket-client")
PROTOCOLS = ("json", "binary")
BROWSER = "binary"  # what static/js/live.js asks for


def expected_bytes(n):
    """Bytes `seq 1 n` prints: every number with its newline."""
    total, digits, low = 0, 1, 1
    while low <= n:
        high = min(n, 10 ** digits - 1)
        total += (high - low + 1) * (digits + 1)
        digits, low = digits + 1, 10 ** digits
    return total


def last_line(tail):
    parts = tail.rsplit("\n", 2)
    return parts[-2] if len(parts) == 3 else ""


def thread_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_THREAD)
    return r.ru_utime + r.ru_stime


def cpu_with_children(pid):
    """CPU seconds of a process plus its waited-for children (seq, once reaped)."""
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system, t.children_user + t.children_system


# --- 1a: the raw baseline, a separate process ---------------------------------------

def raw_child(script):
    """Run inside the baseline process (`--raw-child`): read the script's
    stdout through a gevent pipe, print what came and how long it took."""
    import gevent.subprocess
    t0 = os.times()
    started = time.perf_counter()
    proc = gevent.subprocess.Popen([script], stdin=gevent.subprocess.DEVNULL, stdout=gevent.subprocess.PIPE,
                                   start_new_session=True, cwd=str(Path(script).parent))
    size = lines = 0
    read = proc.stdout.read
    tail = b""
    while True:
        data = read(RAW_READ)
        if not data:
            break
        size += len(data)
        lines += data.count(b"\n")
        tail = (tail + data[-32:])[-32:]
    code = proc.wait()
    seconds = time.perf_counter() - started
    t = os.times()
    print(json.dumps({"seconds": seconds, "bytes": size, "lines": lines, "code": code,
                      "last_line": last_line(tail.decode()),
                      "cpu_s": t.user + t.system - t0.user - t0.system,
                      "seq_cpu_s": t.children_user + t.children_system - t0.children_user - t0.children_system}))


def run_raw(setup, script, args):
    python, env = setup.baseline_cmd_env()
    cmd = [python, str(Path(__file__).resolve()), "--raw-child", str(script)]
    busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
    wall0 = time.monotonic()
    out = subprocess.run(cmd, env=env, cwd=str(setup.tmp), capture_output=True, text=True, timeout=args.timeout)
    wall = time.monotonic() - wall0
    if out.returncode != 0:
        raise BenchError(f"raw baseline failed ({out.returncode}):\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    other = busy_cpu_seconds() - busy0 - (own_cpu_seconds() - own0)
    r.update(other_cpu_pct=max(0.0, 100.0 * other / wall), messages=None,
             client_cpu_pct=100.0 * r["cpu_s"] / r["seconds"], server_cpu_pct=None,
             seq_cpu_pct=100.0 * r["seq_cpu_s"] / r["seconds"])
    return r


# --- 1b: the WebSocket clients ------------------------------------------------------

class RawClient:
    """The least a WebSocket client can do: one handshake, masked text
    frames out, unmasked frames parsed from a large buffer."""

    def __init__(self, port, token, timeout):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MIB)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /api/ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: http://{HOST}:{port}\r\nCookie: {COOKIE}={token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = self.sock.recv(4096)
            if not more:
                raise BenchError(f"WebSocket handshake: connection closed after {head!r}")
            head += more
        head, rest = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise BenchError(f"WebSocket handshake refused: {head[:300]!r} {rest[:300]!r}")
        self.buf = bytearray(rest)
        self.pos = 0
        self.chunk = bytearray(1 * MIB)

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
        self.sock.sendall(header + mask + masked)

    def _need(self, n):
        while len(self.buf) - self.pos < n:
            if self.pos:
                del self.buf[:self.pos]
                self.pos = 0
            got = self.sock.recv_into(self.chunk)
            if not got:
                raise BenchError("the server closed the WebSocket")
            self.buf += memoryview(self.chunk)[:got]

    def recv(self):
        """(binary?, payload bytes) of the next text or binary message; pings answered."""
        while True:
            self._need(2)
            b0, b1 = self.buf[self.pos], self.buf[self.pos + 1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                self._need(4)
                n, at = struct.unpack_from("!H", self.buf, self.pos + 2)[0], 4
            elif n == 127:
                self._need(10)
                n, at = struct.unpack_from("!Q", self.buf, self.pos + 2)[0], 10
            if b1 & 0x80 or not b0 & 0x80:
                raise BenchError("unexpected masked or fragmented frame from the server")
            self._need(at + n)
            start = self.pos + at
            payload = bytes(self.buf[start:start + n])
            self.pos = start + n
            opcode = b0 & 0x0F
            if opcode in (1, 2):
                return opcode == 2, payload
            if opcode == 8:
                raise BenchError(f"the server closed the WebSocket: {payload!r}")
            if opcode == 9:
                self._pong(payload)

    def _pong(self, payload):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def close(self):
        try:
            self.sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        except OSError:
            pass
        self.sock.close()


class LibClient:
    """websocket-client, as the tests use it; UTF-8 validation is off (its
    pure-Python validator would be the bottleneck, not the server)."""

    def __init__(self, port, token, timeout):
        import websocket
        self.ws = websocket.create_connection(f"ws://{HOST}:{port}/api/ws", timeout=timeout,
                                              origin=f"http://{HOST}:{port}", cookie=f"{COOKIE}={token}",
                                              skip_utf8_validation=True)

    def send(self, text):
        self.ws.send(text)

    def recv(self):
        data = self.ws.recv()
        return isinstance(data, bytes), data

    def close(self):
        try:
            self.ws.close(timeout=2)
        except Exception:
            pass


class OutputCounts:
    """What came of one task's output: bytes, lines, messages, its first
    and last characters; JSON text or binary frames on its channel."""

    def __init__(self):
        self.task_id = self.channel = None
        self.size = self.lines = self.messages = self.stderr = 0
        self.first, self.tail = "", ""

    def text(self, stream, data):
        if stream == "stderr":
            self.stderr += len(data)
            return
        self.size += len(data) if data.isascii() else len(data.encode())
        self.lines += data.count("\n")
        self.messages += 1
        self.first = self.first or data[:20]
        self.tail = (self.tail + data[-32:])[-32:]

    def frame(self, payload):
        """A binary frame: tag (1 stdout, 2 stderr), channel, bytes."""
        if self.channel is None or int.from_bytes(payload[1:5], "big") != self.channel:
            raise BenchError(f"a binary frame for channel {payload[1:5].hex()}, not the task's {self.channel}")
        if payload[0] == 2:
            self.stderr += len(payload) - 5
            return
        self.size += len(payload) - 5
        self.lines += payload.count(b"\n", 5)
        self.messages += 1
        self.first = self.first or payload[5:25].decode("utf-8", "replace")
        self.tail = (self.tail + payload[-32:].decode("utf-8", "replace"))[-32:]


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.before = self.peak = self.proc.memory_info().rss
        self.samples = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                rss = self.proc.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.samples += 1
            time.sleep(RSS_EVERY)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        self.after = self.proc.memory_info().rss


def stream(toru, port, token, client_kind, args, seen, protocol=BROWSER):
    """One run of the script over /api/ws; the stream's counts and timings,
    also appended to `seen` (which keeps the runs `quiet` then discards)."""
    client = (RawClient if client_kind == "raw" else LibClient)(port, token, args.timeout)
    sampler = RssSampler(toru.pid)
    sampler.start()
    try:
        busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
        server0, seq0 = cpu_with_children(toru.pid)
        thread0 = thread_cpu_seconds()
        deadline = time.monotonic() + args.timeout
        sent = time.monotonic()
        client.send(json.dumps({"type": "run", "script": SCRIPT, "ref": "bench", "binary": protocol == "binary"}))
        counts = OutputCounts()
        started = exit_message = None
        while exit_message is None:
            if time.monotonic() > deadline:
                raise BenchError(f"no exit message after {args.timeout:g} s ({counts.lines} lines so far)")
            binary, payload = client.recv()
            if binary:
                counts.frame(payload)
                continue
            message = json.loads(payload)
            kind = message.get("type")
            if kind in ("stdout", "stderr") and message.get("task_id") == counts.task_id:
                counts.text(kind, message["data"])
            elif kind == "started" and message.get("ref") == "bench":
                counts.task_id, counts.channel, started = message["task_id"], message.get("channel"), time.monotonic()
            elif kind == "exit" and message.get("task_id") == counts.task_id:
                exit_message = message
            elif kind == "error":
                raise BenchError(f"the server answered an error: {message}")
        done = time.monotonic()
        client_cpu = thread_cpu_seconds() - thread0
        server1, seq1 = cpu_with_children(toru.pid)
        wall = done - sent
        other = busy_cpu_seconds() - busy0 - (server1 - server0) - (seq1 - seq0) - (own_cpu_seconds() - own0)
    finally:
        client.close()
        sampler.stop()
    r = {"client": client_kind, "protocol": protocol, "seconds": wall, "to_started_s": started - sent,
         "bytes": counts.size, "lines": counts.lines, "messages": counts.messages,
         "stderr_bytes": counts.stderr, "code": exit_message.get("code"),
         "status": exit_message.get("status"), "first": counts.first.split("\n", 1)[0],
         "last_line": last_line(counts.tail), "t_sent": sent, "t_done": done,
            "server_cpu_pct": 100.0 * (server1 - server0) / wall, "seq_cpu_pct": 100.0 * (seq1 - seq0) / wall,
            "client_cpu_pct": 100.0 * client_cpu / wall, "other_cpu_pct": max(0.0, 100.0 * other / wall),
            "rss_before": sampler.before, "rss_peak": sampler.peak, "rss_after": sampler.after,
            "rss_samples": sampler.samples, "server_cpu_s": server1 - server0,
            "server_cpu_ms_per_mib": 1000.0 * (server1 - server0) / (counts.size / MIB) if counts.size else None}
    seen.append(r)
    return r


def verified(r, n):
    return (r["bytes"] == expected_bytes(n) and r["lines"] == n and r["code"] == 0
            and r["last_line"] == str(n) and r.get("first", "1") == "1" and not r.get("stderr_bytes"))


def add_rates(r):
    r["mlines_per_s"] = r["lines"] / r["seconds"] / 1e6
    r["mb_per_s"] = r["bytes"] / r["seconds"] / 1e6
    return r


# --- 3: the /api/health probe, its own process ----------------------------------------

def probe_worker(port, seconds, ready, stop, out):
    """Sequential keep-alive GETs until `stop` (or `seconds`); sends back
    (start time, latency ms) pairs and its own CPU seconds."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    samples, errors = [], 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not stop.is_set():
            t0 = time.monotonic()
            try:
                conn.request("GET", PATH)
                res = conn.getresponse()
                res.read()
                ok = res.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            samples.append((t0, (time.monotonic() - t0) * 1000.0))
            errors += not ok
            if len(samples) == 20:
                ready.set()
            time.sleep(PROBE_PAUSE)
    finally:
        conn.close()
        ready.set()
        out.put({"samples": samples, "errors": errors, "cpu_s": time.process_time()})


class Probe:
    def __init__(self, port, seconds):
        ctx = multiprocessing.get_context("fork")
        self.ready, self.stop_event, self.out = ctx.Event(), ctx.Event(), ctx.Queue()
        self.proc = ctx.Process(target=probe_worker, args=(port, seconds, self.ready, self.stop_event, self.out),
                                daemon=True)
        self.seconds = seconds

    def __enter__(self):
        self.proc.start()
        if not self.ready.wait(30):
            raise BenchError("the /api/health probe did not get going in 30 s")
        return self

    def result(self):
        self.stop_event.set()
        r = self.out.get(timeout=self.seconds + 30)
        self.proc.join(timeout=10)
        return r

    def __exit__(self, *exc):
        self.stop_event.set()
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()  # by PID: multiprocessing signals this one process
            self.proc.join(timeout=5)


def latency_summary(latencies, errors=0):
    s = sorted(latencies)
    return {"requests": len(s), "errors": errors, "p50_ms": percentile(s, 50), "p99_ms": percentile(s, 99),
            "max_ms": s[-1] if s else float("nan")}


def probe_idle(port, seconds):
    with Probe(port, seconds + 30) as probe:
        time.sleep(seconds)
        r = probe.result()
    return latency_summary([ms for _, ms in r["samples"][20:]], r["errors"])


def probe_streams(toru, port, token, args, seen):
    """`args.probe_rounds` streams, each with the probe running; only the
    requests sent between `run` and `exit` count."""
    latencies, errors, streams = [], 0, []
    for _ in range(args.probe_rounds):
        with Probe(port, args.timeout + 30) as probe:
            s = add_rates(stream(toru, port, token, args.client, args, seen, args.protocols[-1]))
            r = probe.result()
        inside = [ms for t, ms in r["samples"] if s["t_sent"] <= t <= s["t_done"]]
        latencies += inside
        errors += r["errors"]
        streams.append(dict(s, probe_requests=len(inside)))
    return dict(latency_summary(latencies, errors), streams=streams)


# --- the run --------------------------------------------------------------------------

def write_script(setup, lines):
    scripts = setup.data_dir / "scripts"
    if not scripts.is_dir():
        raise BenchError(f"{scripts} was not created by the server's first start")
    path = scripts / SCRIPT
    path.write_text(f"#!/bin/sh\n# stream_bench: {lines} lines\nexec seq {lines}\n")
    path.chmod(0o755)
    return path


def quiet(run_once, retries):
    """Run again (up to `retries` times) while other processes were busy."""
    r = run_once()
    attempts = 1
    while r["other_cpu_pct"] > NOISY_PCT and attempts <= retries:
        r = run_once()
        attempts += 1
    r["attempts"] = attempts
    return r


def run(args):
    procs = Processes()
    wall0 = time.monotonic()
    n = args.lines
    with tempfile.TemporaryDirectory(prefix="toru-stream-bench-") as tmp:
        try:
            setup = Setup(args, tmp)
            toru, port = setup.start_toru(procs)
            wait_ready(toru, port)
            setup.find_site_packages()
            if not setup.site_packages:
                raise BenchError("the pyz's unpacked site-packages were not found: no raw baseline on its gevent")
            script = write_script(setup, n)
            token = login(port)
            rss_start = psutil.Process(toru.pid).memory_info().rss
            idle = probe_idle(port, args.idle_probe)
            rss_before = psutil.Process(toru.pid).memory_info().rss
            raw, by_protocol, seen = [], {p: [] for p in args.protocols}, []
            for _ in range(args.rounds):
                raw.append(add_rates(quiet(lambda: run_raw(setup, script, args), args.retries)))
                for protocol, rounds in by_protocol.items():
                    rounds.append(add_rates(quiet(
                        lambda: stream(toru, port, token, args.client, args, seen, protocol), args.retries)))
            other_kind = CLIENTS[1 - CLIENTS.index(args.client)]
            try:
                other_client = add_rates(stream(toru, port, token, other_kind, args, seen, args.protocols[-1]))
            except ImportError as e:
                other_client = {"client": other_kind, "why": f"not installed: {e}"}
            loaded = probe_streams(toru, port, token, args, seen)
            rss_end = psutil.Process(toru.pid).memory_info().rss
        finally:
            procs.stop_all()
        info = machine(setup)
    toru_rounds = [x for rounds in by_protocol.values() for x in rounds]
    every = raw + toru_rounds + loaded["streams"] + ([other_client] if "lines" in other_client else [])
    raw_mlines = statistics.median(x["mlines_per_s"] for x in raw)
    protocols = {p: protocol_summary(rounds, raw_mlines) for p, rounds in by_protocol.items()}
    chosen = protocols[args.protocols[-1]]  # the browser's protocol when it runs
    throughput = dict(chosen, raw=raw, other_client=other_client, protocols=protocols, protocol=args.protocols[-1],
                      raw_mlines_per_s=raw_mlines, raw_seconds=statistics.median(x["seconds"] for x in raw))
    if "json" in protocols and BROWSER in protocols:
        throughput["cpu_per_mib_vs_json"] = (protocols[BROWSER]["server_cpu_ms_per_mib"]
                                             / protocols["json"]["server_cpu_ms_per_mib"])
    peak = max(s["rss_peak"] for s in seen)
    rss = {"start_mib": rss_start / MIB, "before_first_mib": rss_before / MIB,
           "peak_mib": peak / MIB, "growth_mib": (peak - rss_before) / MIB, "end_mib": rss_end / MIB,
           "streams": len(seen), "per_stream_growth_mib": [(s["rss_peak"] - s["rss_before"]) / MIB for s in seen]}
    noise = {"wall_s": time.monotonic() - wall0, "noisy": max(x["other_cpu_pct"] for x in every) > NOISY_PCT}
    result = {"machine": info, "settings": settings(args), "expected_bytes": expected_bytes(n),
              "verified": all(verified(x, n) for x in every), "throughput": throughput, "rss": rss,
              "health": {"idle": idle, "streaming": loaded}, "noise": noise}
    result["goals"] = verdicts(result)
    return result


def protocol_summary(rounds, raw_mlines):
    """Medians of one protocol's rounds; the server's CPU per line and per
    MiB of output is the figure the other processes on the CPUs move least."""
    med = lambda key: statistics.median(x[key] for x in rounds)  # noqa: E731
    ns_per_line = statistics.median(1e9 * x["server_cpu_s"] / x["lines"] for x in rounds)
    return {"toru": rounds, "toru_mlines_per_s": med("mlines_per_s"), "toru_seconds": med("seconds"),
            "raw_ratio": med("mlines_per_s") / raw_mlines, "server_cpu_ns_per_line": ns_per_line,
            "server_cpu_ms_per_mib": med("server_cpu_ms_per_mib"),
            "server_bound_mlines_per_s": 1000.0 / ns_per_line if ns_per_line else float("nan")}


def settings(args):
    return {k: getattr(args, k) for k in ("pyz", "lines", "rounds", "probe_rounds", "client", "protocols",
                                          "retries", "idle_probe", "timeout")}


def verdicts(r):
    t = r["throughput"]
    ok = r["verified"]
    return {"mlines_per_s": ok and t["toru_mlines_per_s"] >= GOALS["mlines_per_s"],
            "raw_ratio": ok and t["raw_ratio"] >= GOALS["raw_ratio"],
            "cpu_per_mib_vs_json": t.get("cpu_per_mib_vs_json", float("nan")) <= GOALS["cpu_per_mib_vs_json"],
            "rss_growth_mib": r["rss"]["growth_mib"] < GOALS["rss_growth_mib"],
            "p99_ms": r["health"]["streaming"]["p99_ms"] < GOALS["p99_ms"]}


# --- report -----------------------------------------------------------------------------

def mark(ok):
    return "PASS" if ok else "FAIL"


def pct(x):
    return "    -" if x is None else f"{x:4.0f}%"


def stream_row(label, x, n):
    msgs = "-" if x.get("messages") is None else f"{x['messages']}"
    return (f"   {label:36} {x['seconds']:7.3f} {x['mlines_per_s']:9.2f} {x['mb_per_s']:7.1f} {msgs:>6}"
            f"  {pct(x['server_cpu_pct'])}  {pct(x['seq_cpu_pct'])}  {pct(x['client_cpu_pct'])}"
            f"  {pct(x['other_cpu_pct'])}  {'ok' if verified(x, n) else 'WRONG'}")


def report(r):
    m, s, t, rss, h, g = r["machine"], r["settings"], r["throughput"], r["rss"], r["health"], r["goals"]
    head = (f"   {'':36} {'seconds':>7} {'M lines/s':>9} {'MB/s':>7} {'msgs':>6}  {'CPU: server':>5}"
            f"  {'seq':>5}  {'client':>5}  {'other':>5}  output")
    lines = [
        f"Toru streaming benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, "
        f"Linux {m['kernel']}",
        f"Script: seq {s['lines']} ({r['expected_bytes']:,} bytes) from {SCRIPT} in the scripts dir; "
        f"{s['rounds']} round(s), raw and toru ({', '.join(s['protocols'])}) taking turns; WebSocket client: {s['client']}",
        f"NOTE: server, seq and client share the same {m['nproc']} CPUs; CPU is % of one CPU over the stream "
        "(server = the Toru process, seq = its child; client = the reading thread/process).",
        "",
        "1. Throughput, run -> exit",
        head,
    ]
    for i, x in enumerate(t["raw"]):
        lines.append(stream_row(f"raw gevent pipe, round {i + 1}", x, s["lines"]))
    for protocol, x in t["protocols"].items():
        for i, round_ in enumerate(x["toru"]):
            lines.append(stream_row(f"toru /api/ws {protocol}, round {i + 1}", round_, s["lines"]))
    oc = t["other_client"]
    if "lines" in oc:
        lines.append(stream_row(f"toru {oc['protocol']}, {oc['client']} client (info)", oc, s["lines"]))
    else:
        lines.append(f"   toru, {oc['client']} client (info): {oc['why']}")
    for protocol, x in t["protocols"].items():
        lines.append(f"   {protocol:6} median {x['toru_mlines_per_s']:6.2f} M lines/s, {x['raw_ratio']:5.3f}x raw; server "
                     f"CPU {x['server_cpu_ms_per_mib']:5.2f} ms per MiB, {x['server_cpu_ns_per_line']:.0f} ns per line "
                     f"-> {x['server_bound_mlines_per_s']:.1f} M lines/s with a CPU of its own")
    lines += [
        f"   raw median {t['raw_mlines_per_s']:.2f} M lines/s ({t['raw_seconds']:.3f} s); goals for "
        f"{t['protocol']} (the browser's protocol: {BROWSER}):",
        f"   toru, median               {t['toru_mlines_per_s']:6.2f} M lines/s  goal >= {GOALS['mlines_per_s']:g}"
        f"      {mark(g['mlines_per_s'])}",
        f"   toru/raw, medians          {t['raw_ratio']:6.3f}x           goal >= {GOALS['raw_ratio']:g}x"
        f"   {mark(g['raw_ratio'])}",
    ]
    if "cpu_per_mib_vs_json" in t:
        lines.append(f"   server CPU/MiB, {BROWSER}/json {t['cpu_per_mib_vs_json']:6.3f}x           goal <= "
                     f"{GOALS['cpu_per_mib_vs_json']:g}x    {mark(g['cpu_per_mib_vs_json'])}")
    lines += [
        f"   output check (bytes = {r['expected_bytes']:,}, {s['lines']:,} lines, last line, exit 0) in every "
        f"stream: {'ok' if r['verified'] else 'FAILED'}",
        "",
        f"2. Server RSS during the streams (psutil every {RSS_EVERY * 1000:g} ms)",
        f"   after start and login {rss['start_mib']:.1f} MiB; before the first stream "
        f"{rss['before_first_mib']:.1f} MiB; peak {rss['peak_mib']:.1f} MiB; at the end {rss['end_mib']:.1f} MiB",
        f"   growth (peak of {rss['streams']} streams - before the first) {rss['growth_mib']:6.1f} MiB   goal < "
        f"{GOALS['rss_growth_mib']:g} MiB   {mark(g['rss_growth_mib'])}",
        f"   per stream (peak - its start): {' '.join(f'{x:+.1f}' for x in rss['per_stream_growth_mib'])} MiB",
        "",
        f"3. GET {PATH} from a second client (own process, one keep-alive connection, "
        f"{PROBE_PAUSE * 1000:g} ms between requests); streams with the {t['protocol']} protocol",
        f"   {'':36} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}",
    ]
    idle, loaded = h["idle"], h["streaming"]
    for label, x in ((f"idle, {s['idle_probe']:g} s", idle),
                     (f"during {len(loaded['streams'])} stream(s)", loaded)):
        lines.append(f"   {label:36} {x['requests']:8d} {x['errors']:6d} {x['p50_ms']:7.2f} {x['p99_ms']:7.2f}"
                     f" {x['max_ms']:7.2f}")
    for i, x in enumerate(loaded["streams"]):
        lines.append(stream_row(f"  stream {i + 1} with the probe (info)", x, s["lines"]))
    lines += [
        f"   p99 during the stream      {loaded['p99_ms']:6.2f} ms         goal < {GOALS['p99_ms']:g} ms"
        f"     {mark(g['p99_ms'])}",
        "",
        f"Run took {r['noise']['wall_s']:.0f} s; a stream runs again while other processes take over "
        f"{NOISY_PCT:g}% of a CPU (up to {s['retries']} times).",
    ]
    if r["noise"]["noisy"]:
        lines.append(f"WARNING: other processes took over {NOISY_PCT:g}% of a CPU during a stream: "
                     "rerun on a quiet machine.")
    return "\n".join(lines)


def protocol_list(text):
    chosen = [p for p in text.split(",") if p]
    if not chosen or any(p not in PROTOCOLS for p in chosen):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PROTOCOLS)}")
    return chosen


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", default=str(ROOT / "dist" / "toru.pyz"), help="default dist/toru.pyz")
    parser.add_argument("--python", default="python3", help="interpreter for the server (default python3)")
    parser.add_argument("--lines", type=int, default=10_000_000, help="seq N (default 10000000)")
    parser.add_argument("--rounds", type=int, default=3, help="streams each, raw and toru taking turns (default 3)")
    parser.add_argument("--probe-rounds", type=int, default=5,
                        help="streams with the /api/health probe running (default 5)")
    parser.add_argument("--client", choices=CLIENTS, default="raw",
                        help="WebSocket client for the measured streams (default raw)")
    parser.add_argument("--protocols", type=protocol_list, default=list(PROTOCOLS),
                        help="output protocols to measure, comma-separated, in turn each round (default json,binary; "
                             "goals and the probe use the last)")
    parser.add_argument("--idle-probe", type=float, default=3.0, help="seconds of idle /api/health probe (default 3)")
    parser.add_argument("--retries", type=int, default=2, help="extra tries of a disturbed stream (default 2)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one stream may take (default 120)")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary as the last line")
    parser.add_argument("--raw-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_child:
        return args
    if not Path(args.pyz).is_file():
        parser.exit(2, f"stream_bench: {args.pyz} not found: build it with ./build.sh\n")
    if not (args.lines >= 1 and args.rounds >= 1 and args.probe_rounds >= 1 and args.retries >= 0
            and args.idle_probe > 0 and args.timeout > 0):
        parser.exit(2, "stream_bench: need lines, rounds, probe-rounds >= 1, retries >= 0, idle-probe and "
                       "timeout > 0\n")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.raw_child:
        raw_child(args.raw_child)
        return 0
    return run_and_report("stream_bench", run, report, args)


if __name__ == "__main__":
    sys.exit(main())
