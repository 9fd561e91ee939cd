"""Toru's plugin benchmark: the cost of the HTTP → plugin proxy hop, what
multiplexing buys, and how fast a killed plugin is noticed and back,
measured against the built pyz (or this checkout) in this one run, on
127.0.0.1 and Unix sockets only.

    python3 bench/plugin_bench.py [--pyz dist/toru.pyz | --checkout] [--seconds 3] [--rounds 3] [--json]

The plugin is bench/ping_plugin.py (stdlib), installed twice: as
`ping.binary` (`"concurrent": false` like the original design's plugins:
the core sends it one request at a time) and as `ping-mux.binary`
(`"concurrent": true`: requests multiplexed on its one connection). A third
instance runs standalone on a socket of its own, for the direct round trip.

1. One connection (issue 16's goals, side by side in one run), taking turns
   for `--rounds` rounds: `GET /api/plugins/route/ping/ping` through Toru
   (signed-in admin cookie, keep-alive) against Toru's signed-in
   `GET /api/health` (its HTTP floor). Goals: proxied p50 − health p50
   <= 0.15 ms, proxied req/s >= 0.75x health req/s. `/api/tasks/running`
   (signed in, next to no work) splits the hop into the session check a
   plugin route needs and the proxying itself. Two rows say what the
   limit is: the same `http` frame sent straight to the standalone plugin
   by a blocking client (`direct`: the plugin's own round trip), and
   bench/hop_baseline.py, a bare gevent pywsgi server whose `/ping` makes
   that round trip in the request's greenlet and whose `/hello` does not
   (`/ping` − `/hello`: the hop with nothing of Toru around it; its `/conn`
   makes the round trip through Toru's PluginConnection).
2. `--connections` (default 4) client connections, taking turns: the
   lockstep plugin against the concurrent one. Goal: concurrent req/s >= 2x
   lockstep req/s. Beside them Toru's `/api/health` on as many
   connections: the ceiling, since a proxied request does all it does and
   more. For information, the same two with `?wait_ms=`
   (`--wait-ms`, default 1): a plugin that waits that long per request, as
   one reading a database would.
3. kill -9 of the lockstep plugin (pid from GET /api/plugins/ping),
   `--kills` times: time to its `exited` event (event timestamp −
   time.time() at the kill; goal < 50 ms) and to the proxied route
   answering 200 again (polled; goal <= 1.5 s, the first restart backoff
   being 1 s). Between kills, POST /api/plugins/ping/restart resets the
   crash count, so every kill meets the first backoff.

`--checkout` runs `toru.py` from this checkout with the interpreter running
the script (its venv must have requirements.txt), for a change not yet in a
built pyz. Benchmarks inform, they do not gate: the exit status is 0 unless
something crashed. Every process it starts is stopped by PID in a
`finally`. Needs psutil and gevent (the direct client encodes frames with
toru's own protocol code): any venv with requirements.txt, e.g. .venv-test.
"""

import argparse
import http.client
import itertools
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from http_bench import (ROOT, BenchError, Processes, clean_env,  # noqa: E402
                        machine, mark, own_cpu_seconds, run_and_report)
from loadgen import HOST, NOISY_PCT, busy_cpu_seconds, percentile  # noqa: E402
from resources_bench import COOKIE, login  # noqa: E402
from metrics_bench import prepare, start_toru  # noqa: E402
from http_bench import free_port, wait_ready  # noqa: E402

import psutil  # noqa: E402  (http_bench already said how to get it)

sys.path.insert(1, str(ROOT))
sys.path.insert(1, str(ROOT / "sdk_py"))
try:
    from toru_plugin.protocol import FrameError, encode_frame, envelope, read_frame  # noqa: E402
    from toru.plugins.router import http_payload  # noqa: E402
except ImportError as e:
    sys.exit(f"plugin_bench: cannot import toru's protocol ({e}): run it with .venv-test/bin/python")

