"""Toru's monitoring benchmark: what /api/resources, the sampler and the
history cost, measured against the built pyz in this one run, on 127.0.0.1.

    python3 bench/resources_bench.py [--pyz dist/toru.pyz] [--idle-seconds 60] [--json]
    python3 bench/resources_bench.py --history-only   # phase 3 on the checkout, no pyz

1. keep-alive load on GET /api/resources vs GET /api/health on the same
   server, signed in (session cookie on every request of both);
   goals: resources req/s >= 0.8x health, resources p99 < 25 ms;
2. server CPU while idle over a window, with 0 WebSocket subscribers (next
   to a second server with TORU_SAMPLE_INTERVAL=60, the sampler nearly off,
   in the same window) and with 20 subscribers of the "resources" topic;
   goals: < 1 % and < 3 % of one CPU;
3. the history after a simulated 24 h: 43,200 generated points 2 s apart
   for a 2-core/3-interface/1-disk, a 16/4/4 and a 64/8/8 host, each fed
   to the dict-per-point history Toru kept before (bench/history_baseline.py)
   and to the columnar toru.monitor.history, each in a fresh process:
   memory (tracemalloc and RSS growth) and the /api/resources/history
   answer time (1h and 24h, every series, JSON included), side by side;
   goals: 64/8/8 columnar < 8 MiB, columnar answers no slower than the
   baseline's for every shape;
4. Glances (`glances -w --disable-webui`, installed with pip into a venv
   under /tmp, never into the repo) as a reference: GET /api/4/all with the
   same load; goal: Toru's /api/resources req/s >= 5x. Skipped, with the
   reason printed, when it cannot be installed or started.

Benchmarks inform, they do not gate: the exit status is 0 unless something
crashed. Every process it starts is stopped by PID in a `finally`.
Needs psutil, and websocket-client for phase 2 (both in .venv-test).
"""

import argparse
import gc
import http.client
import http.cookies
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import (ADMIN_PASSWORD, run_and_report, MIB, READY_TIMEOUT, ROOT, BenchError,  # noqa: E402
                        Processes, Setup, clean_env, free_port, machine, own_cpu_seconds,
                        wait_ready)
from loadgen import HOST, NOISY_PCT, Load, LoadError, busy_cpu_seconds, combine, run_quiet_load  # noqa: E402

import psutil  # noqa: E402  (http_bench already said how to get it)

GOALS = {"rps_ratio": 0.8, "p99_ms": 25.0, "idle_cpu_pct": 1.0, "subscribed_cpu_pct": 3.0,
         "history_mib": 8.0, "glances_ratio": 5.0}
COOKIE = "toru_session"
REFERENCE_INTERVAL = 60  # the largest TORU_SAMPLE_INTERVAL Toru accepts: the sampler nearly off
GLANCES_PATH = "/api/4/all"
GLANCES_VENV = "/tmp/toru-bench-glances"
GLANCES_SPEC = "glances[web]==4.5.8"
INSTALL_TIMEOUT = 600
DAY_POINTS = 43_200  # 24 h at one point every 2 s


# --- Toru, signed in -----------------------------------------------------------

def start_toru(setup, procs, interval, name):
    """Like Setup.start_toru, with TORU_SAMPLE_INTERVAL and a data dir of its own."""
    port = free_port()
    data_dir = setup.tmp / f"data-{name}"
    cmd = [setup.python, setup.pyz, "--data-dir", str(data_dir), "--port", str(port)]
    env = dict(setup.toru_env(), TORU_SAMPLE_INTERVAL=f"{interval:g}")
    p = procs.start(f"toru.pyz ({name})", cmd, env, str(setup.tmp), setup.tmp / f"toru-{name}.log")
    wait_ready(p, port)
    return p, port


def login(port):
    """Sign in as the env admin; returns the session token."""
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/api/auth/login", body,
                     {"Content-Type": "application/json", "Origin": f"http://{HOST}:{port}"})
        res = conn.getresponse()
        text = res.read()
        if res.status != 200:
            raise BenchError(f"login on port {port} answered {res.status}: {text[:300]!r}")
        for header in res.headers.get_all("Set-Cookie") or []:
            jar = http.cookies.SimpleCookie(header)
            if COOKIE in jar:
                return jar[COOKIE].value
    finally:
        conn.close()
    raise BenchError(f"login on port {port} set no {COOKIE} cookie")


