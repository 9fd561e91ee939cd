"""Lockout tiers and the one-hour window, with a fake clock."""

import pytest

from toru.errors import RateLimited
from toru.accounts.login_limits import LoginLimiter, lockout_for
from toru.store import Store


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def limiter(tmp_path):
    store = Store(tmp_path / "toru.db")
    yield LoginLimiter(store, clock=Clock())
    store.close()


def fail(limiter, username="bob", ip="192.0.2.1"):
    with limiter.attempt(username, ip):
        pass
    limiter.record(username, ip, "test", False, "bad_password")


@pytest.mark.parametrize("failures,seconds", [(0, 0), (2, 0), (3, 60), (5, 60), (6, 180), (8, 180),
                                              (9, 600), (11, 600), (12, 1800), (40, 1800)])
def test_tiers(failures, seconds):
    assert lockout_for(failures) == seconds


@pytest.mark.parametrize("failures,lock", [(3, 60), (6, 180), (9, 600), (12, 1800)])
def test_lock_lasts_the_tier_after_the_latest_failure(limiter, failures, lock):
    for _ in range(failures):
        limiter.clock.now = max(limiter.clock.now, limiter.locked_until("bob", "192.0.2.1")) + 1
        fail(limiter)
    assert limiter.locked_until("bob", "192.0.2.99") == limiter.clock.now + lock
    limiter.clock.now += lock - 1
    with pytest.raises(RateLimited) as e:
        with limiter.attempt("bob", "192.0.2.99"):
            pass
    assert e.value.extra["retry_after"] == 1
    limiter.clock.now += 1
    with limiter.attempt("bob", "192.0.2.99"):
        pass


def test_failures_older_than_an_hour_do_not_count(limiter):
    for _ in range(2):
        fail(limiter)
    limiter.clock.now += 3601
    fail(limiter)
    assert limiter.locked_until("bob", "192.0.2.1") == 0


RACE = r"""
import json, sys, time
import gevent, gevent.event
sys.path.insert(0, sys.argv[1])
from toru.errors import RateLimited
from toru.accounts.login_limits import LoginLimiter
from toru.store import Store

limiter = LoginLimiter(Store(sys.argv[2]))
first_succeeds = sys.argv[3] == "1"
for _ in range(2):
    limiter.record("bob", "192.0.2.1", "t", False, "bad_password")
entered = gevent.event.Event()

def first():
    with limiter.attempt("bob", "192.0.2.1"):
        entered.set()
        gevent.sleep(0.2)  # verifying the password
        limiter.record("bob", "192.0.2.1", "t", first_succeeds, "ok" if first_succeeds else "bad_password")

def second():
    entered.wait()
    started = time.monotonic()
    try:
        with limiter.attempt("bob", "192.0.2.2"):
            return "admitted", time.monotonic() - started
    except RateLimited:
        return "locked", time.monotonic() - started

a, b = gevent.spawn(first), gevent.spawn(second)
gevent.joinall([a, b], timeout=20, raise_error=True)
print(json.dumps({"outcome": b.value, "done": a.dead and b.dead, "in_flight": len(limiter.in_flight)}))
"""


def race(tmp_path, first_succeeds):
    """Attempt A is in flight with 2 failures recorded; B arrives meanwhile.
    Run in a fresh interpreter: its own gevent hub, nothing else in it."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", RACE, root, str(tmp_path / "race.db"), "1" if first_succeeds else "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["done"] and result["in_flight"] == 0, result
    return result["outcome"]


def test_an_attempt_that_could_be_locked_waits_for_those_in_flight(tmp_path):
    outcome, waited = race(tmp_path, first_succeeds=False)
    assert outcome == "locked" and waited >= 0.15


def test_a_waiting_attempt_proceeds_when_the_one_in_flight_succeeds(tmp_path):
    outcome, waited = race(tmp_path, first_succeeds=True)
    assert outcome == "admitted" and waited >= 0.15


def test_attempts_far_from_a_lock_do_not_wait(limiter):
    import gevent
    results = []

    def one(i):
        with limiter.attempt(f"user{i}", "192.0.2.1" if i < 2 else f"192.0.2.{i}"):
            results.append(i)
            gevent.sleep(0.1)

    import time
    started = time.monotonic()
    gevent.joinall([gevent.spawn(one, i) for i in range(2)], timeout=5, raise_error=True)
    assert sorted(results) == [0, 1]
    assert time.monotonic() - started < 0.19, "the second attempt waited for the first"


def test_history_is_kept_30_days(limiter):
    fail(limiter)
    limiter.clock.now += 29 * 86400
    assert limiter.cleanup() == 0
    limiter.clock.now += 2 * 86400
    assert limiter.cleanup() == 1


def test_an_address_lock_holds_across_a_restart_and_ages_out(limiter):
    assert limiter.ip_locked_until("192.0.2.9") == 0  # the first ask reads the table (empty)
    for n in range(3):
        fail(limiter, username=f"user{n}", ip="192.0.2.9")  # three names, one address
    assert limiter.ip_locked_until("192.0.2.9") == limiter.clock.now + 60
    assert limiter.ip_locked_until("192.0.2.10") == 0
    restarted = LoginLimiter(limiter.store, clock=limiter.clock)  # failures from before the start count
    assert restarted.ip_locked_until("192.0.2.9") == limiter.clock.now + 60
    limiter.clock.now += 61
    assert restarted.ip_locked_until("192.0.2.9") == 0
    fail(restarted, username="user9", ip="192.0.2.9")  # the next failure in the hour locks again
    assert restarted.ip_locked_until("192.0.2.9") > limiter.clock.now
