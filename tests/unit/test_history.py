"""History bounds and downsampling math on synthetic input."""

from toru.monitor.history import History, average, downsample, series


def point(cpu, rx=None, disk=None):
    p = {"cpu": cpu, "cores": [cpu, cpu / 2], "net": {}}
    if rx is not None:
        p["net"]["eth0"] = {"rx": rx, "tx": 0.0}
    if disk is not None:
        p["disk"] = {"/": disk}
    return p


def test_downsample_averages_and_keeps_the_cpu_maximum():
    merged = downsample([point(10.0, rx=100.0), point(30.0, rx=300.0), point(20.0)])
    assert merged["cpu"] == 20.0 and merged["cpu_max"] == 30.0
    assert merged["cores"] == [20.0, 10.0]
    # The interface missing from one point is averaged over the points that have it.
    assert merged["net"]["eth0"] == {"rx": 200.0, "tx": 0.0}


def test_average_ignores_missing_values_instead_of_counting_zero():
    assert average([None, 4.0, None, 6.0]) == 5.0
    assert average([None, None]) is None
    assert average([[1.0], [3.0, 5.0]]) == [2.0, 5.0]


def test_recent_is_bounded_to_an_hour_and_minutes_to_a_day():
    history = History(interval_s=2)
    start = 1_800_000_000 - 1_800_000_000 % 60
    for i in range(30 * 3600 // 2):  # 30 hours of samples every 2 s
        history.add(start + 2 * i, point(float(i % 100)))
    assert len(history.recent) == 1800
    recent = history.points("1h")
    assert recent[-1][0] - recent[0][0] == 3600 - 2
    assert len(history.minutes) == 1440
    day = history.points("24h")
    assert len(day) == 1441  # 24 h of closed minutes + the minute in progress
    assert all(b[0] - a[0] == 60 for a, b in zip(day, day[1:]))


def test_minute_buckets_hold_that_minutes_average():
    history = History(interval_s=10)
    base = 1_800_000_000 - 1_800_000_000 % 60
    for i, cpu in enumerate([0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 99.0]):  # 6 in minute 0, 1 in minute 1
        history.add(base + 10 * i, point(cpu))
    (ts, closed), (ts2, current) = history.points("24h")
    assert ts == base and closed["cpu"] == 25.0 and closed["cpu_max"] == 50.0
    assert ts2 == base + 60 and current["cpu"] == 99.0


def test_series_are_aligned_with_none_for_missing_points():
    points = [(1, point(1.0)), (2, point(2.0, rx=5.0, disk=40.0)), (3, point(3.0, disk=41.0))]
    out = series(points, ["cpu", "cores", "net", "disk"])
    assert out["timestamps"] == [1, 2, 3]
    assert out["series"]["cpu"] == [1.0, 2.0, 3.0]
    assert out["series"]["cores"] == [[1.0, 2.0, 3.0], [0.5, 1.0, 1.5]]
    assert out["series"]["net"] == {"eth0": {"rx": [None, 5.0, None], "tx": [None, 0.0, None]}}
    assert out["series"]["disk"] == {"/": [None, 40.0, 41.0]}


def test_rates_never_go_negative_when_a_counter_wraps_or_resets():
    from toru.monitor.system import rate
    assert rate(1000, 500, 2.0) == 250.0
    assert rate(10, 2**32 - 5, 2.0) == 0.0   # wrapped
    assert rate(0, 123456, 2.0) == 0.0       # reset (interface re-created)
    assert rate(100, None, 2.0) == 0.0       # no previous reading


def test_empty_history_keeps_the_shape_of_each_series():
    out = series([], ["cpu", "cores", "net", "disk", "disk_io"])
    assert out == {"timestamps": [], "series": {"cpu": [], "cores": [], "net": {}, "disk": {},
                                                "disk_io": {"read": [], "write": []}}}


def test_snapshot_before_the_first_sample_has_every_field(tmp_path):
    from toru.live import Topic
    from toru.monitor.system import Monitor
    monitor = Monitor(Topic("resources", public=True), interval_s=2)
    early = monitor.snapshot()
    assert early["warming_up"] is True
    snap = monitor.sampler.sample()
    monitor.record(snap)
    assert set(early) == set(monitor.snapshot()), set(early) ^ set(monitor.snapshot())
