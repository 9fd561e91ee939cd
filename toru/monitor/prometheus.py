"""What `GET /metrics` answers (`metrics.py`): the host and Toru itself in
Prometheus's text format (OpenMetrics when the scraper asks for it), for a
Prometheus that watches a fleet of Toru hosts
(docs/monitoring.md#get-metrics-prometheus, docs/fleet.md).

Host series take node_exporter's names and labels, so dashboards and alerts
written for node_exporter work on them. Everything is read from what Toru
already keeps: the sampler's latest snapshot and `Counters` (a scrape makes
no psutil call and agrees with `/api/resources`), the task history's
`TaskCounts`, the plugin processes, the hub's connections and the App's
response counts.

prometheus_client encodes three custom collectors over that state, but not
on every scrape: encoding ~80 samples takes ~300 µs (more as OpenMetrics),
twice what the rest of a request costs. So each part's text is kept until
what it shows changes: the host part is encoded once per sample, tasks and
plugins when a task ends or a plugin changes state, and the live values
(time, HTTP and WebSocket counts…) once, their numbers then written into
that text per scrape (bench/metrics_bench.py, docs/benchmarks.md).
"""

import platform
import time

from prometheus_client import exposition, openmetrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from toru import __version__
from toru.plugins.supervisor import PluginState
from toru.tasks.history import DURATION_BUCKETS, STATUSES, TRIGGERS

TEXT = (exposition.generate_latest, exposition.CONTENT_TYPE_PLAIN_0_0_4)
OPENMETRICS = (openmetrics.exposition.generate_latest, openmetrics.exposition.CONTENT_TYPE_LATEST)
EOF = b"# EOF\n"  # OpenMetrics' last line: once, after every part
# node_exporter's modes of node_cpu_seconds_total (guest time is its own series there).
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# How a task can end, and what started it: every pair is exposed from the
# start (at 0), so rate() and increase() see the first run of each.
ENDS = tuple(s for s in STATUSES if s != "running")
STATUS_CLASSES = ("1", "2", "3", "4", "5")


def gauge(name, doc, value, labels=None):
    family = GaugeMetricFamily(name, doc, labels=list(labels or ()))
    if value is not None:
        family.add_metric(list((labels or {}).values()), value)
    return family


class HostCollector:
    """node_exporter's series from the sampler's latest reading."""

    def __init__(self, monitor):
        self.monitor = monitor

    def key(self):
        return self.monitor.latest["timestamp"] if self.monitor.latest else 0

    def collect(self):
        monitor = self.monitor
        yield gauge("node_boot_time_seconds", "Node boot time, in unixtime.", monitor.host["boot_time"])
        snapshot, counters = monitor.latest, monitor.counters
        if snapshot is None:  # before the first sample: nothing else is known yet
            return
        yield from self.cpu(counters)
        for minutes, value in zip((1, 5, 15), snapshot["load_average"]):
            yield gauge(f"node_load{minutes}", f"{minutes}m load average.", value)
        for name, key in (("MemTotal", "memory_total"), ("MemAvailable", "memory_available"),
                          ("SwapTotal", "swap_total")):
            yield gauge(f"node_memory_{name}_bytes", f"Memory information field {name}_bytes.", snapshot[key])
        yield gauge("node_memory_SwapFree_bytes", "Memory information field SwapFree_bytes.", counters.swap_free)
        yield from self.filesystems(snapshot["disks"])
        yield from self.network(snapshot["networks"])
        yield from self.disks(counters.disks)

    def cpu(self, counters):
        family = CounterMetricFamily("node_cpu_seconds", "Seconds the CPUs spent in each mode.",
                                     labels=["cpu", "mode"])
        for cpu, times in enumerate(counters.cpu_times):
            for mode in CPU_MODES:
                value = getattr(times, mode, None)
                if value is not None:
                    family.add_metric([str(cpu), mode], value)
        yield family

    def filesystems(self, disks):
        labels = ["device", "fstype", "mountpoint"]
        size = GaugeMetricFamily("node_filesystem_size_bytes", "Filesystem size in bytes.", labels=labels)
        avail = GaugeMetricFamily("node_filesystem_avail_bytes",
                                  "Filesystem space available to non-root users in bytes.", labels=labels)
        for disk in disks:
            values = [disk["device"], disk["fstype"], disk["mount_point"]]
            size.add_metric(values, disk["total"])
            avail.add_metric(values, disk["free"])
        yield size
        yield avail

    def network(self, networks):
        received = CounterMetricFamily("node_network_receive_bytes",
                                       "Network device statistic receive_bytes.", labels=["device"])
        sent = CounterMetricFamily("node_network_transmit_bytes",
                                   "Network device statistic transmit_bytes.", labels=["device"])
        for net in networks:
            received.add_metric([net["interface"]], net["received"])
            sent.add_metric([net["interface"]], net["transmitted"])
        yield received
        yield sent

    def disks(self, disks):
        read = CounterMetricFamily("node_disk_read_bytes", "The total number of bytes read successfully.",
                                   labels=["device"])
        written = CounterMetricFamily("node_disk_written_bytes",
                                      "The total number of bytes written successfully.", labels=["device"])
        for device, (read_bytes, written_bytes) in disks.items():
            read.add_metric([device], read_bytes)
            written.add_metric([device], written_bytes)
        yield read
        yield written


