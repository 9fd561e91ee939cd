"""System monitoring: one sampler greenlet takes a psutil snapshot every
`interval_s`, keeps the history, and pushes each snapshot to WebSocket
subscribers. Requests never sample: they read the latest snapshot.

psutil calls are syscalls; one snapshot takes ~1 ms here, but a hung network
mount would block `disk_usage` indefinitely, so sampling runs in gevent's
threadpool and the hub never waits on it. One sample at a time: a stuck one
delays the next sample, it never piles up threads.

Beside each snapshot the sampler keeps `Counters`: the raw cumulative
readings `/metrics` exposes the way node_exporter does (CPU seconds per core
and mode, bytes per disk, free swap, Toru's own RSS). They are read in the
same pass, so a scrape makes no syscall and agrees with `/api/resources`.
"""

import fnmatch
import json
import logging
import os
import platform
import re
import socket
import time
from dataclasses import dataclass, field

import bottle
import gevent
import psutil
from gevent import get_hub

from toru.errors import Invalid
from toru.monitor.history import History

log = logging.getLogger("toru.system")

DEFAULT_SKIP_FSTYPES = ("squashfs", "tmpfs", "devtmpfs", "overlay", "proc", "sysfs", "cgroup", "cgroup2",
                        "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "autofs",
                        "fusectl", "configfs", "bpf", "nsfs", "ramfs", "hugetlbfs", "efivarfs")
# Loopback, and the per-container veth pairs and bridges Docker makes: a
# Docker host would otherwise chart dozens of them instead of its real NICs.
DEFAULT_SKIP_INTERFACES = ("lo", "veth*", "docker*", "br-*")
SERIES = ("cpu", "cores", "mem", "swap", "load1", "net", "disk_io", "disk")
MAX_PROCESSES = 100
PROCESS_CACHE_S = 2.0
CMDLINE_MAX = 200
# node_exporter's default --collector.diskstats.device-exclude: partitions,
# RAM disks, loop and floppy devices would count the same bytes twice.
NOT_A_DISK = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rate(now, before, seconds):
    """Bytes per second from two counter readings; a counter that wrapped or
    was reset (it went down) gives 0, never a negative rate."""
    if before is None or seconds <= 0 or now < before:
        return 0.0
    return (now - before) / seconds


def name_matcher(patterns):
    """A test for names matching any of the shell-style `patterns`, compiled
    once: it runs on every interface at every sample."""
    if not patterns:
        return lambda name: False
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)).match


def host_info():
    """What does not change while we run: collected once."""
    uname = platform.uname()
    os_name = uname.system
    try:
        release = platform.freedesktop_os_release()
        os_name = release.get("PRETTY_NAME", os_name)
    except (OSError, AttributeError):
        pass
    return {"hostname": socket.gethostname(), "os": os_name, "kernel": uname.release,
            "cpu_model": cpu_model(), "cpu_count": psutil.cpu_count() or 1,
            "boot_time": psutil.boot_time()}


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class Counters:
    """The cumulative readings of one sample that the snapshot does not show:
    `cpu_times` (psutil's per-core scputimes), `disks` {device: (read bytes,
    written bytes)}, `swap_free` and `own_rss` (bytes)."""
    cpu_times: list = field(default_factory=list)
    disks: dict = field(default_factory=dict)
    swap_free: int = None
    own_rss: int = None