PLUGIN_ID = "ping"          # lockstep ("concurrent": false); the kills use it
MUX_ID = "ping-mux"         # the same file, "concurrent": true (ping_plugin.py reads its file name)
PLUGIN_SOURCE = HERE / "ping_plugin.py"
ROUTE = f"/api/plugins/route/{PLUGIN_ID}/ping"
MUX_ROUTE = f"/api/plugins/route/{MUX_ID}/ping"
HEALTH = "/api/health"
# A signed-in route that does next to nothing (no task runs here): the
# session check a plugin route needs and /api/health (public) does not.
SIGNED_IN = "/api/tasks/running"
# What the core forwards for an http.client GET with a cookie: accept-encoding
# (host and cookie are dropped) plus the two headers it adds.
FORWARDED_HEADERS = {"accept-encoding": "identity", "x-toru-user": "admin", "x-toru-role": "admin"}
GOALS = {"hop_p50_ms": 0.15, "rps_ratio": 0.75, "mux_ratio": 2.0, "exited_ms": 50.0, "serving_s": 1.5}
IO_TIMEOUT = 5.0
READY_TIMEOUT = 30.0
KILL_TIMEOUT = 10.0
MAX_ERRORS = 50


# --- the plugin: installed in Toru, and a standalone instance ----------------------

def install_plugins(setup, data_dir):
    """`<data>/plugins/ping.binary` and `ping-mux.binary`, their shebang the
    real interpreter (a pyenv shim would add a second or more to every start)."""
    source = PLUGIN_SOURCE.read_text()
    shebang = "#!/usr/bin/env python3"
    if not source.startswith(shebang):
        raise BenchError(f"{PLUGIN_SOURCE} does not start with {shebang!r}")
    plugins = data_dir / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    for plugin_id in (PLUGIN_ID, MUX_ID):
        target = plugins / f"{plugin_id}.binary"
        target.write_text(f"#!{setup.python}" + source[len(shebang):])
        target.chmod(0o755)


def start_direct_plugin(setup, procs):
    """The same plugin outside Toru, with a socket of its own in a 0700 dir."""
    rundir = setup.tmp / "direct"
    rundir.mkdir(mode=0o700)
    path = rundir / f"{PLUGIN_ID}.sock"
    env = clean_env(TORU_PLUGIN_SOCKET=str(path), TORU_PLUGIN_ID=PLUGIN_ID, PING_PLUGIN_PARENT=str(os.getpid()))
    p = procs.start("ping plugin (standalone)", [setup.python, str(PLUGIN_SOURCE)], env, str(rundir),
                    setup.tmp / "ping-standalone.log")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            raise BenchError(f"standalone plugin exited with {p.proc.returncode}:\n{p.log_tail()}")
        try:
            DirectClient(path).close()
            return p, path
        except OSError:
            time.sleep(0.01)
    raise BenchError(f"standalone plugin: no socket after {READY_TIMEOUT:.0f} s:\n{p.log_tail()}")


def start_hop_baseline(setup, procs, plugin_path):
    """bench/hop_baseline.py on a free port, talking to the standalone
    plugin; run by this script's interpreter (it has gevent)."""
    port = free_port()
    p = procs.start("hop baseline", [sys.executable, str(HERE / "hop_baseline.py"), "--port", str(port),
                                     "--plugin-socket", str(plugin_path)],
                    clean_env(), str(setup.tmp), setup.tmp / "hop-baseline.log")
    wait_ready(p, port)
    return p, port


# --- clients: one request at a time per connection --------------------------------

class ToruClient:
    """Keep-alive HTTP GETs of `path`, signed in; a 200 counts when its body
    is `expect` (None: any body)."""

    def __init__(self, port, token, path=ROUTE, expect=b"pong"):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=IO_TIMEOUT)
        self.headers = {"Cookie": f"{COOKIE}={token}"}
        self.path = path
        self.expect = expect

    def send(self):
        self.conn.request("GET", self.path, headers=self.headers)

    def receive(self):
        res = self.conn.getresponse()
        body = res.read()
        return res.status == 200 and (self.expect is None or body == self.expect)

    def close(self):
        self.conn.close()


