"""Toru's HTTP benchmark: the built pyz against a bare gevent baseline, both
measured in this one run, on 127.0.0.1 only.

    python3 bench/http_bench.py [--pyz dist/toru.pyz] [--seconds 5] [--connections 8] [--json]

1. keep-alive load on GET /api/health vs bench/baseline_server.py
   and a bare Bottle app (requests/s, p50, p99; goals: toru/baseline >= 0.85
   (issue 16), p99 < 5 ms);
2. idle RSS of the pyz vs a bare python that imported gevent, bottle and
   psutil (goal: <= 1.5x);
3. start -> first 200 of the pyz, cold (fresh SHIV_ROOT and data directory:
   unpacks the pyz; median of 3; goal: <= 0.8 s) and warm (median of 5;
   goal: <= 0.3 s), with the server's CPU seconds at that moment.

Benchmarks inform, they do not gate: the exit status is 0 unless something
crashed. Every process it starts is stopped by PID in a `finally`.
Stdlib only plus psutil; the servers run on the interpreter that `python3`
resolves to (the pyz's own), and the baseline imports gevent from the
site-packages the pyz unpacked, so both sides use the same interpreter and
the same gevent.
"""

import argparse
import glob
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import psutil
except ImportError:
    sys.exit("http_bench: needs psutil: run it with .venv-test/bin/python (./build.sh test makes it)")

from loadgen import HOST, NOISY_PCT, Load, LoadError, busy_cpu_seconds, combine, run_quiet_load

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PATH = "/api/health"
ADMIN_PASSWORD = "bench-password-123456"
READY_TIMEOUT = 60.0  # a cold start unpacks the pyz first
STOP_TIMEOUT = 10.0
MIB = 1024 * 1024
GOALS = {"rps_ratio": 0.85, "p99_ms": 5.0, "rss_ratio": 1.5, "warm_start_s": 0.3, "cold_start_s": 0.8}


class BenchError(Exception):
    """Something the benchmark needs did not happen (a server that never got
    ready, a bare interpreter that never finished its imports)."""