def get(port, path, headers=None, timeout=5.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def wait_sampled(port, headers, timeout=30.0):
    """Wait for a snapshot with rates (the sampler's second); returns
    (its size in bytes, the snapshot)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = get(port, "/api/resources", headers)
        if status != 200:
            raise BenchError(f"GET /api/resources answered {status}: {body[:300]!r}")
        snapshot = json.loads(body)
        if not snapshot.get("warming_up") and "cpu_percent" in snapshot:
            return len(body), snapshot
        time.sleep(0.2)
    raise BenchError(f"/api/resources still warming up after {timeout:.0f} s")


# --- 1 + 4: keep-alive load ------------------------------------------------------

def run_http(setup, procs, toru, port, token, glances, args):
    headers = (("Cookie", f"{COOKIE}={token}"),)
    size, snapshot = wait_sampled(port, dict(headers))
    status, health_body = get(port, "/api/health", dict(headers))
    if status != 200:
        raise BenchError(f"GET /api/health answered {status}: {health_body[:300]!r}")
    load = lambda path: Load(args.connections, args.processes, args.warmup, args.seconds,  # noqa: E731
                             path=path, headers=headers)
    targets = {"health": (toru.pid, port, load("/api/health")),
               "resources": (toru.pid, port, load("/api/resources"))}
    rounds = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (pid, p, spec) in targets.items():
            rounds[name].append(run_quiet_load(pid, p, spec, args.retries))
    result = {name: combine(r) for name, r in rounds.items()}
    result["health"]["bytes"], result["resources"]["bytes"] = len(health_body), size
    h, r = result["health"]["rps"], result["resources"]["rps"]
    result["rps_ratio"] = r / h if h else float("nan")
    result["cpu_ratio"] = cpu_us_per_request(result["resources"]) / cpu_us_per_request(result["health"])
    result["snapshot_shape"] = shape_of(snapshot)
    result["glances"] = run_glances(setup, procs, glances, args) if glances.get("bin") else None
    if result["glances"] and result["glances"]["rps"]:
        result["glances_ratio"] = r / result["glances"]["rps"]
    return result


def shape_of(snapshot):
    return {"cores": len(snapshot.get("cpu_per_core") or []),
            "interfaces": len(snapshot.get("networks") or []), "disks": len(snapshot.get("disks") or [])}


# --- Glances as a reference ----------------------------------------------------------

def find_glances(setup, args):
    """{"bin": path, "version": ...} or {"bin": None, "why": ...}; installs
    GLANCES_SPEC into args.glances_venv (under /tmp) the first time."""
    if args.no_glances:
        return {"bin": None, "why": "skipped (--no-glances)"}
    venv = Path(args.glances_venv)
    binary = Path(shutil.which(args.glances) or args.glances) if args.glances else venv / "bin" / "glances"
    if not binary.exists() and not args.glances:
        try:
            if not (venv / "bin" / "python").exists():
                subprocess.run([setup.python, "-m", "venv", str(venv)], check=True, capture_output=True,
                               text=True, timeout=120)
            print(f"resources_bench: installing {args.glances_spec} into {venv} (once)...",
                  file=sys.stderr, flush=True)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", args.glances_spec],
                           check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.CalledProcessError as e:
            tail = (e.stderr or e.stdout or "").strip().splitlines()[-3:]
            return {"bin": None, "why": f"could not install {args.glances_spec}: {' / '.join(tail)}"}
        except (subprocess.TimeoutExpired, OSError) as e:
            return {"bin": None, "why": f"could not install {args.glances_spec}: {e}"}
    if not binary.exists():
        return {"bin": None, "why": f"{binary} not found"}
    try:
        out = subprocess.run([str(binary), "-V"], capture_output=True, text=True, timeout=60).stdout
    except (subprocess.TimeoutExpired, OSError) as e:
        return {"bin": None, "why": f"{binary} -V failed: {e}"}
    version = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.lower().startswith("glances version")), "unknown")
    return {"bin": str(binary), "version": version}


def run_glances(setup, procs, glances, args):
    """Start `glances -w --disable-webui` on a free loopback port with an
    empty config, load GET /api/4/all, stop it. None-safe: a Glances that
    does not start is reported, not raised."""
    port = free_port()
    config = setup.tmp / "glances.conf"
    config.write_text("")
    cmd = [glances["bin"], "-w", "--disable-webui", "-B", HOST, "-p", str(port), "-C", str(config)]
    p = procs.start("glances", cmd, clean_env(), str(setup.tmp), setup.tmp / "glances.log")
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if p.proc.poll() is not None:
                glances.update(bin=None, why=f"glances exited with {p.proc.returncode}: {p.log_tail()[-300:]}")
                return None
            try:
                status, body = get(port, GLANCES_PATH, timeout=10)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                glances.update(bin=None, why=f"glances not ready after {READY_TIMEOUT:.0f} s")
                return None
            time.sleep(0.2)
        spec = Load(args.connections, args.processes, args.warmup, args.seconds, path=GLANCES_PATH)
        try:
            result = combine([run_quiet_load(p.pid, port, spec, args.retries) for _ in range(args.rounds)])
        except LoadError as e:
            glances.update(bin=None, why=f"the load on glances failed: {e}")
            return None
        result["bytes"] = len(body)
        return result
    finally:
        procs.stop(p)


# --- 2: sampler CPU while idle ----------------------------------------------------------

class Subscriber(threading.Thread):
    """One WebSocket client subscribed to "resources", reading in a thread."""

    def __init__(self, websocket, port, token):
        super().__init__(daemon=True)
        self.ws = websocket.create_connection(f"ws://{HOST}:{port}/api/ws", timeout=10,
                                              origin=f"http://{HOST}:{port}", cookie=f"{COOKIE}={token}")
        self.ws.settimeout(1.0)
        self.ws.send(json.dumps({"type": "subscribe", "topic": "resources"}))
        self.timeout_error = websocket.WebSocketTimeoutException
        self.received = 0
        self.other = []
        self.stopping = threading.Event()
        self.got_one = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                raw = self.ws.recv()
            except self.timeout_error:
                continue
            except Exception as e:  # closed by the server, or the socket broke
                self.other.append(f"{type(e).__name__}: {e}")
                return
            message = json.loads(raw)
            if message.get("type") == "resources":
                self.received += 1
                self.got_one.set()
            else:
                self.other.append(message)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        try:
            self.ws.close(timeout=2)
        except Exception:
            pass


def cpu_seconds(pid):
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def idle_window(pids, seconds):
    """CPU % of one CPU used by each pid over `seconds`, and by the rest of
    the machine (everything but those pids and this process)."""
    before = {pid: cpu_seconds(pid) for pid in pids}
    busy0, own0, t0 = busy_cpu_seconds(), own_cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
    wall = time.monotonic() - t0
    own = own_cpu_seconds() - own0
    other = max(0.0, busy_cpu_seconds() - busy0 - sum(used.values()) - own)
    return ({pid: 100.0 * cpu / wall for pid, cpu in used.items()},
            {"wall_s": wall, "other_cpu_pct": 100.0 * other / wall, "bench_cpu_pct": 100.0 * own / wall,
             "cpu_s": used})


def run_idle(setup, procs, toru, port, token, args):
    reference, _ = start_toru(setup, procs, REFERENCE_INTERVAL, "reference")
    time.sleep(args.settle)
    pct, noise = idle_window([toru.pid, reference.pid], args.idle_seconds)
    procs.stop(reference)
    samples = args.idle_seconds / args.interval
    quiet = {"subscribers": 0, "cpu_pct": pct[toru.pid], "reference_cpu_pct": pct[reference.pid],
             "samples": samples, **noise}
    quiet["ms_per_sample"] = 1000.0 * (noise["cpu_s"][toru.pid] - noise["cpu_s"][reference.pid]) / samples
    del quiet["cpu_s"]
    try:
        import websocket
    except ImportError:
        return {"quiet": quiet, "subscribed": None,
                "why": "websocket-client is not installed for this interpreter (.venv-test has it)"}
    subs = []
    try:
        for _ in range(args.subscribers):
            subs.append(Subscriber(websocket, port, token))
            subs[-1].start()
        deadline = time.monotonic() + 3 * args.interval + 5
        for s in subs:
            if not s.got_one.wait(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"a subscriber got no resources message in {3 * args.interval + 5:g} s: "
                                 f"{s.other[:3]}")
        time.sleep(args.settle)
        counts0 = [s.received for s in subs]
        pct, noise = idle_window([toru.pid], args.idle_seconds)
        received = [s.received - c for s, c in zip(subs, counts0)]
    finally:
        for s in subs:
            s.stop()
    subscribed = {"subscribers": len(subs), "cpu_pct": pct[toru.pid], "samples": samples,
                  "messages": sum(received), "messages_min": min(received), "messages_max": max(received),
                  "other_messages": sum(len(s.other) for s in subs), **noise}
    del subscribed["cpu_s"]
    return {"quiet": quiet, "subscribed": subscribed}


# --- 3: history memory and answer time, in fresh processes -------------------------------
# Both storages get the same generated day: the dict-per-point history Toru
# kept until issue 16 (bench/history_baseline.py) and toru.monitor.history.

STORAGES = ("baseline", "columnar")
SHAPES = {"2/3/1": {"cores": 2, "interfaces": 3, "disks": 1},
          "16/4/4": {"cores": 16, "interfaces": 4, "disks": 4},
          "64/8/8": {"cores": 64, "interfaces": 8, "disks": 8}}
GOAL_SHAPE = "64/8/8"
ANSWER_REPEATS = 5


def fresh(text):
    """A new str object with the same text, as psutil hands out on every call."""
    return text.encode().decode()


def synthetic_snapshot(cores, interfaces, disks):
    return {"cpu_percent": 0.0, "cpu_per_core": [0.0] * cores, "load_average": [0.0, 0.0, 0.0],
            "memory_percent": 0.0, "swap_percent": 0.0,
            "disk_io": {"read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0},
            "networks": [{"interface": f"eth{i}", "rx_bytes_per_s": 0.0, "tx_bytes_per_s": 0.0}
                         for i in range(interfaces)],
            "disks": [{"mount_point": "/" if i == 0 else f"/mnt/data{i}", "percent": 0.0}
                      for i in range(disks)]}


def varied(base, rnd):
    """A snapshot of `base`'s shape with new values (and new string and float
    objects, as every real sample has)."""
    cores = [round(rnd.uniform(0, 100), 1) for _ in base["cpu_per_core"]]
    return {
        "cpu_percent": round(sum(cores) / len(cores), 2) if cores else 0.0,
        "cpu_per_core": cores,
        "load_average": [round(rnd.uniform(0, 8), 2) for _ in range(3)],
        "memory_percent": round(rnd.uniform(10, 90), 1), "swap_percent": round(rnd.uniform(0, 20), 1),
        "disk_io": {"read_bytes_per_s": rnd.uniform(0, 5e7), "write_bytes_per_s": rnd.uniform(0, 5e7)},
        "networks": [{"interface": fresh(n["interface"]), "rx_bytes_per_s": rnd.uniform(0, 1e7),
                      "tx_bytes_per_s": rnd.uniform(0, 1e7)} for n in base["networks"]],
        "disks": [{"mount_point": fresh(d["mount_point"]), "percent": round(rnd.uniform(1, 99), 1)}
                  for d in base["disks"]],
    }


def answer_times(histories):
    """{storage: {"answer_1h_s", "answer_24h_s", "json_1h"}}: the fastest of
    ANSWER_REPEATS /api/resources/history answers (every series, as
    Monitor.history_series asks, encoded to JSON as the route's plugin does),
    the storages taking turns so a busy neighbour slows both alike."""
    names = ["cpu", "cores", "mem", "swap", "load1", "net", "disk_io", "disk"]
    out = {storage: {"answer_1h_s": float("inf"), "answer_24h_s": float("inf")} for storage in histories}
    for _ in range(ANSWER_REPEATS):
        for range_name, asked in (("1h", names), ("24h", names + ["cpu_max"])):
            for storage, history in histories.items():
                started = time.perf_counter()
                body = json.dumps(history.series(range_name, asked))
                took = time.perf_counter() - started
                out[storage][f"answer_{range_name}_s"] = min(out[storage][f"answer_{range_name}_s"], took)
                out[storage][f"json_{range_name}"] = len(body)
    return out


def history_child(spec):
    """Run inside the fresh process (`--history-child`): feed a day of points
    to one storage and print its memory, or to both and print their answer
    times, as JSON."""
    from history_baseline import History as Baseline
    from toru.monitor.history import History as Columnar
    from toru.monitor.system import history_point

    kinds = {"baseline": Baseline, "columnar": Columnar}
    base, rnd = synthetic_snapshot(**spec["shape"]), random.Random(42)
    interval, t0 = spec["interval"], 1_700_000_000.0
    if spec["measure"] == "traced":
        import tracemalloc
        tracemalloc.start()
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    traced0 = tracemalloc.get_traced_memory()[0] if spec["measure"] == "traced" else 0
    started = time.perf_counter()
    histories = {storage: kinds[storage](interval) for storage in spec["storages"]}
    for i in range(spec["points"]):
        point = history_point(varied(base, rnd))
        for history in histories.values():
            history.add(t0 + i * interval, point)
    out = {"feed_s": time.perf_counter() - started}
    gc.collect()
    if spec["measure"] == "traced":
        out["traced"] = tracemalloc.get_traced_memory()[0] - traced0
    elif spec["measure"] == "rss":
        history = histories[spec["storages"][0]]
        out.update(rss_growth=psutil.Process().memory_info().rss - rss0, recent=len(history.recent),
                   minutes=len(history.minutes))
    else:
        out = answer_times(histories)
    print(json.dumps(out))


def run_history_child(python, toru_path, spec):
    cmd = [python, str(Path(__file__).resolve()), "--history-child", json.dumps(spec)]
    env = clean_env(PYTHONPATH=toru_path)
    out = subprocess.run(cmd, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise BenchError(f"history child failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_history(python, toru_path, args):
    """Per shape: each storage alone for RSS growth (no tracemalloc: its
    bookkeeping would be counted) and alone under tracemalloc, then both in
    one process for the answer times."""
    result = {}
    for name, shape in SHAPES.items():
        spec = {"shape": shape, "interval": args.interval, "points": args.history_points}
        result[name] = {}
        for storage in STORAGES:
            alone = dict(spec, storages=[storage])
            rss = run_history_child(python, toru_path, dict(alone, measure="rss"))
            traced = run_history_child(python, toru_path, dict(alone, measure="traced"))
            result[name][storage] = dict(rss, traced=traced["traced"])
        answers = run_history_child(python, toru_path, dict(spec, storages=list(STORAGES), measure="answers"))
        for storage in STORAGES:
            result[name][storage].update(answers[storage])
    return result


def history_verdicts(history):
    """The goal shape in under GOAL_MIB (the larger of RSS growth and traced),
    and every shape's answers at least as fast as the baseline's."""
    goal = history[GOAL_SHAPE]["columnar"]
    faster = all(h["columnar"][key] <= h["baseline"][key] for h in history.values()
                 for key in ("answer_1h_s", "answer_24h_s"))
    return {"history_mib": max(goal["rss_growth"], goal["traced"]) / MIB < GOALS["history_mib"],
            "history_answer": faster}


# --- the run ------------------------------------------------------------------------

def run(args):
    procs = Processes()
    wall0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toru-resources-bench-") as tmp:
        try:
            setup = Setup(args, tmp)
            glances = find_glances(setup, args)
            toru, port = start_toru(setup, procs, args.interval, "main")
            setup.find_site_packages()
            token = login(port)
            http = run_http(setup, procs, toru, port, token, glances, args)
            idle = run_idle(setup, procs, toru, port, token, args)
            rss_after = psutil.Process(toru.pid).memory_info().rss
        finally:
            procs.stop_all()
        if not setup.site_packages:
            raise BenchError("the pyz's unpacked site-packages were not found: cannot import toru.monitor.history")
        history = run_history(setup.python, setup.site_packages, args)
        info = machine(setup)
    loads = [http["health"], http["resources"]] + ([http["glances"]] if http["glances"] else [])
    # Idle windows read the server's own CPU time, which a busy neighbour
    # hardly changes; only load phases (req/s, latency) are judged noisy.
    noise = {"wall_s": time.monotonic() - wall0, "noisy": max(x["other_cpu_pct"] for x in loads) > NOISY_PCT}
    glances.pop("bin", None)
    return {"machine": info, "settings": settings(args), "noise": noise, "http": http, "glances": glances,
            "idle": idle, "history": history, "history_from": "the pyz", "toru_rss_mib_after": rss_after / MIB,
            "goals": verdicts(http, idle, history)}


def run_history_only(args):
    """Phase 3 alone, on this interpreter and the checkout's toru/: no pyz,
    no server (what a change to the history needs)."""
    wall0 = time.monotonic()
    history = run_history(sys.executable, str(ROOT), args)
    return {"settings": settings(args), "history": history, "history_from": f"{ROOT}/toru",
            "python": platform.python_version(), "wall_s": time.monotonic() - wall0,
            "goals": history_verdicts(history)}


def settings(args):
    return {k: getattr(args, k) for k in ("pyz", "interval", "seconds", "warmup", "connections", "processes",
                                          "rounds", "retries", "idle_seconds", "settle", "subscribers",
                                          "history_points")}


def verdicts(http, idle, history):
    """True/False per goal; None when it could not be measured."""
    sub = idle["subscribed"]
    return {"rps_ratio": http["rps_ratio"] >= GOALS["rps_ratio"],
            "p99_ms": http["resources"]["p99_ms"] < GOALS["p99_ms"],
            "idle_cpu_pct": idle["quiet"]["cpu_pct"] < GOALS["idle_cpu_pct"],
            "subscribed_cpu_pct": None if sub is None else sub["cpu_pct"] < GOALS["subscribed_cpu_pct"],
            **history_verdicts(history),
            "glances_ratio": None if "glances_ratio" not in http
            else http["glances_ratio"] >= GOALS["glances_ratio"]}


# --- report -----------------------------------------------------------------------

def mark(ok):
    return {True: "PASS", False: "FAIL", None: "n/a "}[ok]


def cpu_us_per_request(x):
    """Server CPU per request: steadier than req/s on a busy machine."""
    return 1e4 * x["server_cpu_pct"] / x["rps"] if x["rps"] else float("nan")


def load_row(label, x):
    return (f"   {label:34} {x['rps']:7.0f} {x['p50_ms']:7.2f} {x['p99_ms']:7.2f} {x['errors']:6d}"
            f" {x['bytes']:6d} {x['server_cpu_pct']:10.0f}% {cpu_us_per_request(x):6.0f}"
            f" {x['generator_cpu_pct']:9.0f}% {x['other_cpu_pct']:5.0f}%")


def report(r):
    m, s, h, idle, g = r["machine"], r["settings"], r["http"], r["idle"], r["goals"]
    gl = r["glances"]
    shape = h["snapshot_shape"]
    lines = [
        f"Toru monitoring benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, "
        f"Linux {m['kernel']}; TORU_SAMPLE_INTERVAL={s['interval']:g}; snapshot of {shape['cores']} cores, "
        f"{shape['interfaces']} interface(s), {shape['disks']} disk(s)",
        f"Load generator: {s['connections']} keep-alive connections over {s['processes']} processes, "
        f"{s['warmup']:g} s warm-up + {s['seconds']:g} s measured, {s['rounds']} round(s); "
        f"the session cookie on every request.",
        "NOTE: the generator shares the CPUs with the server; CPU is % of one CPU.",
        "",
        "1. Keep-alive load, one Toru server, signed in",
        f"   {'':34} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'bytes':>6}"
        f" {'CPU: server':>11} {'us/req':>6} {'generator':>10} {'other':>6}",
        load_row("GET /api/health", h["health"]),
        load_row("GET /api/resources", h["resources"]),
    ]
    if h["glances"]:
        lines.append(load_row(f"glances {gl['version']} GET {GLANCES_PATH}", h["glances"]))
    lines += [
        f"   resources/health req/s      {h['rps_ratio']:7.2f}     goal >= {GOALS['rps_ratio']}      "
        f"{mark(g['rps_ratio'])}",
        f"   resources p99               {h['resources']['p99_ms']:7.2f} ms  goal < {GOALS['p99_ms']:g} ms    "
        f"{mark(g['p99_ms'])}",
        f"   server CPU per request, resources/health {h['cpu_ratio']:.2f}x   (information: steadier than "
        f"req/s when other processes are busy)",
    ]
    if h["glances"]:
        lines.append(f"   resources/glances req/s     {h['glances_ratio']:7.1f}x    goal >= "
                     f"{GOALS['glances_ratio']:g}x       {mark(g['glances_ratio'])}")
    else:
        lines.append(f"   resources/glances req/s     not measured: {gl['why']}   {mark(None)}")
    q, sub = idle["quiet"], idle["subscribed"]
    lines += [
        "",
        f"2. Server CPU while idle, {s['idle_seconds']:g} s per window ({q['samples']:.0f} samples), % of one CPU",
        f"   {'toru, 0 subscribers':42} {q['cpu_pct']:6.2f}%   goal < {GOALS['idle_cpu_pct']:g}%   "
        f"{mark(g['idle_cpu_pct'])}   (other processes {q['other_cpu_pct']:.0f}%)",
        f"   {'toru, TORU_SAMPLE_INTERVAL=%d, same window' % REFERENCE_INTERVAL:42} {q['reference_cpu_pct']:6.2f}%"
        f"   reference: the sampler nearly off",
        f"   {'':42} -> ~{q['ms_per_sample']:.2f} ms of CPU per sample",
    ]
    if sub:
        lines.append(f"   {'toru, %d WebSocket subscribers' % sub['subscribers']:42} {sub['cpu_pct']:6.2f}%   "
                     f"goal < {GOALS['subscribed_cpu_pct']:g}%   {mark(g['subscribed_cpu_pct'])}   "
                     f"(other processes {sub['other_cpu_pct']:.0f}%)")
        lines.append(f"   {'':42} {sub['messages']} resources messages received ({sub['messages_min']}-"
                     f"{sub['messages_max']} per subscriber), {sub['other_messages']} other")
    else:
        lines.append(f"   toru, subscribers: not measured: {idle['why']}   {mark(None)}")
    lines += [""] + history_report(r)
    lines += ["", f"Toru RSS at the end of phase 2: {r['toru_rss_mib_after']:.1f} MiB; "
                  f"run took {r['noise']['wall_s']:.0f} s."]
    if r["noise"]["noisy"]:
        lines.append(f"WARNING: other processes took over {NOISY_PCT:g}% of a CPU during a load phase: "
                     "rerun on a quiet machine.")
    return "\n".join(lines)


def history_report(r):
    """Phase 3's lines: each shape's baseline and columnar rows, then their ratio."""
    s, hist, g = r["settings"], r["history"], r["goals"]
    lines = [f"3. History after a simulated 24 h ({s['history_points']:,} points {s['interval']:g} s apart), "
             f"each storage in a fresh process; toru from {r['history_from']}",
             f"   {'host cores/if/disks, storage':30} {'2s + 1min':>11} {'tracemalloc':>11} {'RSS growth':>10}"
             f" {'feed s':>7} {'1h answer':>10} {'24h answer':>10} {'1h JSON':>8}"]
    for name, by_storage in hist.items():
        for storage, x in by_storage.items():
            kept = f"{x['recent']} + {x['minutes']}"
            lines.append(f"   {name + ', ' + storage:30} {kept:>11} {x['traced'] / MIB:7.2f} MiB"
                         f" {x['rss_growth'] / MIB:6.2f} MiB {x['feed_s']:7.2f} {x['answer_1h_s'] * 1e3:7.1f} ms"
                         f" {x['answer_24h_s'] * 1e3:7.1f} ms {x['json_1h'] / 1024:4.0f} KiB")
        new, old = by_storage["columnar"], by_storage["baseline"]
        ratio = lambda key: new[key] / old[key] if old[key] else float("nan")  # noqa: E731
        lines.append(f"   {'  columnar / baseline':30} {'':>11} {ratio('traced'):10.2f}x {ratio('rss_growth'):9.2f}x"
                     f" {ratio('feed_s'):6.2f}x {ratio('answer_1h_s'):9.2f}x {ratio('answer_24h_s'):9.2f}x")
    goal = hist[GOAL_SHAPE]["columnar"]
    lines += [f"   {GOAL_SHAPE} columnar: {max(goal['rss_growth'], goal['traced']) / MIB:.2f} MiB (the larger of "
              f"RSS growth and traced)   goal < {GOALS['history_mib']:g} MiB   {mark(g['history_mib'])}",
              f"   answers (JSON included, fastest of {ANSWER_REPEATS}, taking turns): columnar <= baseline for every shape "
              f"and range   {mark(g['history_answer'])}"]
    return lines


def report_history_only(r):
    return "\n".join([f"Toru history benchmark (--history-only): CPython {r['python']}, {os.cpu_count()} CPUs", ""]
                     + history_report(r) + ["", f"run took {r['wall_s']:.0f} s."])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", default=str(ROOT / "dist" / "toru.pyz"), help="default dist/toru.pyz")
    parser.add_argument("--python", default="python3", help="interpreter for the servers (default python3)")
    parser.add_argument("--interval", type=float, default=2.0, help="TORU_SAMPLE_INTERVAL (default 2)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per load (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument("--processes", type=int, default=2, help="generator processes (default 2)")
    parser.add_argument("--rounds", type=int, default=1, help="load rounds, health and resources taking turns")
    parser.add_argument("--retries", type=int, default=2, help="extra tries of a disturbed load phase (default 2)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="each idle CPU window (default 60)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before an idle window (default 2)")
    parser.add_argument("--subscribers", type=int, default=20, help="WebSocket subscribers (default 20)")
    parser.add_argument("--history-points", type=int, default=DAY_POINTS, help="default 43200 (24 h at 2 s)")
    parser.add_argument("--no-glances", action="store_true", help="skip the Glances reference")
    parser.add_argument("--glances", help="a glances executable to use instead of installing one")
    parser.add_argument("--glances-venv", default=GLANCES_VENV, help=f"where to install it (default {GLANCES_VENV})")
    parser.add_argument("--glances-spec", default=GLANCES_SPEC, help=f"what to install (default {GLANCES_SPEC})")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary as the last line")
    parser.add_argument("--history-only", action="store_true",
                        help="only phase 3, with the checkout's toru/ on this interpreter (no pyz needed)")
    parser.add_argument("--history-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.history_child:
        return args
    if args.history_only:
        if args.history_points < 1 or not 0.1 <= args.interval <= 60:
            parser.exit(2, "resources_bench: need history-points >= 1, interval 0.1-60\n")
        return args
    if not Path(args.pyz).is_file():
        parser.exit(2, f"resources_bench: {args.pyz} not found: build it with ./build.sh\n")
    if not (1 <= args.processes <= args.connections and args.rounds >= 1 and args.seconds > 0
            and args.retries >= 0 and args.idle_seconds > 0 and args.subscribers >= 1
            and args.history_points >= 1 and 0.1 <= args.interval <= 60):
        parser.exit(2, "resources_bench: need connections >= processes >= 1, rounds >= 1, seconds > 0, "
                       "retries >= 0, idle-seconds > 0, subscribers >= 1, history-points >= 1, "
                       "interval 0.1-60\n")
    if str(Path(args.glances_venv).resolve()).startswith(str(ROOT)):
        parser.exit(2, "resources_bench: --glances-venv must be outside the repo\n")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.history_child:
        history_child(json.loads(args.history_child))
        return 0
    if args.history_only:
        return run_and_report("resources_bench", run_history_only, report_history_only, args)
    return run_and_report("resources_bench", run, report, args)


if __name__ == "__main__":
    sys.exit(main())