class DirectClient:
    """The plugin's Unix socket, the frames the core would send."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.ids = itertools.count(1)
        self.request_id = None

    def send(self):
        self.request_id = f"bench-{next(self.ids)}"
        payload = dict(http_payload("GET", "/ping", FORWARDED_HEADERS, b""), type="http",
                       request_id=self.request_id)
        self.sock.sendall(encode_frame(envelope("http", payload, self.request_id)))

    def receive(self):
        message = read_frame(self.sock)
        if message is None:
            raise OSError("plugin closed the connection")
        reply = message.get("payload") or {}
        return (message.get("request_id") == self.request_id and reply.get("status") == 200
                and reply.get("body") == "pong")

    def close(self):
        self.sock.close()


# --- load phases --------------------------------------------------------------------

def cpu_snapshot(pids):
    cpu = {}
    for name, pid in pids.items():
        try:
            cpu[name] = sum(psutil.Process(pid).cpu_times()[:2])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            cpu[name] = 0.0
    return {"t": time.monotonic(), "busy": busy_cpu_seconds(), "own": own_cpu_seconds(), "pids": cpu}


def run_phase(label, make_client, connections, warmup, seconds, pids, driven):
    """`connections` clients driven in lock-step (send on each, then read
    each) for `warmup` + `seconds`. Latency = send to reply read, kept for
    requests sent after the warm-up. `pids` are watched for CPU; `driven`
    names the ones this phase loads (server, plugin)."""
    clients = [make_client() for _ in range(connections)]
    lat, errors, start = array("d"), 0, None
    t_measure = time.monotonic() + warmup
    t_end = t_measure + seconds
    try:
        while True:
            now = time.monotonic()
            if start is None and now >= t_measure:
                start = cpu_snapshot(pids)
            if now >= t_end:
                break
            sent = []
            for i, client in enumerate(clients):
                t0 = time.perf_counter()
                try:
                    client.send()
                    sent.append((i, t0))
                except OSError:
                    errors += 1
                    client.close()
                    clients[i] = make_client()
            for i, t0 in sent:
                try:
                    ok = clients[i].receive()
                except (OSError, http.client.HTTPException, FrameError):
                    ok = False
                    clients[i].close()
                    clients[i] = make_client()
                t1 = time.perf_counter()
                if not ok:
                    errors += 1
                elif start is not None:
                    lat.append((t1 - t0) * 1000.0)
            if errors > MAX_ERRORS:
                raise BenchError(f"{label}: {errors} failed requests")
        end = cpu_snapshot(pids)
    finally:
        for client in clients:
            client.close()
    elapsed = end["t"] - start["t"]
    used = {name: end["pids"][name] - start["pids"][name] for name in pids}
    own = end["own"] - start["own"]
    other = max(0.0, (end["busy"] - start["busy"]) - sum(used.values()) - own)
    pct = lambda cpu: 100.0 * cpu / elapsed  # noqa: E731
    n = len(lat)
    server, plugin = driven
    return {"label": label, "connections": connections, "requests": n, "rps": n / elapsed,
            "latencies": sorted(lat), "errors": errors,
            "server_cpu_pct": pct(used[server]) if server else None,
            "plugin_cpu_pct": pct(used[plugin]), "generator_cpu_pct": pct(own), "other_cpu_pct": pct(other),
            "server_us_per_request": 1e6 * used[server] / n if server and n else None,
            "plugin_us_per_request": 1e6 * used[plugin] / n if n else None}


def quiet_phase(retries, *args):
    """`run_phase`, again (up to `retries` times) while other processes take
    more than NOISY_PCT of a CPU; keeps the quietest try."""
    best = None
    for attempt in range(1 + retries):
        result = run_phase(*args)
        result["attempts"] = attempt + 1
        if best is None or result["other_cpu_pct"] < best["other_cpu_pct"]:
            best = result
        if result["other_cpu_pct"] <= NOISY_PCT:
            break
    return best


def combine(phases):
    """Rounds of one side: median req/s, percentiles over all latencies,
    the rest averaged."""
    values = sorted(v for p in phases for v in p["latencies"])
    mean = lambda key: (statistics.fmean(p[key] for p in phases)  # noqa: E731
                        if all(p[key] is not None for p in phases) else None)
    return {"connections": phases[0]["connections"], "rounds": len(phases),
            "rps": statistics.median(p["rps"] for p in phases), "rps_rounds": [p["rps"] for p in phases],
            "requests": len(values), "p50_ms": percentile(values, 50), "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99), "p50_rounds_ms": [percentile(p["latencies"], 50) for p in phases],
            "errors": sum(p["errors"] for p in phases), "attempts": sum(p["attempts"] for p in phases),
            **{key: mean(key) for key in ("server_cpu_pct", "plugin_cpu_pct", "generator_cpu_pct",
                                          "other_cpu_pct", "server_us_per_request", "plugin_us_per_request")}}


def take_turns(sides, rounds):
    """Each side's phases, `rounds` times, the order turning every round so
    that no side always runs first; each side's rounds combined."""
    names = list(sides)
    done = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            done[name].append(sides[name]())
    return {name: combine(phases) for name, phases in done.items()}