class ToruCollector:
    """Toru's slow-changing series: build, tasks, plugins."""

    def __init__(self, task_counts, runner, plugins):
        self.task_counts = task_counts
        self.runner = runner
        self.plugins = plugins
        self.python = platform.python_version()

    def key(self):
        # Every task end adds 1 to one count, so their sum moves with each.
        return (sum(self.task_counts.ended.values()), len(self.runner.running),
                tuple((i, p.state, p.restarts, p.healthy) for i, p in self.plugins.processes.items()))

    def collect(self):
        yield gauge("toru_build_info", "Toru's version and the Python it runs on; always 1.", 1,
                    {"version": __version__, "python": self.python})
        yield from self.tasks()
        yield from self.plugin_families()

    def tasks(self):
        counts = self.task_counts
        ended = CounterMetricFamily("toru_tasks", "Tasks that ended since start, by status and trigger.",
                                    labels=["status", "trigger"])
        for status in ENDS:
            for trigger in TRIGGERS:
                if status != "skipped" or trigger == "schedule":  # only a schedule's run is ever skipped
                    ended.add_metric([status, trigger], counts.ended.get((status, trigger), 0))
        yield ended
        buckets, total = [], 0
        for bound, n in zip((*DURATION_BUCKETS, float("inf")), counts.buckets):
            total += n
            buckets.append((floatToGoString(bound), total))  # "1.0"…"+Inf", as prometheus_client's Histogram
        yield HistogramMetricFamily("toru_task_duration_seconds", "How long tasks ran, since start.",
                                    buckets=buckets, sum_value=counts.duration_sum)
        yield gauge("toru_tasks_running", "Tasks running now.", len(self.runner.running))

    def plugin_families(self):
        up = GaugeMetricFamily("toru_plugin_up", "1 when the plugin runs and answers, else 0.", labels=["plugin"])
        restarts = CounterMetricFamily("toru_plugin_restarts", "Restarts after a crash (backoff) of the plugin.",
                                       labels=["plugin"])
        state = GaugeMetricFamily("toru_plugin_state", "1 for the supervisor state the plugin is in.",
                                  labels=["plugin", "state"])
        for plugin_id, process in sorted(self.plugins.processes.items()):
            up.add_metric([plugin_id], 1 if process.healthy else 0)
            restarts.add_metric([plugin_id], process.restarts)
            for s in PluginState:
                state.add_metric([plugin_id, s.value], 1 if process.state is s else 0)
        yield up
        yield restarts
        yield state


