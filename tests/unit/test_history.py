"""The columnar history: bounds, downsampling, gaps, and the same answers as
the dict-per-point history it replaced (kept as bench/history_baseline.py)
for the same samples."""

import importlib.util
import json
import random

from helpers import ROOT
from toru.monitor.history import History

SERIES = ["cpu", "cores", "mem", "swap", "load1", "net", "disk_io", "disk"]
MINUTE_START = 1_800_000_000 - 1_800_000_000 % 60


def baseline_module():
    spec = importlib.util.spec_from_file_location("history_baseline", ROOT / "bench" / "history_baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def point(cpu, rx=None, disk=None):
    p = {"cpu": cpu, "cores": [cpu, cpu / 2], "net": {}}
    if rx is not None:
        p["net"]["eth0"] = {"rx": rx, "tx": 0.0}
    if disk is not None:
        p["disk"] = {"/": disk}
    return p


def host_point(rnd, cores, interfaces, mounts):
    """A `system.history_point` of a host with these cores, interfaces and mounts."""
    return {"cpu": None if rnd.random() < 0.01 else rnd.uniform(0, 100),
            "cores": [rnd.uniform(0, 100) for _ in range(cores)],
            "mem": rnd.uniform(0, 100), "swap": rnd.uniform(0, 5), "load1": rnd.uniform(0, 8),
            "net": {name: {"rx": rnd.uniform(0, 1e8), "tx": rnd.uniform(0, 1e8)} for name in interfaces},
            "disk_io": {"read": rnd.uniform(0, 1e9), "write": rnd.uniform(0, 1e9)},
            "disk": {mount: rnd.uniform(0, 100) for mount in mounts}}


def test_a_minute_holds_its_average_and_its_cpu_maximum():
    history = History(interval_s=10)
    for i, (cpu, rx) in enumerate([(10.0, 100.0), (30.0, 300.0), (20.0, None)]):
        history.add(MINUTE_START + 10 * i, point(cpu, rx=rx))
    day = history.series("24h", ["cpu", "cpu_max", "cores", "net"])
    assert day["timestamps"] == [MINUTE_START]
    s = day["series"]
    assert s["cpu"] == [20.0] and s["cpu_max"] == [30.0] and s["cores"] == [[20.0], [10.0]]
    # The interface missing from one sample is averaged over the samples that have it, not as 0.
    assert s["net"] == {"eth0": {"rx": [200.0], "tx": [0.0]}}


def test_recent_is_bounded_to_an_hour_and_minutes_to_a_day():
    history = History(interval_s=2)
    for i in range(30 * 3600 // 2):  # 30 hours of samples every 2 s
        history.add(MINUTE_START + 2 * i, point(float(i % 100)))
    assert len(history.recent) == 1800 and len(history.minutes) == 1440
    recent = history.series("1h", ["cpu"])["timestamps"]
    assert len(recent) == 1800 and recent[-1] - recent[0] == 3600 - 2
    day = history.series("24h", ["cpu"])["timestamps"]
    assert len(day) == 1441  # 24 h of closed minutes + the minute in progress
    assert all(b - a == 60 for a, b in zip(day, day[1:]))


def test_minute_buckets_hold_that_minutes_average():
    history = History(interval_s=10)
    for i, cpu in enumerate([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 99.0]):  # 6 in minute 0, 1 in minute 1
        history.add(MINUTE_START + 10 * i, point(cpu))
    day = history.series("24h", ["cpu", "cpu_max"])
    assert day["timestamps"] == [MINUTE_START, MINUTE_START + 60]
    assert day["series"] == {"cpu": [25.0, 99.0], "cpu_max": [50.0, 99.0]}


def test_series_are_aligned_with_none_for_missing_points():
    history = History(interval_s=1)
    for ts, p in [(1, point(1.0)), (2, point(2.0, rx=5.0, disk=40.0)), (3, point(3.0, disk=41.0))]:
        history.add(MINUTE_START + ts, p)
    out = history.series("1h", ["cpu", "cores", "net", "disk"])
    assert out["timestamps"] == [MINUTE_START + 1, MINUTE_START + 2, MINUTE_START + 3]
    assert out["series"] == {"cpu": [1.0, 2.0, 3.0], "cores": [[1.0, 2.0, 3.0], [0.5, 1.0, 1.5]],
                             "net": {"eth0": {"rx": [None, 5.0, None], "tx": [None, 0.0, None]}},
                             "disk": {"/": [None, 40.0, 41.0]}}


def test_values_are_rounded_to_two_places_and_none_never_counts_as_zero():
    history = History(interval_s=10)
    for i, cpu in enumerate([None, 4.004, None, 6.0]):
        history.add(MINUTE_START + 10 * i, {"cpu": cpu})
    assert history.series("1h", ["cpu"])["series"]["cpu"] == [None, 4.0, None, 6.0]
    assert history.series("24h", ["cpu"])["series"]["cpu"] == [5.0]


def test_rates_never_go_negative_when_a_counter_wraps_or_resets():
    from toru.monitor.system import rate
    assert rate(1000, 500, 2.0) == 250.0
    assert rate(10, 2**32 - 5, 2.0) == 0.0   # wrapped
    assert rate(0, 123456, 2.0) == 0.0       # reset (interface re-created)
    assert rate(100, None, 2.0) == 0.0       # no previous reading


def test_empty_history_keeps_the_shape_of_each_series():
    for range_name in ("1h", "24h"):
        out = History(2).series(range_name, ["cpu", "cores", "net", "disk", "disk_io"])
        assert out == {"timestamps": [], "series": {"cpu": [], "cores": [], "net": {}, "disk": {},
                                                    "disk_io": {"read": [], "write": []}}}


def test_same_answers_as_the_dict_per_point_history():
    """Seeded hosts whose interfaces, mounts and core count change, with
    clock gaps of up to two hours and samples lacking their CPU value: both
    histories get the same samples and must answer the same series, ranges
    and subsets, as JSON byte for byte."""
    baseline = baseline_module()
    # 60 s: past a full day of minutes, so the minute ring wraps; 0.5 s: the hour ring wraps.
    for seed, (interval, samples) in enumerate([(60, 2600), (10, 1000), (2, 2000), (0.5, 7500)]):
        rnd = random.Random(seed)
        old, new = baseline.History(interval), History(interval)
        ts, cores, interfaces, mounts = 1_700_000_000.0 + rnd.random() * 60, 2, ["eth0"], ["/"]
        for i in range(samples):
            change = rnd.random()
            if change < 0.01:  # an interface appears (the sampler lists them by name)
                interfaces = sorted(set(interfaces) | {f"eth{rnd.randint(1, 9)}"})
            elif change < 0.015:
                cores = rnd.randint(1, 4)
            elif change < 0.02:  # a mount appears (in mount order)
                mounts = [m for m in ("/", "/boot", "/home", "/srv") if m in mounts or rnd.random() < 0.3]
            if rnd.random() < 0.005:
                ts += rnd.uniform(0, 7200)  # the host slept, or the clock stepped
            ts += interval * rnd.uniform(0.9, 1.1)
            sample = host_point(rnd, cores, interfaces, mounts)
            old.add(ts, sample)
            new.add(ts, sample)
            if i % (samples // 3) == 0:
                check_same(old, new, rnd)
        check_same(old, new, rnd)


def test_same_answers_while_interfaces_come_and_go():
    """An interface that vanishes for good: same values (key order aside,
    which JSON maps do not promise when names leave and return)."""
    baseline = baseline_module()
    rnd = random.Random(7)
    old, new = baseline.History(2), History(2)
    for i in range(8000):
        interfaces = [name for name in ("eth0", "tap1", "wg0") if (i // (300 + 100 * len(name))) % 2 == 0]
        sample = host_point(rnd, 2, interfaces, ["/"])
        old.add(MINUTE_START + 2 * i, sample)
        new.add(MINUTE_START + 2 * i, sample)
        if i % 1999 == 0:
            for range_name in ("1h", "24h"):
                assert old.series(range_name, SERIES + ["cpu_max"]) == new.series(range_name, SERIES + ["cpu_max"])


def check_same(old, new, rnd):
    for range_name, names in (("1h", SERIES), ("24h", SERIES + ["cpu_max"])):
        for asked in (names, rnd.sample(names, rnd.randint(1, len(names)))):
            assert json.dumps(old.series(range_name, asked)) == json.dumps(new.series(range_name, asked))


def test_a_day_of_a_64_core_host_is_stored_in_under_8_mib():
    """The arrays' size once both rings are full: 64 cores, 8 interfaces,
    8 disks, a sample every 2 s. Deterministic (bytes of arrays, not RSS);
    bench/resources_bench.py measures the process."""
    rnd = random.Random(1)
    history = History(interval_s=2)
    sample = host_point(rnd, 64, [f"eth{i}" for i in range(8)], ["/"] + [f"/mnt/d{i}" for i in range(1, 8)])
    sample["cpu"] = 50.0
    for minute in range(1440):  # a day of minutes, then an hour of 2 s samples: both rings full
        history.add(MINUTE_START + 60 * minute, sample)
    for i in range(1800):
        history.add(MINUTE_START + 86_400 + 2 * i, sample)
    assert len(history.recent) == 1800 and len(history.minutes) == 1440
    full = history.stored_bytes()
    assert full < 8 * 1024 * 1024, full / 1024 / 1024
    history.add(MINUTE_START + 90_000, sample)
    assert history.stored_bytes() == full  # full rings overwrite, they do not grow


def test_columns_of_interfaces_that_left_are_dropped():
    """A host whose containers come and go (a new interface name every few
    minutes) keeps only the columns some kept row has a value for."""
    history = History(interval_s=60)
    rnd = random.Random(3)
    for minute in range(3 * 1440):
        sample = host_point(rnd, 1, ["eth0", f"veth{minute // 5}"], ["/"])
        history.add(MINUTE_START + 60 * minute, sample)
    recent_interfaces = {path[1] for path in history.recent.columns if path[0] == "net"}
    assert recent_interfaces == {"eth0"} | {f"veth{m // 5}" for m in range(3 * 1440 - 60, 3 * 1440)}
    day_interfaces = {path[1] for path in history.minutes.columns if path[0] == "net"}
    assert len(day_interfaces) <= 1 + 1440 // 5 + 1


def test_snapshot_before_the_first_sample_has_every_field(tmp_path):
    from toru.live import Topic
    from toru.monitor.system import Monitor
    monitor = Monitor(Topic("resources", public=True), interval_s=2)
    early = monitor.snapshot()
    assert early["warming_up"] is True
    snap = monitor.sampler.sample()
    monitor.record(snap)
    assert set(early) == set(monitor.snapshot()), set(early) ^ set(monitor.snapshot())