def compare(args, port, token, direct_path, bare_port, pids):
    """One connection: the lockstep plugin through Toru, Toru's signed-in
    /api/health, the plugin direct and the bare hop baseline's two paths;
    then `args.connections`: the lockstep plugin against the concurrent
    one, both through Toru."""
    def phase(label, make_client, connections, driven):
        return lambda: quiet_phase(args.retries, label, make_client, connections, args.warmup, args.seconds,
                                   pids, driven)
    single = take_turns({
        "toru": phase("toru", lambda: ToruClient(port, token, ROUTE), 1, ("toru", "toru_plugin")),
        "health": phase("health", lambda: ToruClient(port, token, HEALTH, None), 1, ("toru", "toru_plugin")),
        "signed": phase("signed", lambda: ToruClient(port, token, SIGNED_IN, None), 1, ("toru", "toru_plugin")),
        "direct": phase("direct", lambda: DirectClient(direct_path), 1, (None, "standalone_plugin")),
        "bare_ping": phase("bare_ping", lambda: ToruClient(bare_port, token, "/ping"), 1,
                           ("hop_baseline", "standalone_plugin")),
        "bare_conn": phase("bare_conn", lambda: ToruClient(bare_port, token, "/conn"), 1,
                           ("hop_baseline", "standalone_plugin")),
        "bare_hello": phase("bare_hello", lambda: ToruClient(bare_port, token, "/hello", None), 1,
                            ("hop_baseline", "standalone_plugin")),
    }, args.rounds)
    n, wait = args.connections, f"?wait_ms={args.wait_ms}"
    sides = {
        "lockstep": phase("lockstep", lambda: ToruClient(port, token, ROUTE), n, ("toru", "toru_plugin")),
        "concurrent": phase("concurrent", lambda: ToruClient(port, token, MUX_ROUTE), n,
                            ("toru", "toru_mux_plugin")),
        # The ceiling: a proxied request does all that /api/health does and
        # more, so no plugin, however connected, answers faster than this.
        "health": phase("health_multi", lambda: ToruClient(port, token, HEALTH, None), n, ("toru", "toru_plugin")),
    }
    if args.wait_ms:
        sides["lockstep_wait"] = phase("lockstep_wait", lambda: ToruClient(port, token, ROUTE + wait), n,
                                       ("toru", "toru_plugin"))
        sides["concurrent_wait"] = phase("concurrent_wait", lambda: ToruClient(port, token, MUX_ROUTE + wait), n,
                                         ("toru", "toru_mux_plugin"))
    multi = take_turns(sides, args.rounds) if n > 1 else None
    t, h = single["toru"], single["health"]
    floor = single["bare_ping"]["p50_ms"] - single["bare_hello"]["p50_ms"]
    result = {"single": single, "multi": multi,
              "hop_p50_ms": t["p50_ms"] - h["p50_ms"], "rps_ratio": t["rps"] / h["rps"] if h["rps"] else 0.0,
              "floor_hop_p50_ms": floor, "toru_share_p50_ms": t["p50_ms"] - h["p50_ms"] - floor,
              "session_p50_ms": single["signed"]["p50_ms"] - h["p50_ms"],
              "proxying_p50_ms": t["p50_ms"] - single["signed"]["p50_ms"]}
    if multi:
        lockstep = multi["lockstep"]["rps"]
        result["mux_ratio"] = multi["concurrent"]["rps"] / lockstep if lockstep else 0.0
        result["mux_ceiling_ratio"] = multi["health"]["rps"] / lockstep if lockstep else 0.0
        # Toru is one process on one CPU: at 100 % of it, at the concurrent
        # row's CPU per request, this many req/s and no more.
        us = multi["concurrent"]["server_us_per_request"]
        result["mux_cpu_bound_ratio"] = 1e6 / us / lockstep if us and lockstep else 0.0
    if multi and "lockstep_wait" in multi:
        lockstep = multi["lockstep_wait"]["rps"]
        result["mux_wait_ratio"] = multi["concurrent_wait"]["rps"] / lockstep if lockstep else 0.0
    return result