class LiveCollector:
    """What changes from one scrape to the next. `values()` lists them in
    the order `collect()` adds them: Metrics encodes the families once and
    afterwards writes only new numbers into that text."""

    def __init__(self, monitor, auth, hub, status_counts):
        self.monitor = monitor
        self.auth = auth
        self.hub = hub
        self.status_counts = status_counts

    def values(self):
        counters = self.monitor.counters
        return [time.time(), self.auth.login_failures, *(self.status_counts.get(d, 0) for d in STATUS_CLASSES),
                len(self.hub.connections), counters.own_rss if counters else None]

    def collect(self):
        now, failures, *http_counts, websockets, rss = self.values()
        yield gauge("node_time_seconds", "System time in seconds since epoch (1970).", now)
        yield CounterMetricFamily("toru_login_failures", "Failed sign-ins and refused API tokens since start.",
                                  value=failures)
        http = CounterMetricFamily("toru_http_requests", "HTTP responses since start, by status class.",
                                   labels=["status_class"])
        for digit, count in zip(STATUS_CLASSES, http_counts):
            http.add_metric([f"{digit}xx"], count)
        yield http
        yield gauge("toru_websocket_connections", "Open WebSocket connections.", websockets)
        yield gauge("toru_process_resident_memory_bytes", "Toru's resident memory at the latest sample.", rss)


def negotiate(accept):
    """OpenMetrics 1.0.0 when the scraper lists it (Prometheus does, first),
    else the text format 0.0.4. Just these two: unlike prometheus_client's
    choose_encoder, a made-up `version=` in the header is neither echoed
    back nor a 500."""
    for entry in (accept or "").split(","):
        if entry.split(";", 1)[0].strip().lower() == "application/openmetrics-text":
            return OPENMETRICS
    return TEXT


def template(encoded):
    """Encoded samples → (the text before each sample's value, the text
    after the last sample): a sample line ends with its value after the
    last space, HELP and TYPE lines ride with the sample that follows."""
    prefixes, pending = [], ""
    for line in encoded.decode().splitlines(keepends=True):
        if line.startswith("#"):
            pending += line
        else:
            prefixes.append(pending + line[:line.rindex(" ") + 1])
            pending = ""
    return prefixes, pending


class Metrics:
    """The collectors of one app and their encodings. A collector with
    `key()` is encoded again only when its key changes; one with `values()`
    is encoded when the set of present values changes, and between times
    its numbers are written into the kept text (floatToGoString, as the
    encoders write them)."""

    def __init__(self, *collectors):
        self.collectors = collectors
        self.kept = {}  # (collector index, OpenMetrics?) → (key or shape, bytes or template)

    def render(self, accept):
        """(body, content type) for a scraper's Accept header."""
        encode, content_type = negotiate(accept)
        om = encode is OPENMETRICS[0]
        parts = [self.filled(i, c, encode, om) if hasattr(c, "values") else self.encoded(i, c, encode, om)
                 for i, c in enumerate(self.collectors)]
        if om:
            parts.append(EOF)
        return b"".join(parts), content_type

    def encode(self, collector, encode, om):
        body = encode(collector)  # the encoders take anything with collect()
        return body[:-len(EOF)] if om else body

    def encoded(self, index, collector, encode, om):
        key = collector.key()
        kept = self.kept.get((index, om))
        if kept is None or kept[0] != key:
            kept = self.kept[(index, om)] = (key, self.encode(collector, encode, om))
        return kept[1]

    def filled(self, index, collector, encode, om):
        values = [v for v in collector.values() if v is not None]  # a None value has no sample
        shape = len(values)
        kept = self.kept.get((index, om))
        if kept is None or kept[0] != shape:
            kept = self.kept[(index, om)] = (shape, template(self.encode(collector, encode, om)))
        prefixes, tail = kept[1]
        return ("".join(p + floatToGoString(v) + "\n" for p, v in zip(prefixes, values)) + tail).encode()


def for_services(services, status_counts):
    return Metrics(HostCollector(services.monitor),
                   ToruCollector(services.task_history.counts, services.tasks, services.plugins),
                   LiveCollector(services.monitor, services.auth, services.hub, status_counts))
