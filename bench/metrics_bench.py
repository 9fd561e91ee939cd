"""Toru's /metrics benchmark: a Prometheus scrape against /api/health on the
same server, both with an API token, measured in this one run on 127.0.0.1.

    python3 bench/metrics_bench.py [--pyz dist/toru.pyz | --checkout] [--rounds 3] [--json]

One keep-alive connection (a scraper is one client), taking turns:
- GET /api/health with `Authorization: Bearer <metrics token>` (a public
  route: the token is sent, not checked);
- GET /metrics with the token, text format 0.0.4 (no Accept header);
- GET /metrics with the token and Prometheus's own Accept header, which
  asks for OpenMetrics first;
- for information, GET /metrics without a token on a second server started
  with TORU_METRICS_PUBLIC=1: what is left is the scrape itself.
Goals for both /metrics rows with the token: req/s >= 0.8x /api/health's,
p99 < 5 ms.

`--checkout` runs `toru.py` from this checkout with the interpreter running
the script (its venv must have requirements.txt), for a change not yet in
a built pyz. `--log-level warn` runs the server without info lines: each
token use writes one (`api token used`), and that line costs more than the
scrape itself (docs/benchmarks.md shows both).

Benchmarks inform, they do not gate: the exit status is 0 unless something
crashed. Every process it starts is stopped by PID in a `finally`.
Needs psutil (.venv-test has it).
"""

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import (ROOT, BenchError, Processes, Setup, clean_env, free_port, machine,  # noqa: E402
                        run_and_report, wait_ready, ADMIN_PASSWORD)
from loadgen import HOST, NOISY_PCT, Load, combine, run_quiet_load  # noqa: E402
from resources_bench import COOKIE, login, wait_sampled  # noqa: E402

GOALS = {"rps_ratio": 0.8, "p99_ms": 5.0}
# What Prometheus 2.x sends (scrape.go's default scrape protocols).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                     "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
TARGETS = (("health", "/api/health", None), ("metrics", "/metrics", None),
           ("openmetrics", "/metrics", PROMETHEUS_ACCEPT))
ACCEPT = {name: accept for name, _, accept in TARGETS}


def prepare(args, tmp):
    """http_bench's Setup (a copy of the pyz), or the checkout's toru.py run
    by this interpreter."""
    if not args.checkout:
        return Setup(args, tmp)
    return SimpleNamespace(tmp=Path(tmp), python=sys.executable, site_packages=None,
                           program=[sys.executable, str(ROOT / "toru.py")],
                           toru_env=lambda: clean_env(ADMIN_PASSWORD=ADMIN_PASSWORD))


def start_toru(setup, procs, name, **env):
    port = free_port()
    program = getattr(setup, "program", None) or [setup.python, setup.pyz]
    p = procs.start(name, program + ["--data-dir", str(setup.tmp / name), "--port", str(port)],
                    dict(setup.toru_env(), **env), str(setup.tmp), setup.tmp / f"{name}.log")
    wait_ready(p, port)
    return p, port


def metrics_token(port, session):
    """A `metrics`-scope API token, made by the signed-in admin."""
    body = json.dumps({"name": "bench", "scopes": ["metrics"]}).encode()
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/api/tokens", body, {"Content-Type": "application/json", "Cookie": f"{COOKIE}={session}",
                                                   "Origin": f"http://{HOST}:{port}"})
        res = conn.getresponse()
        text = res.read()
    finally:
        conn.close()
    if res.status != 201:
        raise BenchError(f"POST /api/tokens answered {res.status}: {text[:300]!r}")
    return json.loads(text)["secret"]


