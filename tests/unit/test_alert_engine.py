"""The alert engine in-process: create_app on a temp dir with an injected
clock, synthetic sampler snapshots through the monitor's real `record`, and
time stepped without sleeping. Deliveries are read from a recording
dispatcher (the collaborator's seam); tests/integration/test_alerts.py
delivers for real."""

import re

import pytest

from helpers import ROOT
from toru.alerts.rules import METRICS, metric_value_text
from toru.app import create_app
from toru.config import Config

T0 = 1_700_000_000.0


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def step(self, seconds):
        self.now += seconds


class Recorder:
    """Stands in for toru.alerts.delivery.Dispatcher: what would be delivered."""

    def __init__(self):
        self.sent = []

    def enqueue(self, notification, channel_ids, alert_id=None):
        self.sent.append(dict(notification, channels=list(channel_ids), alert_id=alert_id))

    def take(self):
        sent, self.sent = self.sent, []
        return sent


def snapshot(clock, cpu=10.0, disks=None, nets=None):
    disks = {"/": 40.0} if disks is None else disks
    nets = {"eth0": 100.0} if nets is None else nets
    return {
        "timestamp": clock(), "warming_up": False, "cpu_percent": cpu, "cpu_per_core": [cpu, cpu],
        "cpu_cores": [{"usage": cpu}] * 2, "load_average": [0.5, 0.4, 0.3], "memory_total": 8 << 30,
        "memory_available": 4 << 30, "memory_used": 4 << 30, "memory_percent": 50.0, "memory_cached": 0,
        "memory_buffers": 0, "swap_total": 0, "swap_used": 0, "swap_percent": 0.0, "process_count": 100,
        "disks": [{"mount_point": m, "name": "/dev/x", "device": "/dev/x", "fstype": "ext4", "total": 100,
                   "used": int(p), "free": 100 - int(p), "percent": p} for m, p in disks.items()],
        "disk_io": {"read_bytes": 0, "write_bytes": 0, "read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0},
        "networks": [{"interface": i, "received": 0, "transmitted": 0, "rx_bytes_per_s": r, "tx_bytes_per_s": 0.0}
                     for i, r in nets.items()],
    }


def open_app(data_dir, clock):
    app = create_app(Config(data_dir=data_dir, admin_password="x" * 16), clock=clock)
    app.services.alerts.dispatcher = recorder = Recorder()
    return app.services, recorder


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def alerting(tmp_path, clock):
    services, recorder = open_app(tmp_path, clock)
    channel = services.alert_channels.create({"name": "ops", "type": "webhook",
                                              "config": {"url": "http://127.0.0.1:9/hook"}})
    yield services, recorder, channel["id"]
    services.stop(timeout=1)


def rule(services, channel, name="CPU high", **condition):
    fields = {"name": name, "kind": "metric", "severity": "critical", "channels": [channel],
              "condition": dict({"metric": "cpu_percent", "op": ">", "threshold": 90, "for_seconds": 60},
                                **condition)}
    return services.alert_rules.create(fields, "admin")


ADMIN = {"id": None, "username": "admin", "role": "admin"}


def current(services, status="firing"):
    return services.alerts.current(ADMIN)[status]


def history(services):
    return services.alerts.history(ADMIN, 0, 50)["history"]


def sample(services, clock, step=0, **values):
    clock.step(step)
    services.monitor.record(snapshot(clock, **values))


def test_pending_then_firing_then_resolved_with_hysteresis(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel)
    sample(services, clock, cpu=95.0)
    assert [a["status"] for a in current(services, "pending")] == ["pending"] and not current(services)
    sample(services, clock, 59, cpu=97.0)
    assert current(services, "pending") and not recorder.sent  # not yet held for 60 s
    sample(services, clock, 1, cpu=96.0)
    [firing] = current(services)
    assert (firing["status"], firing["value"], firing["fired_at"]) == ("firing", 96.0, clock())
    [sent] = recorder.take()
    assert sent["alert"] == "CPU high" and sent["status"] == "firing" and sent["severity"] == "critical"
    assert sent["value"] == 96.0 and sent["labels"] == {} and sent["resolved_at"] is None
    assert sent["started_at"].endswith("Z") and sent["channels"] == [channel] and sent["alert_id"] == firing["id"]
    assert sent["host"] and sent["instance_id"] == services.instance_id and sent["url"] is None
    assert sent["summary"] == "CPU usage is 96.0% (alert above 90.0%)"
    # Below the threshold: it keeps firing until false for 60 s; a bounce starts the count again.
    sample(services, clock, 10, cpu=20.0)
    sample(services, clock, 50, cpu=95.0)
    [still] = current(services)  # its words follow the value while it fires
    assert (still["value"], still["summary"]) == (95.0, "CPU usage is 95.0% (alert above 90.0%)")
    sample(services, clock, 10, cpu=20.0)
    sample(services, clock, 59, cpu=20.0)
    assert current(services) and not recorder.sent
    sample(services, clock, 1, cpu=21.0)
    assert not current(services)
    [resolved] = recorder.take()
    assert resolved["status"] == "resolved" and resolved["resolved_at"].endswith("Z") and resolved["value"] == 21.0
    [entry] = history(services)
    assert (entry["id"], entry["status"], entry["resolved_at"]) == (firing["id"], "resolved", clock())


def test_a_pending_alert_that_clears_leaves_nothing(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel)
    sample(services, clock, cpu=95.0)
    sample(services, clock, 30, cpu=10.0)
    assert not current(services, "pending") and not history(services) and not recorder.sent


def test_repeat_and_silence(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel, for_seconds=0)
    services.alert_rules.update(1, {"repeat_minutes": 5})
    sample(services, clock, cpu=99.0)
    [alert] = current(services)
    assert [n["status"] for n in recorder.take()] == ["firing"]
    clock.step(4 * 60)
    services.alerts.tick()
    assert not recorder.sent
    clock.step(60)
    services.alerts.tick()
    assert [n["status"] for n in recorder.take()] == ["firing"]  # re-announced after 5 minutes
    silenced = services.alerts.silence(alert["id"], 30)
    assert silenced["silenced_until"] == clock() + 30 * 60
    clock.step(10 * 60)
    services.alerts.tick()
    sample(services, clock, cpu=99.0)
    assert not recorder.sent  # silenced: no repeat
    clock.step(21 * 60)
    services.alerts.tick()
    assert [n["status"] for n in recorder.take()] == ["firing"]  # the silence ended, still firing
    services.alerts.silence(alert["id"], 30)
    sample(services, clock, 1, cpu=5.0)
    assert not current(services) and not recorder.sent  # resolved while silenced: no notice


def test_a_silence_outlives_a_flap(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel, for_seconds=0)
    sample(services, clock, cpu=99.0)
    services.alerts.silence(current(services)[0]["id"], 60)
    recorder.take()
    sample(services, clock, 5, cpu=5.0)
    sample(services, clock, 5, cpu=99.0)
    [again] = current(services)
    assert again["silenced_until"] and not recorder.sent


def test_labels_per_mount_and_interface(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel, "Disk full", metric="disk_percent", threshold=90, for_seconds=0)
    rule(services, channel, "Root full", metric="disk_percent", threshold=90, for_seconds=0, labels={"mount": "/"})
    rule(services, channel, "eth1 busy", metric="net_rx_bytes_per_s", op=">=", threshold=1e6, for_seconds=0,
         labels={"interface": "eth1"})
    sample(services, clock, disks={"/": 50.0, "/data": 95.0, "/srv": 91.5}, nets={"eth0": 5e6, "eth1": 2e6})
    firing = {(a["rule_name"], tuple(a["labels"].items())) for a in current(services)}
    assert firing == {("Disk full", (("mount", "/data"),)), ("Disk full", (("mount", "/srv"),)),
                      ("eth1 busy", (("interface", "eth1"),))}
    assert sorted(n["summary"] for n in recorder.take()) == [
        "Disk space used on /data is 95.0% (alert above 90.0%)",
        "Disk space used on /srv is 91.5% (alert above 90.0%)",
        "Network received on eth1 is 1.9 MiB/s (alert at or above 977 KiB/s)"]
    # One label set resolving leaves the others firing (deduplicated per rule and label set).
    sample(services, clock, 1, disks={"/": 50.0, "/data": 95.0, "/srv": 10.0}, nets={"eth1": 2e6})
    sample(services, clock, 1, disks={"/": 50.0, "/data": 95.0, "/srv": 10.0}, nets={"eth1": 2e6})
    assert {tuple(a["labels"].items()) for a in current(services)} == {(("mount", "/data"),),
                                                                       (("interface", "eth1"),)}
    assert [(n["status"], n["labels"]) for n in recorder.take()] == [("resolved", {"mount": "/srv"})]


def test_a_restart_neither_reannounces_nor_forgets(tmp_path, clock):
    services, recorder = open_app(tmp_path, clock)
    channel = services.alert_channels.create({"name": "ops", "type": "webhook",
                                              "config": {"url": "http://127.0.0.1:9/hook"}})["id"]
    rule(services, channel, for_seconds=0)
    sample(services, clock, cpu=99.0)
    [before] = current(services)
    assert len(recorder.take()) == 1
    services.stop(timeout=1)

    services, recorder = open_app(tmp_path, clock)
    try:
        [after] = current(services)
        assert after == before
        sample(services, clock, 10, cpu=98.0)
        services.alerts.tick()
        assert not recorder.sent  # still firing: not announced again
        sample(services, clock, 10, cpu=3.0)
        [resolved] = recorder.take()
        assert resolved["status"] == "resolved" and resolved["alert_id"] == before["id"]
    finally:
        services.stop(timeout=1)


def test_deleting_or_changing_a_rule_ends_its_alerts_quietly(alerting, clock):
    services, recorder, channel = alerting
    first = rule(services, channel, for_seconds=0)
    second = rule(services, channel, "CPU very high", threshold=95, for_seconds=0)
    sample(services, clock, cpu=99.0)
    recorder.take()
    services.alert_rules.update(first["id"], {"condition": {"metric": "cpu_percent", "op": ">", "threshold": 50}})
    services.alert_rules.delete(second["id"])
    assert not current(services) and not recorder.sent
    assert {h["resolved_reason"] for h in history(services)} == {"rule changed", "rule deleted"}


def test_plugin_notify_is_rate_limited_and_routed_by_severity(alerting, clock):
    services, recorder, channel = alerting
    services.alert_rules.create({"name": "Plugin says", "kind": "plugin", "severity": "warning",
                                 "channels": [channel], "condition": {"event": "notify", "plugins": ["backup"]}},
                                "admin")
    send = services.plugins._plugin_request  # where the plugin connection hands over what a plugin sent
    for n in range(8):
        assert send("backup", {"type": "notify", "payload": {"title": f"T{n}", "message": "m",
                                                             "severity": "critical"}}) is None
    assert [n["summary"] for n in recorder.take()] == [f"T{n}: m" for n in range(6)]  # 6 a minute
    clock.step(61)
    send("backup", {"type": "notify", "payload": {"title": "low", "severity": "info"}})
    send("other", {"type": "notify", "payload": {"title": "elsewhere", "severity": "critical"}})
    assert not recorder.sent  # below the rule's severity; a plugin the rule does not name
    send("backup", {"type": "notify", "payload": {"title": "Disk", "message": "full", "severity": "bogus"}})
    [sent] = recorder.take()
    assert (sent["severity"], sent["labels"], sent["status"]) == ("warning", {"plugin": "backup", "title": "Disk"},
                                                                  "firing")
    assert history(services)[0]["status"] == "event"


def test_history_is_pruned_after_the_retention(alerting, clock):
    services, recorder, channel = alerting
    rule(services, channel, for_seconds=0)
    sample(services, clock, cpu=99.0)
    sample(services, clock, 1, cpu=1.0)
    assert len(history(services)) == 1
    clock.step(89 * 86400)
    assert services.alerts.prune() == 0
    clock.step(2 * 86400)
    assert services.alerts.prune() == 1 and not history(services)


@pytest.mark.parametrize("metric, value, text", [
    ("cpu_percent", 93.14, "93.1%"), ("disk_percent", 90, "90.0%"), ("load_per_core", 0.4567, "0.46"),
    ("net_rx_bytes_per_s", 0, "0 B/s"), ("net_rx_bytes_per_s", 1023, "1023 B/s"),
    ("net_rx_bytes_per_s", 1024, "1.0 KiB/s"), ("disk_read_bytes_per_s", 1.5 * 2**20, "1.5 MiB/s"),
    ("net_tx_bytes_per_s", 1023.96 * 1024, "1.0 MiB/s"), ("net_tx_bytes_per_s", 150 * 2**30, "150 GiB/s"),
])
def test_values_read_as_the_alerts_page_shows_them(metric, value, text):
    assert metric_value_text(metric, value) == text


def test_a_notification_names_each_metric_as_the_alerts_page_does():
    words_js = (ROOT / "static/js/pages/alerts/words.js").read_text()
    page = dict(re.findall(r"^  (\w+): \['([^']+)', '(?:percent|number|rate)'\],$", words_js, re.M))
    assert page == {name: metric.words for name, metric in METRICS.items()}
