"""Login load vs the rest of the server: does argon2 stall other requests?

    python3 bench/login_bench.py [--pyz dist/toru.pyz] [--seconds 5] [--logins 50] [--json]

Starts the built pyz on 127.0.0.1, then measures GET /api/health latency
from one keep-alive connection twice in this run: idle, and while `--logins`
clients sign in concurrently in a loop (a separate process, each login a
full argon2id verification). Goals: p99 under login load < 50 ms and
<= 10x the idle p99. Informs, does not gate: exit status 0 unless
something crashed; every process started is stopped by PID.
"""

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import (ADMIN_PASSWORD, HOST, PATH, Processes, Setup,  # noqa: E402
                        wait_ready)

GOALS = {"p99_ms": 50.0, "p99_ratio": 10.0}


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def probe(port, seconds):
    """Latencies (ms) of sequential keep-alive GETs for `seconds`."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    latencies, deadline = [], time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            conn.request("GET", PATH)
            res = conn.getresponse()
            res.read()
            latencies.append((time.perf_counter() - started) * 1000)
            assert res.status == 200
            time.sleep(0.002)  # a steady probe, not a load
    finally:
        conn.close()
    return latencies


def login_worker(port, clients, seconds, counts):
    """Run in its own process: `clients` threads signing in until the deadline."""
    deadline = time.monotonic() + seconds
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    headers = {"Content-Type": "application/json", "Origin": f"http://{HOST}:{port}"}
    done = [0] * clients
    failed = [0] * clients

    def loop(i):
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                conn.request("POST", "/api/auth/login", body, headers)
                res = conn.getresponse()
                res.read()
                if res.status == 200:
                    done[i] += 1
                else:
                    failed[i] += 1
            except OSError:
                failed[i] += 1
            finally:
                conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts.put((sum(done), sum(failed)))


def run(args):
    procs = Processes()
    with tempfile.TemporaryDirectory(prefix="toru-login-bench-") as tmp:
        setup = Setup(args, tmp)
        try:
            toru, port = setup.start_toru(procs)
            wait_ready(toru, port)
            probe(port, 1.0)  # warm up
            idle = probe(port, args.seconds)
            counts = multiprocessing.Queue()
            load = multiprocessing.Process(target=login_worker, args=(port, args.logins, args.seconds + 1, counts))
            load.start()
            try:
                time.sleep(0.5)  # let every client start its first login
                loaded = probe(port, args.seconds)
                logins, failed = counts.get(timeout=args.seconds + 60)
            finally:
                load.join(timeout=30)
                if load.is_alive():
                    load.terminate()
        finally:
            procs.stop_all()
    idle_p99, loaded_p99 = percentile(idle, 0.99), percentile(loaded, 0.99)
    return {
        "logins_concurrent": args.logins, "seconds": args.seconds,
        "idle": {"requests": len(idle), "p50_ms": percentile(idle, 0.5), "p99_ms": idle_p99},
        "under_logins": {"requests": len(loaded), "p50_ms": percentile(loaded, 0.5), "p99_ms": loaded_p99,
                         "logins": logins, "logins_per_s": logins / (args.seconds + 1), "login_errors": failed},
        "p99_ratio": loaded_p99 / idle_p99 if idle_p99 else float("inf"),
    }


def report(r):
    ok_abs = r["under_logins"]["p99_ms"] < GOALS["p99_ms"]
    ok_ratio = r["p99_ratio"] <= GOALS["p99_ratio"]
    print(f"GET {PATH} latency from one keep-alive client, {r['seconds']} s each, 127.0.0.1")
    print(f"{'':24} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, key in (("idle", "idle"), (f"{r['logins_concurrent']} concurrent logins", "under_logins")):
        row = r[key]
        print(f"{name:24} {row['requests']:>9} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    u = r["under_logins"]
    print(f"logins completed: {u['logins']} ({u['logins_per_s']:.1f}/s), errors: {u['login_errors']}")
    print(f"p99 under login load {u['p99_ms']:.2f} ms  (goal < {GOALS['p99_ms']:.0f} ms)  "
          f"{'PASS' if ok_abs else 'FAIL'}")
    print(f"p99 ratio loaded/idle {r['p99_ratio']:.2f}x  (goal <= {GOALS['p99_ratio']:.0f}x)  "
          f"{'PASS' if ok_ratio else 'FAIL'}")
    print("note: the login clients, the probe and the server share this machine's cores")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyz", default=str(Path(__file__).resolve().parent.parent / "dist" / "toru.pyz"))
    parser.add_argument("--python", default="python3", help="interpreter that runs the pyz")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
