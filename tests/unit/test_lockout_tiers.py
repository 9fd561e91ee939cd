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


def test_in_flight_attempts_count(limiter):
    for _ in range(2):
        fail(limiter)
    with limiter.attempt("bob", "192.0.2.1"):
        with pytest.raises(RateLimited):
            with limiter.attempt("bob", "192.0.2.2"):
                pass
    assert not limiter.in_flight


def test_history_is_kept_30_days(limiter):
    fail(limiter)
    limiter.clock.now += 29 * 86400
    assert limiter.cleanup() == 0
    limiter.clock.now += 2 * 86400
    assert limiter.cleanup() == 1