# --- Toru's API ---------------------------------------------------------------------

def call(port, method, path, token, timeout=IO_TIMEOUT):
    """(status, parsed JSON or raw bytes) of one request on a fresh connection."""
    headers = {"Cookie": f"{COOKIE}={token}"}
    if method != "GET":
        headers.update({"Origin": f"http://{HOST}:{port}", "Content-Type": "application/json"})
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=b"{}" if method != "GET" else None, headers=headers)
        res = conn.getresponse()
        body = res.read()
    finally:
        conn.close()
    try:
        return res.status, json.loads(body)
    except ValueError:
        return res.status, body


def plugin_info(port, token, plugin_id=PLUGIN_ID):
    status, info = call(port, "GET", f"/api/plugins/{plugin_id}", token)
    if status != 200:
        raise BenchError(f"GET /api/plugins/{plugin_id} answered {status}: {str(info)[:300]}")
    return info.get("plugin", info)  # {"plugin": {...}}


def wait_serving(port, token, plugin_id=PLUGIN_ID, timeout=READY_TIMEOUT):
    """Until the plugin is running and its proxied route answers 200; its pid."""
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = plugin_info(port, token, plugin_id)
        if info.get("state") == "running" and call(port, "GET", f"/api/plugins/route/{plugin_id}/ping",
                                                   token)[0] == 200:
            return info["pid"]
        time.sleep(0.02)
    raise BenchError(f"plugin {plugin_id} not serving after {timeout:.0f} s: {info}")


def events_since(port, token, after_id):
    status, body = call(port, "GET", f"/api/plugins/{PLUGIN_ID}/events?limit=100", token)
    if status != 200:
        raise BenchError(f"GET /api/plugins/{PLUGIN_ID}/events answered {status}: {str(body)[:300]}")
    return sorted((e for e in body["events"] if e["id"] > after_id), key=lambda e: e["id"])


def kill_once(port, token, poll):
    """kill -9 the plugin; times (from the kill) of its `exited` event, of
    `started`, and of the first 200 on the proxied route."""
    pid = wait_serving(port, token)
    before = events_since(port, token, 0)
    last_id = before[-1]["id"] if before else 0
    conn = http.client.HTTPConnection(HOST, port, timeout=IO_TIMEOUT)
    headers = {"Cookie": f"{COOKIE}={token}"}
    conn.connect()  # the poll starts at once, on a warm connection
    statuses = {}
    try:
        t_wall, t0 = time.time(), time.monotonic()
        os.kill(pid, signal.SIGKILL)
        serving = None
        while time.monotonic() - t0 < KILL_TIMEOUT:
            try:
                conn.request("GET", ROUTE, headers=headers)
                res = conn.getresponse()
                res.read()
                status = res.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = "error"
            if status == 200:
                serving = time.monotonic() - t0
                break
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            time.sleep(poll)
    finally:
        conn.close()
    if serving is None:
        raise BenchError(f"plugin not serving {KILL_TIMEOUT:.0f} s after kill -9 (answers: {statuses})")
    events = events_since(port, token, last_id)
    first = lambda kind: next((e for e in events if e["event_type"] == kind), None)  # noqa: E731
    exited, started, backoff = first("exited"), first("started"), first("restarting_with_backoff")
    if exited is None:
        raise BenchError(f"no exited event after kill -9 of {pid}: {events}")
    new_pid = plugin_info(port, token).get("pid")
    return {"pid": pid, "new_pid": new_pid, "exited_ms": 1000.0 * (exited["timestamp"] - t_wall),
            "exit_details": exited["details"],
            "backoff_s": backoff["details"].get("delay") if backoff else None,
            "started_s": started["timestamp"] - t_wall if started else None,
            "serving_s": serving, "answers_before_200": statuses}


def measure_kills(args, port, token):
    kills = []
    for i in range(args.kills):
        if i:
            status, body = call(port, "POST", f"/api/plugins/{PLUGIN_ID}/restart", token, timeout=30)
            if status != 200:
                raise BenchError(f"POST /api/plugins/{PLUGIN_ID}/restart answered {status}: {body}")
        wait_serving(port, token)
        time.sleep(args.settle)
        kills.append(kill_once(port, token, args.poll))
    return kills