# --- processes we start -----------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def real_python(name):
    """`python3` may be a pyenv shim (a shell script): timing a start through
    it would measure pyenv. Ask the interpreter where it really lives."""
    found = shutil.which(name) or name
    out = subprocess.run([found, "-c", "import sys; print(sys.executable)"],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TORU_", "STEERING_", "ADMIN_", "PYTHON", "SHIV_", "GEVENT_"))}
    env.update(extra)
    return env


class Started:
    """One process this run started; `stop()` signals it by PID and waits."""

    def __init__(self, name, cmd, env, cwd, log_path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid

    def log_tail(self):
        try:
            return Path(self.log_path).read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self):
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._log.close()


class Processes:
    """Everything started, so the top-level `finally` can stop it all."""

    def __init__(self):
        self.started = []

    def start(self, *args):
        p = Started(*args)
        self.started.append(p)
        return p

    def stop(self, p):
        p.stop()
        self.started.remove(p)

    def stop_all(self):
        while self.started:
            self.stop(self.started[-1])


def health_ok(port, timeout=1.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", PATH)
        res = conn.getresponse()
        res.read()
        return res.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_ready(p, port, interval=0.005):
    """Poll /api/health every `interval` s; return seconds since spawn."""
    deadline = p.t0 + READY_TIMEOUT
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            raise BenchError(f"{p.name} exited with {p.proc.returncode}:\n{p.log_tail()}")
        if health_ok(port):
            return time.monotonic() - p.t0
        time.sleep(interval)
    raise BenchError(f"{p.name} not ready after {READY_TIMEOUT:.0f}s:\n{p.log_tail()}")


class Setup:
    """Paths and commands shared by every phase."""

    def __init__(self, args, tmp):
        self.python = real_python(args.python)
        self.tmp = Path(tmp)
        # A copy: ./build.sh may replace dist/toru.pyz mid-run (a new build id
        # would unpack again and spoil the warm starts).
        self.pyz = str(self.tmp / "toru.pyz")
        shutil.copy2(args.pyz, self.pyz)
        self.shiv_root = self.tmp / "shiv"
        self.data_dir = self.tmp / "data"
        self.site_packages = None  # known after the first (cold) start

    def toru_env(self, shiv_root=None):
        return clean_env(ADMIN_PASSWORD=ADMIN_PASSWORD, SHIV_ROOT=str(shiv_root or self.shiv_root))

    def start_toru(self, procs, shiv_root=None, data_dir=None):
        port = free_port()
        data_dir = data_dir or self.data_dir
        cmd = [self.python, self.pyz, "--data-dir", str(data_dir), "--port", str(port)]
        p = procs.start("toru.pyz", cmd, self.toru_env(shiv_root), str(self.tmp),
                        self.tmp / f"toru-{port}.log")
        return p, port

    def baseline_cmd_env(self):
        """The pyz's interpreter with the pyz's unpacked libraries, if found."""
        if self.site_packages:
            return self.python, clean_env(PYTHONPATH=self.site_packages)
        return sys.executable, clean_env()

    def find_site_packages(self):
        found = glob.glob(str(self.shiv_root / "*" / "site-packages"))
        self.site_packages = found[0] if len(found) == 1 else None


def run_http(setup, procs, toru, toru_port, args):
    """Baseline and Toru (already started and idle-measured) take turns:
    `args.rounds` times the full load, then one connection alone for the
    latency of a request that does not queue behind others."""
    python, env = setup.baseline_cmd_env()
    port, bottle_port = free_port(), free_port()
    base = procs.start("baseline", [python, str(HERE / "baseline_server.py"), "--port", str(port)],
                       env, str(setup.tmp), setup.tmp / "baseline.log")
    bare = procs.start("bare bottle", [python, str(HERE / "baseline_server.py"), "--port", str(bottle_port),
                                       "--bottle"], env, str(setup.tmp), setup.tmp / "bottle.log")
    wait_ready(base, port)
    wait_ready(bare, bottle_port)
    servers = {"baseline": (base.pid, port), "bottle": (bare.pid, bottle_port), "toru": (toru.pid, toru_port)}
    full = Load(args.connections, args.processes, args.warmup, args.seconds, path=PATH)
    loaded = {name: [] for name in servers}
    for _ in range(args.rounds):
        for name, (pid, p) in servers.items():
            loaded[name].append(run_quiet_load(pid, p, full, args.retries))
    one = Load(1, 1, args.warmup, args.single_seconds, path=PATH)
    single = {name: run_quiet_load(pid, p, one, args.retries)[0]
              for name, (pid, p) in servers.items()} if args.single_seconds > 0 else {}
    procs.stop(base)
    procs.stop(bare)
    result = {name: combine(rounds) for name, rounds in loaded.items()}
    b, t = result["baseline"]["rps"], result["toru"]["rps"]
    nan = float("nan")
    return dict(result, rps_ratio=t / b if b else nan, single_connection=single,
                bottle_ratio=result["bottle"]["rps"] / b if b else nan,
                toru_bottle_ratio=t / result["bottle"]["rps"] if result["bottle"]["rps"] else nan)


# --- the three measurements -------------------------------------------------

def timed_start(setup, procs, shiv_root=None, data_dir=None):
    """Seconds from spawn to the first 200, and the CPU seconds the server
    had used by then (steadier than wall time while other work runs)."""
    p, port = setup.start_toru(procs, shiv_root, data_dir)
    wall = wait_ready(p, port)
    times = psutil.Process(p.pid).cpu_times()  # children: shiv's old first start compiled in a pool
    procs.stop(p)
    return wall, times.user + times.system + times.children_user + times.children_system


def measure_starts(setup, procs, args):
    """`args.cold_starts` cold starts (each on a fresh SHIV_ROOT and data
    dir: unpacks the pyz, creates the database; the first one's stay for the
    rest of the run), then `args.starts` warm restarts on those."""
    cold = [timed_start(setup, procs)]
    for i in range(1, args.cold_starts):
        fresh = setup.tmp / f"cold-{i}"
        cold.append(timed_start(setup, procs, fresh / "shiv", fresh / "data"))
    setup.find_site_packages()
    warm = [timed_start(setup, procs) for _ in range(args.starts)]
    return {"cold_s": [w for w, _ in cold], "cold_cpu_s": [c for _, c in cold],
            "cold_median_s": statistics.median(w for w, _ in cold),
            "warm_s": [w for w, _ in warm], "warm_cpu_s": [c for _, c in warm],
            "warm_median_s": statistics.median(w for w, _ in warm)}


def rss_tree(pid):
    proc = psutil.Process(pid)
    children = proc.children(recursive=True)
    return proc.memory_info().rss + sum(c.memory_info().rss for c in children), len(children)


def measure_bare_rss(setup, procs, idle):
    """A bare interpreter that imported what Toru runs on, started the same
    way; it prints once the imports are done so idling starts from there."""
    python, env = setup.baseline_cmd_env()
    code = "import gevent, bottle, psutil, time; print('imported', flush=True); time.sleep(60)"
    p = procs.start("bare python", [python, "-c", code], env, str(setup.tmp), setup.tmp / "bare.log")
    deadline = time.monotonic() + READY_TIMEOUT
    while "imported" not in p.log_tail():
        if p.proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"bare python did not import gevent, bottle, psutil:\n{p.log_tail()}")
        time.sleep(0.01)
    time.sleep(idle)
    rss, _ = rss_tree(p.pid)
    procs.stop(p)
    return rss


def own_cpu_seconds():
    """CPU of this process and of every child it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(args):
    procs = Processes()
    busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
    wall0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toru-bench-") as tmp:
        try:
            setup = Setup(args, tmp)
            starts = measure_starts(setup, procs, args)
            toru, port = setup.start_toru(procs)
            wait_ready(toru, port)
            time.sleep(args.idle)
            toru_rss, children = rss_tree(toru.pid)
            bare_rss = measure_bare_rss(setup, procs, args.idle)
            http = run_http(setup, procs, toru, port, args)
            toru_rss_after, _ = rss_tree(toru.pid)
        finally:
            procs.stop_all()
        others = (busy_cpu_seconds() - busy0) - (own_cpu_seconds() - own0)
        phases = [http["baseline"], http["bottle"], http["toru"], *http["single_connection"].values()]
        noise = {"other_cpu_pct": max(0.0, 100.0 * others / (time.monotonic() - wall0)),
                 "wall_s": time.monotonic() - wall0,
                 "noisy": max(x["other_cpu_pct"] for x in phases) > NOISY_PCT}
        rss = {"toru_mib": toru_rss / MIB, "bare_mib": bare_rss / MIB, "ratio": toru_rss / bare_rss,
               "toru_children": children, "toru_after_load_mib": toru_rss_after / MIB}
        return {"machine": machine(setup), "settings": settings(args), "noise": noise,
                "http": http, "rss": rss, "start": starts, "goals": verdicts(http, rss, starts)}


def run_starts(args):
    """--start-only: the cold and warm starts alone (about 10 s)."""
    procs = Processes()
    busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
    wall0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toru-bench-") as tmp:
        try:
            setup = Setup(args, tmp)
            starts = measure_starts(setup, procs, args)
        finally:
            procs.stop_all()
    others = (busy_cpu_seconds() - busy0) - (own_cpu_seconds() - own0)
    return {"machine": machine(setup), "settings": settings(args), "start": starts,
            "goals": start_verdicts(starts),
            "noise": {"other_cpu_pct": max(0.0, 100.0 * others / (time.monotonic() - wall0)),
                      "wall_s": time.monotonic() - wall0}}


# --- report ------------------------------------------------------------------

def machine(setup):
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run([setup.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu_model": model, "python": version,
            "python_path": setup.python, "kernel": platform.release(),
            "baseline_gevent_from": setup.site_packages or sys.executable}


def settings(args):
    return {"seconds": args.seconds, "warmup": args.warmup, "connections": args.connections,
            "rounds": args.rounds, "single_seconds": args.single_seconds, "retries": args.retries,
            "processes": args.processes, "starts": args.starts, "cold_starts": args.cold_starts, "idle_s": args.idle, "pyz": args.pyz}


def verdicts(http, rss, starts):
    return {"rps_ratio": http["rps_ratio"] >= GOALS["rps_ratio"],
            "p99_ms": http["toru"]["p99_ms"] < GOALS["p99_ms"],
            "rss_ratio": rss["ratio"] <= GOALS["rss_ratio"],
            **start_verdicts(starts)}


def start_verdicts(starts):
    return {kind: starts[f"{kind[:4]}_median_s"] <= GOALS[kind] for kind in ("cold_start_s", "warm_start_s")}


def mark(ok):
    return "PASS" if ok else "FAIL"


def http_rows(h, g):
    head = (f"   {'':30} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
            f" {'CPU: server':>11} {'generator':>9} {'other':>6}")
    rows = [head]
    labelled = [("baseline (bare gevent)", h["baseline"]), ("bare Bottle (the floor, info)", h["bottle"]),
                ("toru.pyz", h["toru"])]
    labelled += [(f"{name}, 1 connection (info)", x) for name, x in h["single_connection"].items()]
    for label, x in labelled:
        rows.append(f"   {label:30} {x['connections']:5d} {x['rps']:7.0f} {x['p50_ms']:7.2f}"
                    f" {x['p99_ms']:7.2f} {x['errors']:6d} {x['server_cpu_pct']:10.0f}%"
                    f" {x['generator_cpu_pct']:8.0f}% {x['other_cpu_pct']:5.0f}%")
    rows += [f"   toru/baseline req/s  {h['rps_ratio']:6.2f}     goal >= {GOALS['rps_ratio']}"
             f"    {mark(g['rps_ratio'])}",
             f"   bare Bottle/baseline {h['bottle_ratio']:6.2f}     (information: any Bottle app's ceiling here)",
             f"   toru/bare Bottle     {h['toru_bottle_ratio']:6.2f}     (information: what Toru adds to Bottle)",
             f"   toru p99             {h['toru']['p99_ms']:6.2f} ms  goal < {GOALS['p99_ms']:g} ms"
             f"   {mark(g['p99_ms'])}"]
    return rows


def start_rows(st, g):
    rows = []
    for kind, label in (("cold", "cold (fresh SHIV_ROOT and data dir)"), ("warm", "warm (unpacked, data dir made)")):
        goal = GOALS[f"{kind}_start_s"]
        rows += [f"   {label}, median of {len(st[f'{kind}_s'])}: {st[f'{kind}_median_s']:.3f} s"
                 f" = {st[f'{kind}_median_s'] / goal:.2f} of the goal {goal} s   {mark(g[f'{kind}_start_s'])}",
                 f"      s:     {' '.join(f'{x:.3f}' for x in st[f'{kind}_s'])}",
                 f"      CPU s: {' '.join(f'{x:.3f}' for x in st[f'{kind}_cpu_s'])}"]
    return rows


def noise_rows(r):
    h, s, noise = r["http"], r["settings"], r["noise"]
    phases = [h["baseline"], h["bottle"], h["toru"], *h["single_connection"].values()]
    retries = sum(x["attempts"] for x in phases) - len(phases) - (s["rounds"] - 1) * 2
    rows = [f"Other processes on this machine used {noise['other_cpu_pct']:.0f}% of a CPU on "
            f"average during this {noise['wall_s']:.0f} s run; a load phase runs again while "
            f"they take over {NOISY_PCT:g}% ({retries} retries)."]
    if noise["noisy"]:
        worst = max(x["other_cpu_pct"] for x in phases)
        rows.append(f"WARNING: other processes still took {worst:.0f}% of a CPU during a load phase: "
                    "rerun on a quiet machine.")
    return rows


def report(r):
    m, s, h, rss, st, g = r["machine"], r["settings"], r["http"], r["rss"], r["start"], r["goals"]
    lines = [
        f"Toru HTTP benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, "
        f"Linux {m['kernel']}",
        f"Load generator: {s['connections']} keep-alive connections over {s['processes']} processes, "
        f"{s['warmup']:g} s warm-up + {s['seconds']:g} s measured, {s['rounds']} round(s), "
        "baseline and toru taking turns.",
        f"NOTE: the generator runs on the same {m['nproc']} CPUs as the server, so absolute numbers "
        "are a floor; CPU is % of one CPU.",
        "",
        f"1. Keep-alive GET {PATH}",
        *http_rows(h, g),
        "",
        f"2. Idle RSS after {s['idle_s']:g} s idle (with children)",
        f"   {'bare python (import gevent, bottle, psutil)':45} {rss['bare_mib']:6.1f} MiB",
        f"   {'toru.pyz (%d children)' % rss['toru_children']:45} {rss['toru_mib']:6.1f} MiB"
        f"   (after the load: {rss['toru_after_load_mib']:.1f} MiB)",
        f"   ratio {rss['ratio']:.2f}x   goal <= {GOALS['rss_ratio']}x   {mark(g['rss_ratio'])}",
        "",
        f"3. Start -> first 200 on {PATH} (polled every 5 ms)",
        *start_rows(st, g),
        "",
        *noise_rows(r),
    ]
    return "\n".join(lines)


def report_starts(r):
    m, noise = r["machine"], r["noise"]
    return "\n".join([
        f"Toru start benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, Linux {m['kernel']}",
        "",
        f"3. Start -> first 200 on {PATH} (polled every 5 ms)",
        *start_rows(r["start"], r["goals"]),
        "",
        f"Other processes on this machine used {noise['other_cpu_pct']:.0f}% of a CPU on average during this "
        f"{noise['wall_s']:.0f} s run (the CPU seconds above are the server's own, whatever they did)."])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", default=str(ROOT / "dist" / "toru.pyz"), help="default dist/toru.pyz")
    parser.add_argument("--python", default="python3", help="interpreter for the servers (default python3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per server (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per server (default 1)")
    parser.add_argument("--connections", type=int, default=8,
                        help="keep-alive connections in total (default 8)")
    parser.add_argument("--processes", type=int, default=2, help="generator processes (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="full-load rounds per server, taking turns (default 1)")
    parser.add_argument("--single-seconds", type=float, default=3.0,
                        help="seconds of one-connection load per server, 0 to skip (default 3)")
    parser.add_argument("--retries", type=int, default=2,
                        help="extra tries of a load phase while other processes are busy (default 2)")
    parser.add_argument("--starts", type=int, default=5, help="warm starts to time (default 5)")
    parser.add_argument("--cold-starts", type=int, default=3,
                        help="cold starts to time, each on a fresh SHIV_ROOT (default 3)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle seconds before reading RSS (default 2)")
    parser.add_argument("--start-only", action="store_true", help="time the starts only (section 3)")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary as the last line")
    args = parser.parse_args(argv)
    if not Path(args.pyz).is_file():
        parser.exit(2, f"http_bench: {args.pyz} not found: build it with ./build.sh\n")
    if not (1 <= args.processes <= args.connections and min(args.starts, args.cold_starts, args.rounds) >= 1
            and args.seconds > 0 and args.retries >= 0):
        parser.exit(2, "http_bench: need connections >= processes >= 1, starts, cold starts and rounds >= 1, "
                       "seconds > 0 and retries >= 0\n")
    return args


def run_and_report(name, run, report, args):
    """The shared tail of every benchmark's main(): run, print, --json."""
    # SIGTERM unwinds like Ctrl-C, through the `finally` that stops our processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        result = run(args)
    except (BenchError, LoadError) as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    print(report(result), flush=True)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.start_only:
        return run_and_report("http_bench", run_starts, report_starts, args)
    return run_and_report("http_bench", run, report, args)


if __name__ == "__main__":
    sys.exit(main())
