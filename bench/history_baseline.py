"""The resource history as Toru kept it up to commit 946a3a4: one dict per
point in two deques. Frozen here, not used by Toru: it is the baseline
`bench/resources_bench.py` measures the columnar `toru.monitor.history`
against, and the oracle `tests/unit/test_history.py` checks the columnar
answers with (same samples in, same series out).

The original docstring follows.

Resource history in memory, bounded: the last hour at full resolution and
the last 24 hours as 1-minute averages (plus the minute's CPU maximum).

A point is a flat dict of numbers or {name: number} maps, e.g.
{"cpu": 12.5, "cores": [10.0, 15.0], "net": {"eth0": {"rx": 1.0, "tx": 2.0}}}.
`series()` turns points into arrays aligned with their timestamps, with None
where a point lacks a value (an interface that appeared later).
"""

from collections import deque

HOUR = 3600
DAY = 24 * HOUR
MINUTE = 60


class History:
    def __init__(self, interval_s):
        self.interval_s = interval_s
        self.recent = deque(maxlen=max(1, int(HOUR / interval_s)))   # (ts, point)
        self.minutes = deque(maxlen=DAY // MINUTE)                    # (minute start, point)
        self._bucket_start = None
        self._bucket = []

    def add(self, ts, point):
        self.recent.append((ts, point))
        start = int(ts // MINUTE) * MINUTE
        if self._bucket_start is not None and start != self._bucket_start:
            self._close_bucket()
        self._bucket_start = start
        self._bucket.append(point)

    def _close_bucket(self):
        if self._bucket:
            self.minutes.append((self._bucket_start, downsample(self._bucket)))
        self._bucket = []

    def points(self, range_name):
        if range_name == "1h":
            return list(self.recent)
        closed = list(self.minutes)
        if self._bucket:  # the minute in progress, so 24h charts reach "now"
            closed.append((self._bucket_start, downsample(self._bucket)))
        return closed

    def series(self, range_name, names):
        """The columnar History's interface over the old two steps."""
        return series(self.points(range_name), names)


def downsample(points):
    """Average every numeric field of `points` (nested maps and lists too);
    `cpu_max` is the maximum of `cpu`. Missing values are left out of an
    average, never counted as zero."""
    merged = average(points)
    cpus = [p["cpu"] for p in points if p.get("cpu") is not None]
    merged["cpu_max"] = max(cpus) if cpus else None
    return merged


def average(values):
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, dict):
        keys = []
        for v in present:
            keys.extend(k for k in v if k not in keys)
        return {k: average([v.get(k) for v in present]) for k in keys}
    if isinstance(first, (list, tuple)):
        width = max(len(v) for v in present)
        return [average([v[i] if i < len(v) else None for v in present]) for i in range(width)]
    return sum(present) / len(present)


# The shape of a series before any point has it, so clients always get the
# same types (a map stays a map when empty).
EMPTY = {"cores": [], "net": {}, "disk": {}, "disk_io": {"read": [], "write": []}}


def series(points, names):
    """{"timestamps": [...], "series": {...}} for the requested series names."""
    out = {"timestamps": [ts for ts, _ in points], "series": {}}
    for name in names:
        values = [p.get(name) for _, p in points]
        if name in EMPTY and all(v is None for v in values):
            out["series"][name] = EMPTY[name] if name != "disk_io" else {"read": [None] * len(values),
                                                                          "write": [None] * len(values)}
        else:
            out["series"][name] = align(values)
    return out


def align(values):
    """[v0, v1, …] → arrays aligned by index: numbers stay a list, lists become
    a list of per-index lists, maps a map of aligned values."""
    present = [v for v in values if v is not None]
    if not present:
        return [None] * len(values)
    first = present[0]
    if isinstance(first, dict):
        keys = []
        for v in present:
            keys.extend(k for k in v if k not in keys)
        return {k: align([v.get(k) if v is not None else None for v in values]) for k in keys}
    if isinstance(first, (list, tuple)):
        width = max(len(v) for v in present)
        return [align([v[i] if v is not None and i < len(v) else None for v in values]) for i in range(width)]
    return [round(v, 2) if isinstance(v, float) else v for v in values]
