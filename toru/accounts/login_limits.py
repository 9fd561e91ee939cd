"""Login rate limiting and the `login_attempts` audit table.

Failures within an hour, counted per username and per client IP, lock
further attempts: 3 → 1 min, 6 → 3 min, 9 → 10 min, 12 → 30 min after the
latest failure (counting the hour up to that failure). A success resets the
username's count (not the IP's). Wrong second-factor codes are failures
like wrong passwords (`bad_code`, `reused_code`), under the same tiers.

Verifying a password takes a while in the threadpool, so attempts are
tracked while in flight: a new attempt that the ones in flight could lock
out by failing waits for them first. Fifty concurrent guesses therefore get
exactly the tier's three verifications, while concurrent honest logins (many
users behind one proxy address) only queue, never get refused.
"""

import math
import time
from collections import Counter
from contextlib import contextmanager

import gevent.event

from toru.accounts.sessions import describe_user_agent
from toru.errors import RateLimited
from toru.logs import rfc3339

WINDOW = 3600
RETENTION = 30 * 24 * 3600
TIERS = [(12, 1800), (9, 600), (6, 180), (3, 60)]  # failures → lockout seconds
MAX_WAIT = 30  # seconds an attempt may wait for those in flight before giving up
# Unsuccessful attempts that are no failure: a refusal while locked, and a
# right password whose second factor is still to come (two_factor.py). Not
# a success either: that would reset the count of wrong codes.
NOT_COUNTED = ("locked", "totp_required")


def lockout_for(failures):
    for threshold, seconds in TIERS:
        if failures >= threshold:
            return seconds
    return 0


