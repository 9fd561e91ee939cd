"""Resource history in memory, bounded by design: the last hour at full
resolution and the last 24 hours as 1-minute averages (plus the minute's CPU
maximum), stored by column.

A point comes in as the chart values of one snapshot
(`system.history_point`): numbers, lists of numbers and {name: …} maps, e.g.
{"cpu": 12.5, "cores": [10.0, 15.0], "net": {"eth0": {"rx": 1.0, "tx": 2.0}}}.
It is kept flat: every number is a column named by its path (("cpu",),
("cores", 1), ("net", "eth0", "rx"); an int in a path is a list index), one
8-byte float per row in an `array("d")` ring; a value a row lacks (an
interface that appeared later) is NaN.

Why columns: a dict per point made every value a 24-byte float object and
every interface and mount name a new string per point, 19 MiB for a day of a
64-core / 8-interface / 8-disk host and growing with the host. A column costs
8 bytes a row, and a column no kept row has a value for is dropped, so
interfaces that come and go do not pile up (docs/benchmarks.md has the
figures).

`History.series()` answers what the dict-per-point version answered (kept as
`bench/history_baseline.py`; `tests/unit/test_history.py` feeds both the same
samples): arrays aligned with `timestamps`, None where a row lacks a value,
floats rounded to 2 places, a map's keys in the order they first have a value.
"""

import math
from array import array
from itertools import repeat

HOUR = 3600
DAY = 24 * HOUR
MINUTE = 60
MISSING = math.nan
CPU, CPU_MAX = ("cpu",), ("cpu_max",)
# The shape of a series no row has, so clients always get the same types (a
# map stays a map when empty).
EMPTY = {"cores": lambda length: [], "net": lambda length: {}, "disk": lambda length: {},
         "disk_io": lambda length: {"read": [None] * length, "write": [None] * length}}


class Ring:
    """Columns of floats sharing one clock: at most `capacity` rows, the
    newest overwriting the oldest. Rows are numbered from 0 since start;
    row r lives in slot r % capacity of every array."""

    def __init__(self, capacity, time_type="d"):
        self.capacity = capacity
        self.times = array(time_type)
        self.columns = {}        # path -> array("d"), one value per kept row
        self._last_present = {}  # path -> the newest row that has a value
        self.rows = 0

    def __len__(self):
        return len(self.times)

    def append(self, ts, values):
        """Add a row: `values` is {path: float}; columns it lacks get NaN, and
        a column left without a value in any kept row is dropped."""
        row, size = self.rows, len(self.times)
        if not self.columns.keys() >= values.keys():
            self._add_columns(values, size, row)
        full, slot = size == self.capacity, row % self.capacity
        if full:
            self.times[slot] = ts
        else:
            self.times.append(ts)
        stale = []
        for path, column in self.columns.items():
            value = values.get(path, MISSING)
            if full:
                column[slot] = value
            else:
                column.append(value)
            if value == value:
                self._last_present[path] = row
            elif self._last_present[path] <= row - self.capacity:
                stale.append(path)
        for path in stale:
            del self.columns[path], self._last_present[path]
        self.rows += 1

    def _add_columns(self, values, size, row):
        """Columns for the paths of `values` not seen yet, each placed just
        before the first known path that follows it in `values` (else last):
        the sampler lists interfaces by name and disks in mount order, so the
        columns keep that order and a map's keys come out as they went in."""
        before, last, following = {}, [], None
        for path in reversed(list(values)):
            if path in self.columns:
                following = path
            else:
                (before.setdefault(following, []) if following else last).append(path)
                self._last_present[path] = row
        order = []
        for path in self.columns:
            order.extend(reversed(before.get(path, ())))
            order.append(path)
        order.extend(reversed(last))
        self.columns = {path: self.columns[path] if path in self.columns else array("d", [MISSING]) * size
                        for path in order}

    def newest(self, column, count):
        """The newest `count` values of `column` (or of `times`), oldest first."""
        size = len(self.times)
        count = min(count, size)
        end = self.rows % self.capacity if size == self.capacity else size
        if count <= end:
            return column[end - count:end].tolist()
        return column[size - (count - end):].tolist() + column[:end].tolist()


