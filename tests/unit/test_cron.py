"""Cron expressions for schedules: every syntax, DST in two zones, errors in words."""

from datetime import datetime, timezone

import pytest

from toru.errors import Invalid
from toru.tasks.cron import Cron, local_zone_name, zone
from toru.tasks.schedules import preview

BERLIN = zone("Europe/Berlin")
NEW_YORK = zone("America/New_York")


def at(zone_, *parts):
    return datetime(*parts, tzinfo=zone_).timestamp()


def nexts(expr, zone_, start, count=3):
    return [t.isoformat() for t in Cron.parse(expr).next_after(start, zone_, count)]


@pytest.mark.parametrize("expr, expected", [
    ("0 3 * * *", ["2026-06-01T03:00:00+02:00", "2026-06-02T03:00:00+02:00", "2026-06-03T03:00:00+02:00"]),
    ("*/15 * * * *", ["2026-06-01T00:15:00+02:00", "2026-06-01T00:30:00+02:00", "2026-06-01T00:45:00+02:00"]),
    ("0 9 * * MON-FRI", ["2026-06-01T09:00:00+02:00", "2026-06-02T09:00:00+02:00", "2026-06-03T09:00:00+02:00"]),
    ("30 4 1,15 * *", ["2026-06-01T04:30:00+02:00", "2026-06-15T04:30:00+02:00", "2026-07-01T04:30:00+02:00"]),
    ("*/2 * * * * *", ["2026-06-01T00:00:02+02:00", "2026-06-01T00:00:04+02:00", "2026-06-01T00:00:06+02:00"]),
    ("15 0 3 * * *", ["2026-06-01T03:00:15+02:00", "2026-06-02T03:00:15+02:00", "2026-06-03T03:00:15+02:00"]),
    ("@hourly", ["2026-06-01T01:00:00+02:00", "2026-06-01T02:00:00+02:00", "2026-06-01T03:00:00+02:00"]),
    ("@daily", ["2026-06-02T00:00:00+02:00", "2026-06-03T00:00:00+02:00", "2026-06-04T00:00:00+02:00"]),
    ("@weekly", ["2026-06-07T00:00:00+02:00", "2026-06-14T00:00:00+02:00", "2026-06-21T00:00:00+02:00"]),
    ("@monthly", ["2026-07-01T00:00:00+02:00", "2026-08-01T00:00:00+02:00", "2026-09-01T00:00:00+02:00"]),
    ("@yearly", ["2027-01-01T00:00:00+01:00", "2028-01-01T00:00:00+01:00", "2029-01-01T00:00:00+01:00"]),
])
def test_next_times_for_each_syntax(expr, expected):
    # 2026-06-01 00:00 Berlin is a Monday; "after" is strict: midnight itself is not next.
    assert nexts(expr, BERLIN, at(BERLIN, 2026, 6, 1, 0, 0)) == expected


def test_latest_at_or_before_includes_the_moment_itself():
    cron = Cron.parse("0 3 * * *")
    three = at(BERLIN, 2026, 6, 2, 3, 0)
    assert cron.latest_at_or_before(three, BERLIN) == three
    assert cron.latest_at_or_before(three - 1, BERLIN) == at(BERLIN, 2026, 6, 1, 3, 0)


@pytest.mark.parametrize("zone_, spring_day, spring_gap_expected", [
    # Berlin springs from 02:00 to 03:00 on 2026-03-29; New York on 2026-03-08.
    (BERLIN, (2026, 3, 29), "2026-03-29T03:00:00+02:00"),
    (NEW_YORK, (2026, 3, 8), "2026-03-08T03:00:00-04:00"),
])
@pytest.mark.parametrize("expr", ["30 2 * * *", "0 30 2 * * *"])
def test_a_job_in_the_spring_forward_gap_runs_once_right_after_it(zone_, spring_day, spring_gap_expected, expr):
    day_before = at(zone_, *spring_day, 0, 0) - 86400
    times = nexts(expr, zone_, day_before, 3)
    y, m, d = spring_day
    assert times[0] == datetime(y, m, d - 1, 2, 30, tzinfo=zone_).isoformat()
    assert times[1] == spring_gap_expected  # once, not zero times
    assert times[2] == datetime(y, m, d + 1, 2, 30, tzinfo=zone_).isoformat()


@pytest.mark.parametrize("zone_, autumn_day", [(BERLIN, (2026, 10, 25)), (NEW_YORK, (2026, 11, 1))])
def test_a_job_in_the_repeated_autumn_hour_runs_once(zone_, autumn_day):
    # 02:30 (Berlin) / 01:30 (New York) happens twice that night; cron runs the job at the first.
    hour = 2 if zone_ is BERLIN else 1
    cron = Cron.parse(f"30 {hour} * * *")
    start = at(zone_, *autumn_day, 0, 0)
    first, second = cron.next_after(start, zone_, 2)
    assert (first.day, first.hour, first.minute) == (autumn_day[2], hour, 30)
    assert second.day == autumn_day[2] + 1  # not the repeated 02:30 an hour later
    assert second.timestamp() - first.timestamp() == 25 * 3600


def test_hourly_jobs_follow_real_time_through_the_autumn_change():
    times = Cron.parse("0 * * * *").next_after(at(NEW_YORK, 2026, 11, 1, 0, 0), NEW_YORK, 3)
    utc = [t.astimezone(timezone.utc).hour for t in times]
    assert utc == [5, 6, 7]  # 01:00 EDT, 01:00 EST, 02:00 EST: every real hour once


@pytest.mark.parametrize("expr, words", [
    ("0 24 * * *", "field 2 (hour): 24 is out of range 0–23"),
    ("61 * * * *", "field 1 (minute): 61 is out of range 0–59"),
    ("0 0 0 * *", "field 3 (day-of-month): 0 is out of range 1–31"),
    ("0 0 * 13 *", "field 4 (month): 13 is out of range 1–12"),
    ("0 0 * * 8", "field 5 (day-of-week): 8 is out of range 0–7"),
    ("60 0 3 * * *", "field 1 (second): 60 is out of range 0–59"),
    ("*/0 * * * *", "field 1 (minute): the step after / must be a whole number from 1"),
    ("0 0 31 2 *", "field 3 (day-of-month): 31 never occurs in the chosen month(s)"),
    ("x * * * *", "field 1 (minute): 'x' is not valid; use numbers 0–59"),
    ("* * *", "cron has 3 fields; it needs 5 fields (minute hour day-of-month month day-of-week)"),
    ("@often", "@often is not a known macro"),
    ("", "cron is required"),
])
def test_bad_expressions_are_explained_in_words(expr, words):
    with pytest.raises(Invalid) as e:
        Cron.parse(expr)
    assert words in e.value.message


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", None, "x" * 100])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(Invalid, match="timezone"):
        zone(name)


def test_the_server_zone_is_an_iana_name():
    zone(local_zone_name())


def test_preview_describes_and_lists_five_times():
    found = preview("0 3 * * *", "Europe/Berlin", now=at(BERLIN, 2026, 6, 1, 12, 0))
    assert found["description"] == "At 03:00 every day"
    assert found["next"] == [f"2026-06-0{d}T03:00:00+02:00" for d in range(2, 7)]
