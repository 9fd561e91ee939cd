"""Cron expressions and time zones for schedules, on top of `cronsim`.

cronsim (the parser Healthchecks.io uses) does the cron arithmetic and
follows Debian cron through DST changes: a job at a fixed time that falls
in a spring-forward gap runs once, right after the gap; one in a repeated
autumn hour runs once, at the first of the two. What this module adds:
the `@daily` style macros, errors in words that name the field, a time
zone check, and plain epoch-seconds helpers for the scheduler.
"""

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from toru.errors import Invalid

# As in cron(8): names for the common schedules.
MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
          "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
          ("day-of-week", 0, 7))
SYNTAX = ("5 fields (minute hour day-of-month month day-of-week), 6 with a leading seconds field, "
          "or one of " + ", ".join(m for m in MACROS if m not in ("@midnight", "@annually")))
MAX_LENGTH = 200


class Cron:
    """A checked expression: `Cron.parse("0 3 * * *")`, then `next_after`
    and `latest_at_or_before` in a zone."""

    def __init__(self, text, fields, seconds_offset):
        self.text = text                  # as the user wrote it (macro kept)
        self.fields = fields              # what cronsim gets
        self.seconds_offset = seconds_offset

    @classmethod
    def parse(cls, text):
        if not isinstance(text, str) or not text.strip():
            raise Invalid(f"cron is required: {SYNTAX}")
        text = " ".join(text.split())
        if len(text) > MAX_LENGTH:
            raise Invalid(f"cron must be at most {MAX_LENGTH} characters")
        fields = MACROS.get(text.lower(), text)
        if fields.startswith("@"):
            raise Invalid(f"{text} is not a known macro: use {SYNTAX}")
        parts = fields.split()
        if len(parts) not in (5, 6):
            raise Invalid(f"cron has {len(parts)} field{'s' if len(parts) != 1 else ''}; it needs {SYNTAX}")
        try:
            CronSim(fields, datetime(2000, 1, 1))
        except CronSimError as e:
            raise Invalid(field_error(parts, str(e))) from None
        # cronsim applies cron's DST rule to 5-field expressions only; a
        # 6-field one with a single seconds value is the same 5-field
        # schedule shifted by those seconds, so it gets the rule too.
        if len(parts) == 6 and parts[0].isdigit():
            return cls(text, " ".join(parts[1:]), int(parts[0]))
        return cls(text, fields, 0)

    def describe(self):
        return CronSim(MACROS.get(self.text.lower(), self.text), datetime(2000, 1, 1)).explain()

    def _times(self, ts, zone, reverse=False):
        start = datetime.fromtimestamp(ts - self.seconds_offset, zone)
        times = CronSim(self.fields, start, reverse=reverse)
        if not self.seconds_offset:
            return times
        # Shift in UTC: local arithmetic would lose `fold` (which 01:30 of a repeated hour).
        offset = timedelta(seconds=self.seconds_offset)
        return ((t.astimezone(timezone.utc) + offset).astimezone(zone) for t in times)

    def next_after(self, ts, zone, count=1):
        """The next `count` due times strictly after epoch `ts`, as aware datetimes in `zone`."""
        times, found = self._times(ts, zone), []
        for when in times:
            found.append(when)
            if len(found) == count:
                break
        return found

    def latest_at_or_before(self, ts, zone):
        """The newest due time at or before epoch `ts` (epoch seconds), or None."""
        return next((t.timestamp() for t in self._times(int(ts) + 1, zone, reverse=True)), None)


def field_error(parts, message):
    """cronsim says "Bad hour"; say which field, what is wrong and what fits."""
    names = [f[0] for f in FIELDS[6 - len(parts):]]
    name = message.removeprefix("Bad ").strip()
    if name not in names:
        return f"cron is not valid ({message}): it needs {SYNTAX}"
    index = names.index(name)
    low, high = next((lo, hi) for n, lo, hi in FIELDS if n == name)
    text = parts[index]
    where = f"field {index + 1} ({name})"
    for number in re.findall(r"\d+", text.split("/")[0]):
        if not low <= int(number) <= high:
            return f"{where}: {number} is out of range {low}–{high}"
    if name == "day-of-month":  # each number fits, yet no chosen month has that day
        return f"{where}: {text} never occurs in the chosen month(s)"
    step = text.partition("/")[2]
    if step and (not step.isdigit() or int(step) == 0):
        return f"{where}: the step after / must be a whole number from 1"
    return (f"{where}: {text!r} is not valid; use numbers {low}–{high}, *, ranges (a-b), lists (a,b) "
            "or steps (*/n)")


def zone(name):
    """The ZoneInfo called `name` (an IANA name such as Europe/Berlin)."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise Invalid("timezone must be an IANA time zone name such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone {name!r} is not a known IANA time zone (such as Europe/Berlin or UTC)") from None


def local_zone_name():
    """The server's own zone as an IANA name: $TZ, /etc/timezone, the
    /etc/localtime link, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    try:
        candidates.append(str(Path("/etc/localtime").resolve()).partition("/zoneinfo/")[2])
    except OSError:
        pass
    for name in filter(None, candidates):
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC"