def own_rss():
    """This process's resident set, from one small /proc read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


class Sampler:
    """Reads the counters; keeps the previous reading to turn them into rates."""

    def __init__(self, skip_fstypes=None, skip_interfaces=None):
        """`skip_fstypes`: filesystem types, `skip_interfaces`: shell-style
        patterns of interface names ("veth*") left out; None: the defaults,
        () leaves nothing out."""
        self.skip_fstypes = set(DEFAULT_SKIP_FSTYPES if skip_fstypes is None else skip_fstypes)
        self.skips_interface = name_matcher(DEFAULT_SKIP_INTERFACES if skip_interfaces is None else skip_interfaces)
        self.previous = None  # (time, disk counters, {iface: counters})
        psutil.cpu_percent(percpu=True)  # prime: the first real call measures from here

    def sample(self):
        """The snapshot alone (what /api/resources shows)."""
        return self.read()[0]

    def read(self):
        """(snapshot, Counters) of one pass."""
        now = time.time()
        per_core = psutil.cpu_percent(percpu=True)
        vm, sw = psutil.virtual_memory(), psutil.swap_memory()
        disk_io = psutil.disk_io_counters()
        nets = {name: c for name, c in psutil.net_io_counters(pernic=True).items()
                if not self.skips_interface(name)}
        warming_up = self.previous is None
        seconds = 0 if warming_up else now - self.previous[0]
        prev_disk = None if warming_up else self.previous[1]
        prev_nets = {} if warming_up else self.previous[2]
        self.previous = (now, disk_io, nets)
        snapshot = {
            "timestamp": now,
            "warming_up": warming_up,
            "cpu_percent": round(sum(per_core) / len(per_core), 2) if per_core else 0.0,
            "cpu_per_core": per_core,
            "cpu_cores": [{"usage": usage} for usage in per_core],  # the original Toru's shape
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "memory_total": vm.total, "memory_available": vm.available, "memory_used": vm.used,
            "memory_percent": vm.percent,
            "memory_cached": getattr(vm, "cached", None), "memory_buffers": getattr(vm, "buffers", None),
            "swap_total": sw.total, "swap_used": sw.used, "swap_percent": sw.percent,
            "process_count": len(psutil.pids()),
            "disks": self.disks(),
            "disk_io": {
                "read_bytes": disk_io.read_bytes if disk_io else 0,
                "write_bytes": disk_io.write_bytes if disk_io else 0,
                "read_bytes_per_s": rate(disk_io.read_bytes, prev_disk and prev_disk.read_bytes, seconds)
                if disk_io else 0.0,
                "write_bytes_per_s": rate(disk_io.write_bytes, prev_disk and prev_disk.write_bytes, seconds)
                if disk_io else 0.0,
            },
            "networks": [{
                "interface": name, "received": c.bytes_recv, "transmitted": c.bytes_sent,
                "rx_bytes_per_s": rate(c.bytes_recv, prev_nets[name].bytes_recv if name in prev_nets else None, seconds),
                "tx_bytes_per_s": rate(c.bytes_sent, prev_nets[name].bytes_sent if name in prev_nets else None, seconds),
            } for name, c in sorted(nets.items())],
        }
        return snapshot, self.counters(sw)

    def counters(self, swap):
        """What /metrics adds to the snapshot just read (`swap`: its swap reading)."""
        per_disk = psutil.disk_io_counters(perdisk=True) or {}
        return Counters(cpu_times=psutil.cpu_times(percpu=True),
                        disks={name: (c.read_bytes, c.write_bytes) for name, c in sorted(per_disk.items())
                               if not NOT_A_DISK.match(name)},
                        swap_free=swap.free, own_rss=own_rss())

    def disks(self):
        found, seen = [], set()
        for part in psutil.disk_partitions(all=False):
            if part.fstype in self.skip_fstypes or part.mountpoint in seen:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue  # vanished or unreadable mount
            seen.add(part.mountpoint)
            # `name` is the original Toru's field for the device (sysinfo's disk name).
            found.append({"mount_point": part.mountpoint, "name": part.device, "device": part.device,
                          "fstype": part.fstype,
                          "total": usage.total, "used": usage.used, "free": usage.free,
                          "percent": usage.percent})
        return found


# Every field of a snapshot, unknown yet: the answer before the first sample.
WARMING_UP = {
    "warming_up": True, "cpu_percent": None, "cpu_per_core": [], "cpu_cores": [], "load_average": [None, None, None],
    "memory_total": None, "memory_available": None, "memory_used": None, "memory_percent": None,
    "memory_cached": None, "memory_buffers": None, "swap_total": None, "swap_used": None,
    "swap_percent": None, "process_count": None, "disks": [],
    "disk_io": {"read_bytes": None, "write_bytes": None, "read_bytes_per_s": None, "write_bytes_per_s": None},
    "networks": [],
}


def history_point(snapshot):
    """The chart values of one snapshot, compact."""
    return {
        "cpu": snapshot["cpu_percent"],
        "cores": snapshot["cpu_per_core"],
        "mem": snapshot["memory_percent"],
        "swap": snapshot["swap_percent"],
        "load1": snapshot["load_average"][0],
        "net": {n["interface"]: {"rx": n["rx_bytes_per_s"], "tx": n["tx_bytes_per_s"]} for n in snapshot["networks"]},
        "disk_io": {"read": snapshot["disk_io"]["read_bytes_per_s"], "write": snapshot["disk_io"]["write_bytes_per_s"]},
        "disk": {d["mount_point"]: d["percent"] for d in snapshot["disks"]},
    }


class Monitor:
    def __init__(self, topic, interval_s=2.0, skip_fstypes=None, skip_interfaces=None):
        self.interval_s = interval_s
        self.host = host_info()
        self.sampler = Sampler(skip_fstypes, skip_interfaces)
        self.history = History(interval_s)
        self.latest = None
        self.latest_json = None
        self.counters = None  # Counters of the latest sample, for /metrics
        self.topic = topic  # the "resources" live topic
        self.listeners = []  # fn(snapshot) after each sample is recorded (the alert engine's metric rules)
        self._processes = (0.0, {}, [])  # (taken at, {pid: Process}, rows)

    def _in_thread(self, fn):
        return get_hub().threadpool.apply(fn)

    def run(self):
        """The sampler greenlet: sample, record, push; at a steady pace."""
        next_at = time.monotonic()
        while True:
            try:
                self.record(*self._in_thread(self.sampler.read))
            except Exception:
                log.exception("sampling failed")
            next_at += self.interval_s
            gevent.sleep(max(0.0, next_at - time.monotonic()))

    def record(self, snapshot, counters=None):
        snapshot.update(self.host, interval_s=self.interval_s,
                        uptime_seconds=round(snapshot["timestamp"] - self.host["boot_time"]))
        self.latest, self.counters = snapshot, counters or Counters()
        # Encoded once per sample, not once per request (~35 µs each, measured).
        self.latest_json = json.dumps(snapshot)
        if not snapshot["warming_up"]:  # a first sample has no rates: keep it out of the charts
            self.history.add(snapshot["timestamp"], history_point(snapshot))
        self.topic.publish_encoded(self.latest_json)  # never blocks: a bounded queue per client
        for listener in self.listeners:
            listener(snapshot)

    def snapshot(self):
        """The latest snapshot; before the first sample, the host facts and
        `warming_up` (never samples inline)."""
        if self.latest is None:
            return dict(WARMING_UP, **self.host, interval_s=self.interval_s, timestamp=time.time(),
                        uptime_seconds=round(time.time() - self.host["boot_time"]))
        return self.latest

    def history_series(self, range_name, names):
        if range_name not in ("1h", "24h"):
            raise Invalid("range must be 1h or 24h")
        unknown = [n for n in names if n not in SERIES]
        if unknown:
            raise Invalid(f"unknown series: {', '.join(unknown)} (known: {', '.join(SERIES)})")
        names = list(names) + (["cpu_max"] if range_name == "24h" and "cpu" in names else [])
        out = self.history.series(range_name, names)
        out.update(range=range_name, step_s=self.interval_s if range_name == "1h" else 60)
        return out

    def processes(self, sort, limit):
        if sort not in ("cpu", "mem"):
            raise Invalid("sort must be cpu or mem")
        if not 1 <= limit <= MAX_PROCESSES:
            raise Invalid(f"limit must be between 1 and {MAX_PROCESSES}")
        taken, known, rows = self._processes
        if time.monotonic() - taken > PROCESS_CACHE_S:
            if not known:
                # cpu_percent measures since the previous reading: take a
                # first one so the very first answer is not all zeros.
                self._in_thread(lambda: read_processes(known))
                gevent.sleep(0.3)
            rows = self._in_thread(lambda: read_processes(known))
            self._processes = (time.monotonic(), known, rows)
        key = "cpu_percent" if sort == "cpu" else "rss"
        return sorted(rows, key=lambda r: (r[key], r["pid"]), reverse=True)[:limit]


def read_processes(known):
    """One row per process. `known` keeps psutil.Process objects between
    calls, so cpu_percent measures the time since the previous call."""
    rows, alive = [], set()
    for proc in psutil.process_iter():
        pid = proc.pid
        proc = known.setdefault(pid, proc)
        alive.add(pid)
        try:
            with proc.oneshot():
                cmdline = " ".join(proc.cmdline())
                rows.append({"pid": pid, "name": proc.name(), "user": safe_username(proc),
                             "cpu_percent": round(proc.cpu_percent(), 1), "rss": proc.memory_info().rss,
                             "cmdline": cmdline[:CMDLINE_MAX] + ("…" if len(cmdline) > CMDLINE_MAX else ""),
                             "started": proc.create_time()})
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for pid in set(known) - alive:
        del known[pid]
    return rows


def safe_username(proc):
    try:
        return proc.username()
    except (KeyError, psutil.Error):  # a uid with no passwd entry
        return str(proc.uids().real)


def register(app, services):
    monitor = services.monitor

    @app.get("/api/resources", role="user")
    def resources():
        bottle.response.content_type = "application/json"
        return monitor.latest_json or json.dumps(monitor.snapshot())

    @app.get("/api/resources/history", role="user")
    def history():
        query = bottle.request.query
        names = [n for n in (query.get("series") or ",".join(SERIES)).split(",") if n]
        return monitor.history_series(query.get("range", "1h"), names)

    @app.get("/api/processes", role="user")
    def processes():
        query = bottle.request.query
        sort = query.get("sort", "cpu")
        try:
            limit = int(query.get("limit", 20))
        except ValueError:
            raise Invalid("limit must be an integer") from None
        # How often a page should ask again: a few samples apart (5 s at the
        # default 2 s interval), so the UI keeps no timing of its own.
        return {"sort": sort, "limit": limit, "processes": monitor.processes(sort, limit),
                "refresh_s": round(2.5 * monitor.interval_s, 3)}