class History:
    def __init__(self, interval_s):
        self.interval_s = interval_s
        self.recent = Ring(max(1, int(HOUR / interval_s)))
        self.minutes = Ring(DAY // MINUTE, time_type="q")
        self._bucket_start = None
        self._bucket_rows = 0  # the newest rows of `recent`: the minute in progress

    def add(self, ts, point):
        start = int(ts // MINUTE) * MINUTE
        if self._bucket_start is not None and start != self._bucket_start:
            self._close_bucket()  # before the new row: the minute's rows are the newest ones
        self.recent.append(ts, flatten(point))
        self._bucket_start = start
        self._bucket_rows += 1

    def _close_bucket(self):
        if self._bucket_rows:
            self.minutes.append(self._bucket_start, self._bucket_average())
        self._bucket_rows = 0

    def _bucket_average(self):
        """{path: mean} of the minute in progress; a missing value is left out
        of a mean, never counted as zero. `cpu_max` is the highest `cpu`."""
        means = []
        for path, column in self.recent.columns.items():
            values = self.recent.newest(column, self._bucket_rows)
            present = [v for v in values if v == v]
            if present:
                first = next(i for i, v in enumerate(values) if v == v)
                means.append((first, path, sum(present) / len(present)))
                if path == CPU:
                    means.append((first, CPU_MAX, max(present)))
        # In the order the minute first had them, as a point's keys were.
        return {path: mean for _, path, mean in sorted(means, key=lambda m: m[0])}

    def series(self, range_name, names):
        """{"timestamps": [...], "series": {name: ...}}: for "1h" every kept
        sample; for "24h" every kept minute and the minute in progress (so a
        24 h chart reaches "now")."""
        ring, now = self.recent, None
        if range_name != "1h":
            ring, now = self.minutes, (self._bucket_average() if self._bucket_rows else None)
        length = len(ring)
        timestamps = ring.newest(ring.times, length)
        columns = {path: ring.newest(column, length) for path, column in ring.columns.items() if path[0] in names}
        if now is not None:
            timestamps.append(self._bucket_start)
            for path in [p for p in now if p[0] in names and p not in columns]:  # new this minute
                columns[path] = [MISSING] * length
            for path, values in columns.items():
                values.append(now.get(path, MISSING))
        by_name = {}
        for path, values in columns.items():
            values, first = rounded(values)
            if first is not None:  # a column with no value in this window is not there at all
                by_name.setdefault(path[0], []).append((path[1:], values, first))
        length = len(timestamps)
        return {"timestamps": timestamps,
                "series": {name: nested(by_name[name], length) if name in by_name
                           else EMPTY.get(name, lambda n: [None] * n)(length) for name in names}}

    def stored_bytes(self):
        """What the rings' arrays hold, in bytes (not the few small dicts
        naming the columns): deterministic, unlike RSS."""
        return sum(len(values) * values.itemsize for ring in (self.recent, self.minutes)
                   for values in (ring.times, *ring.columns.values()))


def flatten(point, path=(), into=None):
    """{path: float} for every number in a point (a map or a list); None (no
    value) makes no entry."""
    into = {} if into is None else into
    for key, item in point.items() if isinstance(point, dict) else enumerate(point):
        if isinstance(item, (dict, list, tuple)):
            flatten(item, path + (key,), into)
        elif item is not None:
            into[path + (key,)] = float(item)
    return into


def rounded(values):
    """(values rounded to 2 places with NaN as None, the index of the first
    value or None when there is none)."""
    if not any(map(math.isnan, values)):
        return list(map(round, values, repeat(2))), (0 if values else None)
    out = [round(v, 2) if v == v else None for v in values]
    return out, next((i for i, v in enumerate(out) if v is not None), None)


def nested(columns, length):
    """One series rebuilt from its columns [(rest of path, values, first
    index with a value)]: a leaf is its values, int keys make a list (an
    index no column has is all None), other keys a map in the order its
    keys first have a value."""
    if len(columns) == 1 and columns[0][0] == ():
        return columns[0][1]
    children = {}
    for rest, values, first in sorted(columns, key=lambda c: c[2]):  # stable: ties keep column order
        children.setdefault(rest[0], []).append((rest[1:], values, first))
    if all(isinstance(key, int) for key in children):
        return [nested(children[i], length) if i in children else [None] * length
                for i in range(max(children) + 1)]
    return {key: nested(child, length) for key, child in children.items()}
