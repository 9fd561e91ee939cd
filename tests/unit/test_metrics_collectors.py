"""/metrics' collectors over a made-up snapshot: names, labels, types and
values as Prometheus's parsers read them; kept encodings that follow what
changed; no psutil call per scrape; the task counts that never go down."""

import collections
from types import SimpleNamespace

import psutil
import pytest
from prometheus_client import exposition, openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from toru import __version__
from toru.live import Topic
from toru.monitor import prometheus as metrics_mod
from toru.monitor.prometheus import HostCollector, LiveCollector, Metrics, ToruCollector, negotiate
from toru.monitor.system import NOT_A_DISK, Counters, Monitor
from toru.plugins.supervisor import PluginState
from toru.tasks.history import DURATION_BUCKETS, TaskCounts, TaskHistory

CPU = collections.namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest guest_nice")
OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def snapshot(timestamp=1000.0, load=(0.5, 0.25, 0.125)):
    return {
        "timestamp": timestamp, "warming_up": False, "cpu_percent": 10.0, "cpu_per_core": [10.0, 10.0],
        "cpu_cores": [], "load_average": list(load), "memory_total": 8 << 30, "memory_available": 6 << 30,
        "memory_used": 2 << 30, "memory_percent": 25.0, "memory_cached": 0, "memory_buffers": 0,
        "swap_total": 1 << 30, "swap_used": 1 << 28, "swap_percent": 25.0, "process_count": 99,
        "disks": [{"mount_point": "/", "name": "/dev/vda1", "device": "/dev/vda1", "fstype": "ext4",
                   "total": 100 << 30, "used": 40 << 30, "free": 55 << 30, "percent": 42.1},
                  {"mount_point": "/srv/my \"data\"", "name": "/dev/vdb", "device": "/dev/vdb", "fstype": "xfs",
                   "total": 10 << 30, "used": 1 << 30, "free": 9 << 30, "percent": 10.0}],
        "disk_io": {"read_bytes": 1, "write_bytes": 2, "read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0},
        "networks": [{"interface": "eth0", "received": 5000, "transmitted": 7000, "rx_bytes_per_s": 0.0,
                      "tx_bytes_per_s": 0.0}],
    }


def counters():
    return Counters(cpu_times=[CPU(10, 1, 5, 100, 2, 0, 0.5, 0.25, 0, 0), CPU(20, 2, 6, 90, 3, 0, 0.75, 0, 0, 0)],
                    disks={"vda": (4096, 8192)}, swap_free=3 << 28, own_rss=50 << 20)


class FakePlugin:
    def __init__(self, state, restarts=0, healthy=False):
        self.state, self.restarts, self.healthy = state, restarts, healthy


@pytest.fixture
def parts():
    monitor = Monitor(Topic("resources", public=True), interval_s=2)
    monitor.record(snapshot(), counters())
    state = SimpleNamespace(
        monitor=monitor, counts=TaskCounts(), runner=SimpleNamespace(running={}),
        plugins=SimpleNamespace(processes={"echo": FakePlugin(PluginState.RUNNING, 2, True),
                                           "crashy": FakePlugin(PluginState.BACKOFF, 5)}),
        auth=SimpleNamespace(login_failures=3), hub=SimpleNamespace(connections={1, 2}),
        status_counts=collections.Counter({"2": 40, "4": 2}))
    state.metrics = Metrics(HostCollector(monitor), ToruCollector(state.counts, state.runner, state.plugins),
                            LiveCollector(monitor, state.auth, state.hub, state.status_counts))
    return state


def scrape(metrics, accept=None):
    body, content_type = metrics.render(accept)
    om = content_type.startswith("application/openmetrics-text")
    families = (parse_openmetrics if om else parse_text)(body.decode())
    return {f.name: f for f in families}, body, content_type


def samples(families, name):
    """{frozenset of labels: value} of one sample name."""
    found = {}
    for family in families.values():
        for s in family.samples:
            if s.name == name:
                found[frozenset(s.labels.items())] = s.value
    return found


def value(families, name, **labels):
    return samples(families, name)[frozenset(labels.items())]


def test_host_series_have_node_exporters_names_labels_and_values(parts):
    families, _, content_type = scrape(parts.metrics)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    cpu = families["node_cpu_seconds"]
    assert cpu.type == "counter"
    assert value(families, "node_cpu_seconds_total", cpu="1", mode="user") == 20
    assert value(families, "node_cpu_seconds_total", cpu="0", mode="steal") == 0.25
    assert {dict(k)["mode"] for k in samples(families, "node_cpu_seconds_total")} == set(metrics_mod.CPU_MODES)
    assert len(samples(families, "node_cpu_seconds_total")) == 2 * 8  # guest time is not a mode here
    assert [value(families, f"node_load{m}") for m in (1, 5, 15)] == [0.5, 0.25, 0.125]
    assert value(families, "node_memory_MemTotal_bytes") == 8 << 30
    assert value(families, "node_memory_MemAvailable_bytes") == 6 << 30
    assert value(families, "node_memory_SwapTotal_bytes") == 1 << 30
    assert value(families, "node_memory_SwapFree_bytes") == 3 << 28
    root = {"device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"}
    assert value(families, "node_filesystem_size_bytes", **root) == 100 << 30
    assert value(families, "node_filesystem_avail_bytes", **root) == 55 << 30
    # Label values are escaped, not broken: a quote in a mount point survives.
    odd = {"device": "/dev/vdb", "fstype": "xfs", "mountpoint": '/srv/my "data"'}
    assert value(families, "node_filesystem_avail_bytes", **odd) == 9 << 30
    assert value(families, "node_network_receive_bytes_total", device="eth0") == 5000
    assert value(families, "node_network_transmit_bytes_total", device="eth0") == 7000
    assert value(families, "node_disk_read_bytes_total", device="vda") == 4096
    assert value(families, "node_disk_written_bytes_total", device="vda") == 8192
    assert value(families, "node_boot_time_seconds") == parts.monitor.host["boot_time"]
    for name in ("node_filesystem_size_bytes", "node_load1", "node_memory_MemTotal_bytes", "node_time_seconds"):
        assert families[name].type == "gauge", name
    for name in ("node_network_receive_bytes", "node_disk_written_bytes"):
        assert families[name].type == "counter", name


def test_torus_own_series(parts):
    families, _, _ = scrape(parts.metrics)
    assert value(families, "toru_build_info", version=__version__,
                 python=metrics_mod.platform.python_version()) == 1
    assert value(families, "toru_tasks_total", status="success", trigger="quick_action") == 0
    assert ("skipped", "ws") not in {(dict(k)["status"], dict(k)["trigger"])
                                     for k in samples(families, "toru_tasks_total")}
    assert families["toru_task_duration_seconds"].type == "histogram"
    assert value(families, "toru_task_duration_seconds_bucket", le="+Inf") == 0
    assert value(families, "toru_tasks_running") == 0
    assert value(families, "toru_plugin_up", plugin="echo") == 1
    assert value(families, "toru_plugin_up", plugin="crashy") == 0
    assert value(families, "toru_plugin_restarts_total", plugin="crashy") == 5
    states = samples(families, "toru_plugin_state")
    assert len(states) == 2 * len(PluginState)
    assert value(families, "toru_plugin_state", plugin="crashy", state="backoff") == 1
    assert value(families, "toru_plugin_state", plugin="crashy", state="running") == 0
    assert value(families, "toru_login_failures_total") == 3
    assert value(families, "toru_http_requests_total", status_class="2xx") == 40
    assert value(families, "toru_http_requests_total", status_class="4xx") == 2
    assert value(families, "toru_http_requests_total", status_class="5xx") == 0
    assert value(families, "toru_websocket_connections") == 2
    assert value(families, "toru_process_resident_memory_bytes") == 50 << 20


def test_openmetrics_when_the_scraper_asks(parts):
    families, body, content_type = scrape(parts.metrics, OM_ACCEPT)
    assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1
    assert value(families, "node_cpu_seconds_total", cpu="0", mode="user") == 10
    assert value(families, "toru_http_requests_total", status_class="2xx") == 40
    assert families["toru_build_info"].type == "gauge"


@pytest.mark.parametrize("accept, om", [
    (None, False), ("", False), ("*/*", False), ("text/plain;version=0.0.4", False),
    ("text/plain;version=1.0.0;escaping=allow-utf-8", False),
    ("application/openmetrics-text; version=banana", True),   # prometheus_client's choose_encoder raises here
    ("application/openmetrics-text;version=9.9.9", True),     # …and would echo this made-up version back
    ("text/plain;q=0.5, Application/OpenMetrics-Text;q=0.9", True),
])
def test_only_two_formats_whatever_the_accept_header(accept, om):
    assert (negotiate(accept) is metrics_mod.OPENMETRICS) is om


def test_kept_text_follows_new_samples_task_ends_and_plugin_changes(parts):
    families, _, _ = scrape(parts.metrics)
    assert value(families, "node_load1") == 0.5
    parts.monitor.record(snapshot(timestamp=1002.0, load=(3.0, 2.0, 1.0)), counters())
    parts.counts.add("failed", "schedule", 12.0)
    parts.plugins.processes["crashy"].state = PluginState.FAILED
    parts.runner.running["t1"] = object()
    parts.status_counts["5"] += 1
    parts.hub.connections.add(3)
    for accept in (None, OM_ACCEPT):
        families, _, _ = scrape(parts.metrics, accept)
        assert value(families, "node_load1") == 3.0
        assert value(families, "toru_tasks_total", status="failed", trigger="schedule") == 1
        assert value(families, "toru_task_duration_seconds_bucket", le="15.0") == 1
        assert value(families, "toru_task_duration_seconds_bucket", le="5.0") == 0
        assert value(families, "toru_task_duration_seconds_sum") == 12.0
        assert value(families, "toru_task_duration_seconds_count") == 1
        assert value(families, "toru_plugin_state", plugin="crashy", state="failed") == 1
        assert value(families, "toru_tasks_running") == 1
        assert value(families, "toru_http_requests_total", status_class="5xx") == 1
        assert value(families, "toru_websocket_connections") == 3


@pytest.mark.parametrize("om", [False, True])
def test_live_numbers_written_into_kept_text_equal_a_fresh_encoding(parts, om, monkeypatch):
    """The live part is encoded once; afterwards only its numbers change.
    Whatever they become, the text must be what prometheus_client writes."""
    encode = openmetrics.exposition.generate_latest if om else exposition.generate_latest
    live = parts.metrics.collectors[2]
    for now, failures, ok, rss in ((1e9 + 0.5, 0, 0, 1), (1796219825.9630306, 7, 10**12, 123456789),
                                   (2e9, 2**53, 3, None), (1.5, 1, 1, 4096)):
        monkeypatch.setattr(metrics_mod, "time", SimpleNamespace(time=lambda: now))
        parts.auth.login_failures, parts.status_counts["2"] = failures, ok
        parts.monitor.counters.own_rss = rss
        got = parts.metrics.filled(2, live, encode, om)
        assert got == parts.metrics.encode(live, encode, om)
        assert (b"\ntoru_process_resident_memory_bytes " in got) is (rss is not None)


def test_a_scrape_makes_no_psutil_call(parts, monkeypatch):
    scrape(parts.metrics)  # encodings kept; now any psutil call fails the test

    def forbidden(*args, **kwargs):
        raise AssertionError("psutil called during a scrape")
    for name in ("cpu_times", "cpu_percent", "virtual_memory", "swap_memory", "disk_usage", "disk_partitions",
                 "disk_io_counters", "net_io_counters", "boot_time", "pids", "Process", "process_iter"):
        monkeypatch.setattr(psutil, name, forbidden)
    parts.monitor.record(snapshot(timestamp=1004.0), counters())  # a new sample: the host part is encoded again
    for accept in (None, OM_ACCEPT):
        families, _, _ = scrape(parts.metrics, accept)
        assert value(families, "node_memory_MemTotal_bytes") == 8 << 30


def test_before_the_first_sample_only_what_is_known(parts):
    monitor = Monitor(Topic("resources", public=True), interval_s=2)
    metrics = Metrics(HostCollector(monitor), ToruCollector(parts.counts, parts.runner, parts.plugins),
                      LiveCollector(monitor, parts.auth, parts.hub, parts.status_counts))
    for accept in (None, OM_ACCEPT):
        families, _, _ = scrape(metrics, accept)
        assert "node_boot_time_seconds" in families and "toru_build_info" in families
        assert not samples(families, "node_load1") and not samples(families, "node_cpu_seconds_total")
        assert not samples(families, "toru_process_resident_memory_bytes")


def test_the_sampler_keeps_node_exporters_raw_counters():
    monitor = Monitor(Topic("resources", public=True), interval_s=2)
    snap, raw = monitor.sampler.read()
    assert len(raw.cpu_times) == psutil.cpu_count()
    assert all(hasattr(raw.cpu_times[0], mode) for mode in ("user", "system", "idle", "iowait", "steal"))
    assert raw.own_rss > 10 << 20 and raw.swap_free is not None
    assert not [d for d in raw.disks if NOT_A_DISK.match(d)]
    # /api/resources keeps its fields: none of the raw counters leaks into the snapshot.
    monitor.record(snap, raw)
    assert not {"cpu_times", "swap_free", "own_rss"} & set(monitor.snapshot())


@pytest.mark.parametrize("name, excluded", [("sda", False), ("sda1", True), ("nvme0n1", False),
                                            ("nvme0n1p2", True), ("vda", False), ("vdb3", True), ("loop7", True),
                                            ("zram0", True), ("dm-0", False), ("md127", False)])
def test_disks_as_node_exporter_counts_them(name, excluded):
    assert bool(NOT_A_DISK.match(name)) is excluded


def test_task_counts_bucket_durations_and_only_grow():
    counts = TaskCounts()
    for seconds in (0.2, 1, 1.5, 59, 86400):
        counts.add("success", "ws", seconds)
    counts.add("skipped", "schedule")
    assert counts.ended == {("success", "ws"): 5, ("skipped", "schedule"): 1}
    bounds = (*DURATION_BUCKETS, float("inf"))
    assert dict(zip(bounds, counts.buckets)) == {1: 2, 5: 1, 15: 0, 60: 1, 300: 0, 900: 0, 3600: 0, 14400: 0,
                                                  float("inf"): 1}
    assert counts.duration_sum == pytest.approx(0.2 + 1 + 1.5 + 59 + 86400)


def test_every_end_of_a_task_is_counted_and_pruning_does_not_uncount(tmp_path):
    from toru.store import Store
    history = TaskHistory(Store(tmp_path / "toru.db"))
    user = {"id": None, "username": "admin"}
    history.create("a", "x.sh", user, "ws", None, 100.0)
    history.finish("a", 103.0, "failed", 1, None, "", False, 0, None, None)
    history.create("b", "x.sh", user, "schedule", None, 100.0)
    history.record_skipped("c", "x.sh", "admin", None, None, 105.0, "overlap")
    assert history.counts.ended == {("failed", "ws"): 1, ("skipped", "schedule"): 1}
    assert history.counts.duration_sum == 3.0
    # A restart after a crash: the row still `running` ends as interrupted, duration unknown.
    again = TaskHistory(history.store)
    assert again.mark_interrupted(tmp_path / "spool", 1000) == 1
    assert again.counts.ended == {("interrupted", "schedule"): 1} and sum(again.counts.buckets) == 0
    history.prune(retention_days=0, max_tasks=0, now=10**10)
    assert history.counts.ended[("failed", "ws")] == 1


def test_status_classes_counted_where_every_response_passes(app):
    from helpers import call_wsgi
    before = dict(app.status_counts)
    assert call_wsgi(app, "GET", "/api/health").status == 200
    assert call_wsgi(app, "GET", "/api/nope").status == 404
    assert call_wsgi(app, "GET", "/metrics").status == 401
    assert call_wsgi(app, "GET", "/static/does-not-exist.js").status == 404
    assert app.status_counts["2"] == before.get("2", 0) + 1
    assert app.status_counts["4"] == before.get("4", 0) + 3


def test_metrics_route_is_registered_with_the_metrics_role(app):
    routes = [r for r in app.routes if r.rule == "/metrics"]
    assert [(r.method, r.config["role"]) for r in routes] == [("GET", "metrics")]