class LoginLimiter:
    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock
        self.in_flight = Counter()  # ("user"|"ip", key) → attempts being verified
        self._settled = gevent.event.Event()  # set (and replaced) when one finishes
        # ip → time of its latest failure (the table's, then every one
        # recorded here): an address without a recent failure cannot be
        # locked, and API token requests ask that on every call.
        self._last_ip_failure = None

    def _failures(self, where, value, since):
        """(count, time) of the latest failure matching `where` after `since`,
        counting the failures in the hour up to it: the lock it started runs
        its full length even as older failures age out. Refusals while locked
        are audited but do not count, nor is a right password that still
        needs its second factor (NOT_COUNTED)."""
        counted = f"{where} AND success = 0 AND reason NOT IN {NOT_COUNTED}"
        last = self.store.one(f"SELECT max(created_at) AS t FROM login_attempts "
                              f"WHERE {counted} AND created_at > ?", (value, since))["t"]
        if last is None:
            return 0, None
        n = self.store.one(f"SELECT count(*) AS n FROM login_attempts WHERE {counted} "
                           f"AND created_at > ? AND created_at <= ?", (value, max(since, last - WINDOW), last))["n"]
        return n, last

    def _counts(self, username, ip):
        """{key: (failures, time of the latest)} for the username and the IP."""
        horizon = self.clock() - WINDOW - TIERS[0][1]  # older failures can no longer lock anything
        last_success = self.store.one("SELECT max(created_at) AS t FROM login_attempts "
                                      "WHERE username = ? COLLATE NOCASE AND success = 1", (username,))["t"]
        return {
            ("user", username.lower()): self._failures("username = ? COLLATE NOCASE", username,
                                                       max(horizon, last_success or 0)),
            ("ip", ip): self._failures("ip = ?", ip, horizon),
        }

    def locked_until(self, username, ip):
        """Unix time until which this login is locked, or 0 when it may proceed."""
        now = self.clock()
        until = 0
        for failures, last in self._counts(username, ip).values():
            lock = lockout_for(failures)
            if lock and last + lock > now:
                until = max(until, last + lock)
        return until

    def ip_locked_until(self, ip):
        """Like locked_until for the address alone. API tokens have no user
        name to count under: their failures count toward the IP's tiers only
        (a shared name would let anyone lock every token out)."""
        horizon = self.clock() - WINDOW - TIERS[0][1]
        if self._last_ip_failure is None:
            self._last_ip_failure = {r["ip"]: r["t"] for r in self.store.all(
                f"SELECT ip, max(created_at) AS t FROM login_attempts WHERE success = 0 "
                f"AND reason NOT IN {NOT_COUNTED} AND created_at > ? GROUP BY ip", (horizon,))}
        if self._last_ip_failure.get(ip, 0) <= horizon:
            return 0
        failures, last = self._failures("ip = ?", ip, horizon)
        lock = lockout_for(failures)
        return last + lock if lock and last + lock > self.clock() else 0

    def lock_fields(self, username, ip):
        """{"locked_until", "retry_after"} when locked, else {} (so the
        failure that starts a lock can say so at once)."""
        until = self.locked_until(username, ip)
        if not until:
            return {}
        return {"locked_until": int(math.ceil(until)), "retry_after": max(1, math.ceil(until - self.clock()))}

    def _must_wait(self, username, ip):
        """True while attempts in flight could, by failing, lock this one."""
        return any(self.in_flight[key] and lockout_for(failures + self.in_flight[key])
                   for key, (failures, _) in self._counts(username, ip).items())

    @contextmanager
    def attempt(self, username, ip):
        """Admit one login attempt or raise RateLimited; the attempt is in
        flight while the block runs."""
        keys = [("user", username.lower()), ("ip", ip)]
        deadline = time.monotonic() + MAX_WAIT
        while True:
            lock = self.lock_fields(username, ip)
            if lock:
                raise RateLimited("Too many failed sign-in attempts; try again later",
                                  headers={"Retry-After": lock["retry_after"]}, **lock)
            if not self._must_wait(username, ip):
                break
            if time.monotonic() > deadline:
                raise RateLimited("Too many sign-in attempts at once; try again shortly",
                                  headers={"Retry-After": 5}, retry_after=5, locked_until=int(self.clock()) + 5)
            self._settled.wait(timeout=1)
        for key in keys:
            self.in_flight[key] += 1
        try:
            yield
        finally:
            for key in keys:
                self.in_flight[key] -= 1
                if not self.in_flight[key]:
                    del self.in_flight[key]
            settled, self._settled = self._settled, gevent.event.Event()
            settled.set()  # wake the attempts waiting on this one

    def record(self, username, ip, user_agent, success, reason):
        now = self.clock()
        self.store.execute(
            "INSERT INTO login_attempts(username, ip, user_agent, success, reason, created_at) "
            "VALUES(?, ?, ?, ?, ?, ?)",
            (username[:200], ip, (user_agent or "")[:300], int(success), reason, now))
        if not success and reason not in NOT_COUNTED and self._last_ip_failure is not None:
            self._last_ip_failure[ip] = now

    def history(self, page=0, page_size=50, username=None, success=None):
        where, params = ["created_at > ?"], [self.clock() - RETENTION]
        if username:
            where.append("username = ? COLLATE NOCASE")
            params.append(username)
        if success is not None:
            where.append("success = ?")
            params.append(int(success))
        clause = " AND ".join(where)
        total = self.store.one(f"SELECT count(*) AS n FROM login_attempts WHERE {clause}", params)["n"]
        rows = self.store.all(
            f"SELECT * FROM login_attempts WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            params + [page_size, page * page_size])
        return {"attempts": [attempt_dict(r) for r in rows], "page": page, "page_size": page_size, "total": total}

    def cleanup(self):
        return self.store.execute("DELETE FROM login_attempts WHERE created_at <= ?",
                                  (self.clock() - RETENTION,)).rowcount


def attempt_dict(row):
    """A login attempt, with the original Toru's field names beside ours
    (DESIGN §6a), and its user agent in words (`device`, as for sessions)."""
    success = bool(row["success"])
    return dict(row, success=success, ip_address=row["ip"], failure_reason=None if success else row["reason"],
                attempted_at=rfc3339(row["created_at"]), device=describe_user_agent(row["user_agent"]))
