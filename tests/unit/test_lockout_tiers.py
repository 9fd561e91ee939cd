"""Lockout tiers and the one-hour window, with a fake clock."""

import pytest

from toru.errors import RateLimited
from toru.login_limits import LoginLimiter, lockout_for
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


def race(limiter, first_succeeds):
    """Attempt A is in flight with 2 failures recorded; B arrives meanwhile.
    Returns (B's outcome, seconds B waited)."""
    import time

    import gevent
    for _ in range(2):
        fail(limiter)
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
    gevent.joinall([a, b], timeout=5, raise_error=True)
    assert not limiter.in_flight
    return b.value


def test_an_attempt_that_could_be_locked_waits_for_those_in_flight(limiter):
    outcome, waited = race(limiter, first_succeeds=False)
    assert outcome == "locked" and waited >= 0.15


def test_a_waiting_attempt_proceeds_when_the_one_in_flight_succeeds(limiter):
    outcome, waited = race(limiter, first_succeeds=True)
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
