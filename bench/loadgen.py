"""A closed-loop HTTP load generator for the benchmarks in bench/: worker
processes, each driving keep-alive `http.client` connections for a fixed
time, recording every request's latency. Stdlib plus psutil.

    summary, latencies = run_load(server_pid, port, Load(connections=8, processes=2))

It also reads CPU time of the server, of the generator and of the whole
machine, so a run disturbed by some other busy process can be seen (and
repeated: `run_quiet_load`).
"""

import http.client
import math
import multiprocessing
import queue
import signal
import statistics
import time
from array import array
from dataclasses import dataclass

import psutil

HOST = "127.0.0.1"
NOISY_PCT = 15.0  # CPU % (of one CPU) used by other processes that makes a phase suspect
FORK_GRACE = 0.3  # seconds to start the workers before the warm-up begins


class LoadError(Exception):
    """A generator process never reported its results."""


@dataclass(frozen=True)
class Load:
    connections: int
    processes: int
    warmup: float = 1.0
    seconds: float = 5.0
    method: str = "GET"
    path: str = "/api/health"
    body: bytes = None
    headers: tuple = ()  # (name, value) pairs

    def per_process(self):
        n, extra = divmod(self.connections, self.processes)
        return [n + (1 if i < extra else 0) for i in range(self.processes)]


def load_worker(port, load, nconn, t_measure, t_end, out):
    """One generator process: `nconn` keep-alive connections driven in
    lock-step (send on each, then read each), so nconn requests are in flight
    without threads. Latency = send to full body read, kept for requests sent
    after `t_measure` and finished by `t_end`. Anything but a 2xx is an error."""
    # Ctrl-C reaches the whole process group: the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conns = [http.client.HTTPConnection(HOST, port, timeout=5) for _ in range(nconn)]
    headers = dict(load.headers)
    lat, errors, cpu0 = array("d"), 0, None
    try:
        while (now := time.monotonic()) < t_end:
            if cpu0 is None and now >= t_measure:
                cpu0 = time.process_time()
            sent = []
            for c in conns:
                try:
                    c.request(load.method, load.path, body=load.body, headers=headers)
                    sent.append((c, time.monotonic()))
                except OSError:
                    errors += 1
                    c.close()
            for c, t_sent in sent:
                try:
                    res = c.getresponse()
                    res.read()
                    ok = 200 <= res.status < 300
                except (OSError, http.client.HTTPException):
                    ok = False
                    c.close()  # http.client reconnects on the next request
                t_done = time.monotonic()
                if not ok:
                    errors += 1
                elif t_sent >= t_measure and t_done <= t_end:
                    lat.append((t_done - t_sent) * 1000.0)
        cpu = time.process_time() - cpu0 if cpu0 is not None else 0.0
        out.put((lat.tobytes(), errors, cpu))
    finally:
        for c in conns:
            c.close()


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(q / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def busy_cpu_seconds():
    """CPU seconds this machine spent busy so far, all CPUs together."""
    t = psutil.cpu_times()._asdict()
    # Linux counts guest time inside user time already; idle and iowait are not busy.
    return sum(v for k, v in t.items() if k not in ("idle", "iowait", "guest", "guest_nice"))


def run_load(server_pid, port, load):
    """Warm up, then measure `load.seconds`; returns (summary, sorted
    latencies in ms). CPU percentages are of one CPU."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    t_measure = time.monotonic() + FORK_GRACE + load.warmup
    t_end = t_measure + load.seconds
    workers = [ctx.Process(target=load_worker, args=(port, load, n, t_measure, t_end, out), daemon=True)
               for n in load.per_process()]
    server = psutil.Process(server_pid)
    finished = False
    try:
        for w in workers:
            w.start()
        time.sleep(max(0.0, t_measure - time.monotonic()))
        cpu_before, busy_before = sum(server.cpu_times()[:2]), busy_cpu_seconds()
        time.sleep(max(0.0, t_end - time.monotonic()))
        cpu_after, busy_after = sum(server.cpu_times()[:2]), busy_cpu_seconds()
        try:
            results = [out.get(timeout=15) for _ in workers]
        except queue.Empty:
            raise LoadError(f"a load generator process did not report within 15 s of the end "
                            f"(port {port})") from None
        finished = True
    finally:
        for w in workers:
            if finished:
                w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
    lat = array("d")
    for raw, _, _ in results:
        lat.frombytes(raw)
    values = sorted(lat)
    server_cpu, generator_cpu = cpu_after - cpu_before, sum(r[2] for r in results)
    other_cpu = max(0.0, (busy_after - busy_before) - server_cpu - generator_cpu)
    pct = lambda cpu: 100.0 * cpu / load.seconds  # noqa: E731
    return {"connections": load.connections, "requests": len(values), "rps": len(values) / load.seconds,
            "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "errors": sum(r[1] for r in results), "server_cpu_pct": pct(server_cpu),
            "generator_cpu_pct": pct(generator_cpu), "other_cpu_pct": pct(other_cpu)}, values


def run_quiet_load(server_pid, port, load, retries):
    """`run_load`, again (up to `retries` times) while other processes on
    this machine take more than NOISY_PCT of a CPU; keeps the quietest try."""
    best = None
    for attempt in range(1 + retries):
        summary, values = run_load(server_pid, port, load)
        summary["attempts"] = attempt + 1
        if best is None or summary["other_cpu_pct"] < best[0]["other_cpu_pct"]:
            best = summary, values
        if summary["other_cpu_pct"] <= NOISY_PCT:
            break
    return best


def combine(rounds):
    """Several (summary, latencies) rounds of one server: median req/s,
    percentiles over all latencies, CPU figures averaged."""
    summaries = [r[0] for r in rounds]
    values = sorted(v for r in rounds for v in r[1])
    mean = lambda key: statistics.fmean(s[key] for s in summaries)  # noqa: E731
    return {"connections": summaries[0]["connections"], "rounds": len(rounds),
            "rps": statistics.median(s["rps"] for s in summaries),
            "rps_rounds": [s["rps"] for s in summaries], "requests": len(values),
            "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "errors": sum(s["errors"] for s in summaries),
            "server_cpu_pct": mean("server_cpu_pct"), "generator_cpu_pct": mean("generator_cpu_pct"),
            "other_cpu_pct": mean("other_cpu_pct"), "attempts": sum(s["attempts"] for s in summaries)}