def scrape(port, token, accept=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"}
    if accept:
        headers["Accept"] = accept
    try:
        conn.request("GET", "/metrics", headers=headers)
        res = conn.getresponse()
        body = res.read()
    finally:
        conn.close()
    if res.status != 200:
        raise BenchError(f"GET /metrics answered {res.status}: {body[:300]!r}")
    return {"bytes": len(body), "samples": sum(1 for line in body.splitlines() if line and not line.startswith(b"#")),
            "content_type": res.getheader("Content-Type")}


def run_http(toru, token, public, args):
    """The three targets on `toru`, and (information) /metrics without a
    token on `public`, a second server with TORU_METRICS_PUBLIC=1: the
    difference is what checking the token costs."""
    auth = ("Authorization", f"Bearer {token}")
    loads = {name: (toru, Load(1, 1, args.warmup, args.seconds, path=path,
                               headers=(auth,) + ((("Accept", accept),) if accept else ())))
             for name, path, accept in TARGETS}
    loads["public"] = (public, Load(1, 1, args.warmup, args.seconds, path="/metrics"))
    rounds = {name: [] for name in loads}
    for _ in range(args.rounds):
        for name, ((server, server_port), load) in loads.items():
            rounds[name].append(run_quiet_load(server.pid, server_port, load, args.retries))
    result = {name: combine(r) for name, r in rounds.items()}
    health = result["health"]["rps"]
    result["public"]["rps_ratio"] = result["public"]["rps"] / health if health else float("nan")
    for name in ("metrics", "openmetrics"):
        result[name]["rps_ratio"] = result[name]["rps"] / health if health else float("nan")
        result[name]["shape"] = scrape(toru[1], token, ACCEPT[name])
    return result


def run(args):
    procs = Processes()
    wall0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toru-metrics-bench-") as tmp:
        try:
            setup = prepare(args, tmp)
            level = {"TORU_LOG_LEVEL": args.log_level} if args.log_level else {}
            toru, port = start_toru(setup, procs, "toru", **level)
            public = start_toru(setup, procs, "public", TORU_METRICS_PUBLIC="1", **level)
            session = login(port)
            wait_sampled(port, {"Cookie": f"{COOKIE}={session}"})
            wait_sampled(public[1], {"Cookie": f"{COOKIE}={login(public[1])}"})
            token = metrics_token(port, session)
            http = run_http((toru, port), token, public, args)
        finally:
            procs.stop_all()
        info = machine(setup)
    noise = {"wall_s": time.monotonic() - wall0,
             "noisy": max(http[name]["other_cpu_pct"] for name in ("health", "metrics", "openmetrics", "public"))
             > NOISY_PCT}
    goals = {f"{name}_{goal}": (http[name]["rps_ratio"] >= GOALS["rps_ratio"] if goal == "rps_ratio"
                                else http[name]["p99_ms"] < GOALS["p99_ms"])
             for name in ("metrics", "openmetrics") for goal in GOALS}
    return {"machine": info, "settings": {k: getattr(args, k) for k in ("pyz", "checkout", "seconds", "warmup",
                                                                         "rounds", "retries", "log_level")},
            "noise": noise, "http": http, "goals": goals}


def mark(ok):
    return "PASS" if ok else "FAIL"


def row(label, x):
    return (f"   {label:52} {x['rps']:7.0f} {x['p50_ms']:7.2f} {x['p99_ms']:7.2f} {x['errors']:6d}"
            f" {x['server_cpu_pct']:10.0f}% {1e4 * x['server_cpu_pct'] / x['rps'] if x['rps'] else 0:6.0f}"
            f" {x['generator_cpu_pct']:9.0f}% {x['other_cpu_pct']:5.0f}%")


def report(r):
    m, s, h, g = r["machine"], r["settings"], r["http"], r["goals"]
    shape = h["metrics"]["shape"]
    lines = [
        f"Toru /metrics benchmark: {m['nproc']} CPUs ({m['cpu_model']}), CPython {m['python']}, Linux {m['kernel']}; "
        f"{'checkout toru.py' if s['checkout'] else s['pyz']}; TORU_LOG_LEVEL={s['log_level'] or '(default)'}",
        f"One keep-alive connection, {s['warmup']:g} s warm-up + {s['seconds']:g} s measured, {s['rounds']} round(s) "
        f"taking turns; a metrics-scope API token on every request. /metrics: {shape['samples']} samples, "
        f"{shape['bytes']} bytes as text, {h['openmetrics']['shape']['bytes']} as OpenMetrics.",
        "NOTE: the generator shares the CPUs with the server; CPU is % of one CPU.",
        "",
        f"   {'':52} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU: server':>11} {'us/req':>6}"
        f" {'generator':>10} {'other':>6}",
        row("GET /api/health (token sent, not checked)", h["health"]),
        row("GET /metrics, text 0.0.4", h["metrics"]),
        row("GET /metrics, Prometheus's Accept (OpenMetrics)", h["openmetrics"]),
        row("GET /metrics, no token: TORU_METRICS_PUBLIC=1 (info)", h["public"]),
    ]
    for name, label in (("metrics", "text"), ("openmetrics", "OpenMetrics")):
        x = h[name]
        lines += [f"   {label + ' /metrics / health req/s':36} {x['rps_ratio']:7.2f}     goal >= {GOALS['rps_ratio']}"
                  f"    {mark(g[name + '_rps_ratio'])}",
                  f"   {label + ' /metrics p99':36} {x['p99_ms']:7.2f} ms  goal < {GOALS['p99_ms']:g} ms"
                  f"   {mark(g[name + '_p99_ms'])}"]
    lines.append(f"   public /metrics / health req/s       {h['public']['rps_ratio']:7.2f}     (information: the same "
                 "scrape without the token check, on a second server)")
    lines.append(f"Run took {r['noise']['wall_s']:.0f} s.")
    if r["noise"]["noisy"]:
        lines.append(f"WARNING: other processes took over {NOISY_PCT:g}% of a CPU during a load phase: "
                     "rerun on a quiet machine.")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyz", default=str(ROOT / "dist" / "toru.pyz"), help="default dist/toru.pyz")
    parser.add_argument("--checkout", action="store_true", help="run toru.py from this checkout instead of a pyz")
    parser.add_argument("--python", default="python3", help="interpreter for the pyz (default python3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per load (default 1)")
    parser.add_argument("--rounds", type=int, default=1, help="load rounds, the three targets taking turns")
    parser.add_argument("--retries", type=int, default=2, help="extra tries of a disturbed load phase (default 2)")
    parser.add_argument("--log-level", help="TORU_LOG_LEVEL for the server (default: Toru's, info); warn drops "
                        "the info line each token use writes")
    parser.add_argument("--json", action="store_true", help="also print a JSON summary as the last line")
    args = parser.parse_args(argv)
    if not args.checkout and not Path(args.pyz).is_file():
        parser.exit(2, f"metrics_bench: {args.pyz} not found: build it with ./build.sh, or pass --checkout\n")
    if not (args.rounds >= 1 and args.seconds > 0 and args.retries >= 0):
        parser.exit(2, "metrics_bench: need rounds >= 1, seconds > 0, retries >= 0\n")
    return args


def main(argv=None):
    return run_and_report("metrics_bench", run, report, parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