# --- the run ------------------------------------------------------------------------

def run(args):
    procs = Processes()
    busy0, own0, wall0 = busy_cpu_seconds(), own_cpu_seconds(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toru-plugin-bench-") as tmp:
        try:
            setup = prepare(args, tmp)
            install_plugins(setup, setup.tmp / "toru")  # start_toru's data dir
            direct, direct_path = start_direct_plugin(setup, procs)
            bare, bare_port = start_hop_baseline(setup, procs, direct_path)
            toru, port = start_toru(setup, procs, "toru")
            token = login(port)
            pids = {"toru": toru.pid, "toru_plugin": wait_serving(port, token),
                    "toru_mux_plugin": wait_serving(port, token, MUX_ID), "standalone_plugin": direct.pid,
                    "hop_baseline": bare.pid}
            measured = compare(args, port, token, direct_path, bare_port, pids)
            kills = measure_kills(args, port, token)
            toru_log = Path(toru.log_path).read_text(errors="replace")
        finally:
            procs.stop_all()
        others = (busy_cpu_seconds() - busy0) - (own_cpu_seconds() - own0)
    phases = list(measured["single"].values()) + list((measured["multi"] or {}).values())
    wall = time.monotonic() - wall0
    noise = {"other_cpu_pct": max(0.0, 100.0 * others / wall), "wall_s": wall,
             "worst_phase_other_cpu_pct": max(p["other_cpu_pct"] for p in phases),
             "noisy": max(p["other_cpu_pct"] for p in phases) > NOISY_PCT}
    m = machine(setup)
    m.pop("baseline_gevent_from", None)
    worst_exit = max(k["exited_ms"] for k in kills)
    worst_serving = max(k["serving_s"] for k in kills)
    goals = {"hop_p50_ms": measured["hop_p50_ms"] <= GOALS["hop_p50_ms"],
             "rps_ratio": measured["rps_ratio"] >= GOALS["rps_ratio"],
             "exited_ms": worst_exit < GOALS["exited_ms"],
             "serving_s": worst_serving <= GOALS["serving_s"]}
    if measured["multi"]:
        goals["mux_ratio"] = measured["mux_ratio"] >= GOALS["mux_ratio"]
    return dict(measured, machine=m, settings=settings(args), noise=noise, kills=kills, worst_exited_ms=worst_exit,
                worst_serving_s=worst_serving, goals=goals,
                toru_warnings=[line for line in toru_log.splitlines() if '"level": "error"' in line
                               or "Traceback" in line][:10])


def settings(args):
    return {"seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
            "connections": args.connections, "wait_ms": args.wait_ms, "kills": args.kills, "poll_s": args.poll,
            "retries": args.retries, "pyz": None if args.checkout else args.pyz, "checkout": args.checkout}


# --- report ---------------------------------------------------------------------------

def phase_rows(label, x):
    server = f"{x['server_cpu_pct']:9.0f}%" if x["server_cpu_pct"] is not None else f"{'-':>10}"
    us = f"{x['server_us_per_request']:6.0f}" if x["server_us_per_request"] is not None else f"{'-':>6}"
    return (f"   {label:36} {x['connections']:5d} {x['rps']:7.0f} {x['p50_ms']:7.3f} {x['p99_ms']:7.3f}"
            f" {x['errors']:6d} {server} {us} {x['plugin_cpu_pct']:6.0f}% {x['generator_cpu_pct']:8.0f}%"
            f" {x['other_cpu_pct']:5.0f}%")


def goal_row(label, value, unit, op, goal, ok):
    return f"   {label:44} {value:7.3f}{unit:3}  goal {op} {goal:g}{unit:3}  {mark(ok)}"


def measurement_rows(r):
    one, multi, g = r["single"], r["multi"], r["goals"]
    t, h, d = one["toru"], one["health"], one["direct"]
    lines = [
        f"   {'':36} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'CPU: toru':>10} {'us/req':>6} {'plugin':>7} {'generator':>9} {'other':>6}",
        phase_rows("toru, lockstep plugin (proxied)", t),
        phase_rows(f"toru {HEALTH} signed in (floor)", h),
        phase_rows(f"toru {SIGNED_IN} (session checked)", one["signed"]),
        phase_rows("direct: plugin's own socket (limit)", d),
        phase_rows("bare gevent: /ping (round trip)", one["bare_ping"]),
        phase_rows("bare gevent: /conn (PluginConnection)", one["bare_conn"]),
        phase_rows("bare gevent: /hello", one["bare_hello"]),
    ]
    if multi:
        n = multi["lockstep"]["connections"]
        lines += [phase_rows(f"toru, lockstep plugin, {n} conns", multi["lockstep"]),
                  phase_rows(f"toru, concurrent plugin, {n} conns", multi["concurrent"]),
                  phase_rows(f"toru {HEALTH}, {n} conns (ceiling)", multi["health"])]
        if "lockstep_wait" in multi:
            w = r["settings"]["wait_ms"]
            lines += [phase_rows(f"  same, plugin waits {w} ms: lockstep", multi["lockstep_wait"]),
                      phase_rows(f"  same, plugin waits {w} ms: concurrent", multi["concurrent_wait"])]
    lines += [
        "",
        goal_row("hop p50 (proxied - health), 1 conn", r["hop_p50_ms"], " ms", "<=", GOALS["hop_p50_ms"],
                 g["hop_p50_ms"]),
        goal_row("req/s proxied / health, 1 conn", r["rps_ratio"], "x", ">=", GOALS["rps_ratio"], g["rps_ratio"]),
    ]
    if multi:
        lines.append(goal_row(f"req/s concurrent / lockstep, {n} conns", r["mux_ratio"], "x", ">=",
                              GOALS["mux_ratio"], g["mux_ratio"]))
        lines.append(f"   {'  ceiling: ' + HEALTH + ' / lockstep (info)':44} {r['mux_ceiling_ratio']:7.3f}x"
                     "  no proxied route answers more than the route that does nothing")
        lines.append(f"   {'  toru at 100% CPU, concurrent us/req (info)':44} {r['mux_cpu_bound_ratio']:7.3f}x"
                     f"  {1e6 / multi['concurrent']['server_us_per_request']:.0f} req/s at"
                     f" {multi['concurrent']['server_us_per_request']:.0f} us per proxied request")
    if "mux_wait_ratio" in r:
        lines.append(f"   {'  the same, plugin waiting ' + str(r['settings']['wait_ms']) + ' ms (info)':44}"
                     f" {r['mux_wait_ratio']:7.3f}x")
    lines += [
        f"   the limit: the same round trip in a bare gevent server (/ping - /hello p50) "
        f"{r['floor_hop_p50_ms']:.3f} ms, the plugin's own (direct p50) {d['p50_ms']:.3f} ms; Toru's share of the"
        f" hop (hop - bare) {r['toru_share_p50_ms']:.3f} ms",
        f"   the hop in two: the session check ({SIGNED_IN} - health p50) {r['session_p50_ms']:.3f} ms, the"
        f" proxying (proxied - {SIGNED_IN} p50) {r['proxying_p50_ms']:.3f} ms",
        f"   toru CPU per request: proxied {t['server_us_per_request']:.0f} us, health "
        f"{h['server_us_per_request']:.0f} us (hop {t['server_us_per_request'] - h['server_us_per_request']:.0f} us);"
        f" plugin {t['plugin_us_per_request']:.0f} us through toru / {d['plugin_us_per_request']:.0f} us direct",
        f"   p50 per round: toru {' '.join(f'{x:.3f}' for x in t['p50_rounds_ms'])}, health "
        f"{' '.join(f'{x:.3f}' for x in h['p50_rounds_ms'])} ms; req/s per round: toru "
        f"{' '.join(f'{x:.0f}' for x in t['rps_rounds'])}, health {' '.join(f'{x:.0f}' for x in h['rps_rounds'])}",
    ]
    return lines


def kill_rows(r):
    s, g = r["settings"], r["goals"]
    lines = [
        f"2. kill -9 of the lockstep plugin, {len(r['kills'])} time(s) (POST /restart in between resets the crash "
        f"count); route polled every {s['poll_s'] * 1000:g} ms",
        f"   {'kill':>4} {'exited event':>13} {'backoff':>8} {'started':>8} {'serving':>8}  answers before 200",
    ]
    for i, k in enumerate(r["kills"], 1):
        started = f"{k['started_s']:7.3f}s" if k["started_s"] is not None else f"{'-':>8}"
        backoff = f"{k['backoff_s']:7g}s" if k["backoff_s"] is not None else f"{'-':>8}"
        answers = ", ".join(f"{n}x {code}" for code, n in k["answers_before_200"].items())
        lines.append(f"   {i:4d} {k['exited_ms']:10.1f} ms {backoff} {started} {k['serving_s']:7.3f}s  {answers}")
    return lines + [
        f"   worst kill -> exited event   {r['worst_exited_ms']:7.1f} ms  goal < {GOALS['exited_ms']:g} ms"
        f"    {mark(g['exited_ms'])}",
        f"   worst kill -> serving again  {r['worst_serving_s']:7.3f} s   goal <= {GOALS['serving_s']:g} s"
        f"    {mark(g['serving_s'])}",
    ]


def report(r):
    m, s = r["machine"], r["settings"]
    lines = [
        f"Toru plugin benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, "
        f"Linux {m['kernel']}; {'checkout toru.py' if s['checkout'] else s['pyz']}",
        f"Plugins: bench/ping_plugin.py as {PLUGIN_ID}.binary (lockstep, \"concurrent\": false) and {MUX_ID}.binary"
        " (\"concurrent\": true); direct = the same plugin standalone, sent the frames the core sends, over its"
        " own Unix socket.",
        f"One client process; {s['warmup']:g} s warm-up + {s['seconds']:g} s per phase, {s['rounds']} round(s) of"
        " each table taking turns. CPU is % of one CPU; us/req is toru's CPU per request.",
        "",
        f"1. GET {ROUTE} through toru vs toru's signed-in {HEALTH}",
        *measurement_rows(r),
        "",
        *kill_rows(r),
        "",
        f"Other processes used {r['noise']['other_cpu_pct']:.0f}% of a CPU on average during this "
        f"{r['noise']['wall_s']:.0f} s run; a load phase runs again while they take over {NOISY_PCT:g}%.",
    ]
    if r["noise"]["noisy"]:
        lines.append(f"WARNING: other processes still took {r['noise']['worst_phase_other_cpu_pct']:.0f}% "
                     "of a CPU during a load phase: rerun on a quiet machine.")
    if r["toru_warnings"]:
        lines += ["Errors in toru's log:", *(f"   {line[:200]}" for line in r["toru_warnings"])]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", default=str(ROOT / "dist" / "toru.pyz"), help="default dist/toru.pyz")
    parser.add_argument("--checkout", action="store_true", help="run toru.py from this checkout instead of a pyz")
    parser.add_argument("--python", default="python3",
                        help="interpreter for toru and the plugin (default python3, resolved past shims)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per phase (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per phase (default 0.5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="one-connection rounds per side, taking turns (default 3)")
    parser.add_argument("--connections", type=int, default=4,
                        help="connections of the lockstep vs concurrent table, 0 or 1 to skip (default 4)")
    parser.add_argument("--wait-ms", type=int, default=1,
                        help="per-request wait of the plugin in the extra lockstep vs concurrent rows, 0 to skip "
                             "(default 1)")
    parser.add_argument("--kills", type=int, default=3, help="kill -9 rounds (default 3)")
    parser.add_argument("--poll", type=float, default=0.005,
                        help="seconds between polls of the route after a kill (default 0.005)")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="idle seconds before each kill (default 0.5)")
    parser.add_argument("--retries", type=int, default=2,
                        help="extra tries of a load phase while other processes are busy (default 2)")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary as the last line")
    args = parser.parse_args(argv)
    if not args.checkout and not Path(args.pyz).is_file():
        parser.exit(2, f"plugin_bench: {args.pyz} not found: build it with ./build.sh, or pass --checkout\n")
    if not (args.seconds > 0 and args.warmup >= 0 and args.rounds >= 1 and args.kills >= 1
            and args.retries >= 0 and 0 < args.poll <= 1 and args.connections >= 0 and args.wait_ms >= 0):
        parser.exit(2, "plugin_bench: need seconds > 0, warmup >= 0, rounds >= 1, kills >= 1, "
                       "retries >= 0, 0 < poll <= 1 and connections >= 0\n")
    return args


def main(argv=None):
    return run_and_report("plugin_bench", run, report, parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
