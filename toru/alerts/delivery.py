"""Delivery of notifications to channels, off the caller's path (docs/alerts.md#delivery).

`Dispatcher.enqueue(notification, channel_ids, alert_id=None)` only puts one
item per channel on a bounded queue and returns: the engine calls it from the
sampler's greenlet and a request never waits for a receiver. One worker
greenlet (`run`, in `Services.greenlets`) hands each item to its own greenlet
in a bounded pool, so a channel that hangs holds only its own delivery.
Each attempt has `alert_delivery_timeout` (gevent.Timeout around the whole
exchange, the same value as the socket timeout); a failure worth retrying is
tried again after `alert_retry_base`, then twice that, three attempts in all.
Every attempt is a row of `alert_deliveries` (`DeliveryLog`), kept
`alert_history_days`.
"""

import logging
import time
from datetime import datetime, timezone

import gevent
import gevent.pool
import gevent.queue

from toru.alerts import apprise_channel, mail, webhook
from toru.alerts.outcome import DeliveryTimeout, timed_out

log = logging.getLogger("toru.alerts")

ATTEMPTS = 3
QUEUE_SIZE = 1000       # items waiting; beyond it new ones are dropped (and logged), callers never wait
PARALLEL = 16           # deliveries in flight at once
SENDERS = {"webhook": webhook, "email": mail, "apprise": apprise_channel}
DAY = 86400


def utc_now_iso(now):
    return datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class DeliveryLog:
    """The `alert_deliveries` rows: one per attempt."""

    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock

    def record(self, channel_id, alert_id, alert, status, attempt, outcome, duration):
        cursor = self.store.execute(
            "INSERT INTO alert_deliveries(channel_id, alert_id, alert, status, attempt, ok, status_code, result, "
            "duration, at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (channel_id, alert_id, alert, status, attempt, int(outcome.ok), outcome.status_code, outcome.result,
             round(duration, 3), self.clock()))
        return cursor.lastrowid

    def page(self, channel_id=None, page=0, size=50):
        where, params = ("WHERE d.channel_id = ?", (channel_id,)) if channel_id is not None else ("", ())
        total = self.store.one(f"SELECT count(*) AS n FROM alert_deliveries d {where}", params)["n"]
        rows = self.store.all(f"SELECT d.*, c.name AS channel_name FROM alert_deliveries d "
                              f"JOIN alert_channels c ON c.id = d.channel_id {where} "
                              f"ORDER BY d.at DESC, d.id DESC LIMIT ? OFFSET ?", (*params, size, page * size))
        return {"deliveries": [public(r) for r in rows], "total": total, "page": page, "page_size": size}

    def get(self, delivery_id):
        row = self.store.one("SELECT d.*, c.name AS channel_name FROM alert_deliveries d "
                             "JOIN alert_channels c ON c.id = d.channel_id WHERE d.id = ?", (delivery_id,))
        return public(row)

    def prune(self, days):
        self.store.execute("DELETE FROM alert_deliveries WHERE at < ?", (self.clock() - days * DAY,))


def public(row):
    return {"id": row["id"], "channel_id": row["channel_id"], "channel_name": row["channel_name"],
            "alert_id": row["alert_id"], "alert": row["alert"], "status": row["status"], "attempt": row["attempt"],
            "ok": bool(row["ok"]), "status_code": row["status_code"], "result": row["result"],
            "duration": row["duration"], "at": row["at"]}


class Dispatcher:
    def __init__(self, channels, deliveries, timings, host, instance_id, clock=time.time):
        self.channels = channels
        self.deliveries = deliveries
        self.timeout = timings.alert_delivery_timeout
        self.retry_base = timings.alert_retry_base
        self.host = host
        self.instance_id = instance_id
        self.clock = clock
        self.queue = gevent.queue.JoinableQueue(QUEUE_SIZE)
        self.pool = gevent.pool.Pool(PARALLEL)

    def enqueue(self, notification, channel_ids, alert_id=None):
        """Deliver `notification` to each channel later; returns at once, never blocks."""
        for channel_id in dict.fromkeys(channel_ids):
            try:
                self.queue.put_nowait((notification, channel_id, alert_id))
            except gevent.queue.Full:
                log.error("alert delivery queue full: notification dropped",
                          extra={"channel_id": channel_id, "alert": notification.get("alert")})

    def run(self):
        """The worker greenlet: one delivery greenlet per item, at most PARALLEL at once."""
        try:
            while True:
                item = self.queue.get()
                self.pool.spawn(self._deliver_item, *item)
        finally:
            self.pool.kill(timeout=1)

    def join(self, timeout=None):
        """True once every queued delivery has finished all its attempts (tests, shutdown)."""
        return self.queue.join(timeout)

    def _deliver_item(self, notification, channel_id, alert_id):
        try:
            self.deliver(notification, channel_id, alert_id)
        except Exception:
            log.exception("alert delivery failed unexpectedly", extra={"channel_id": channel_id})
        finally:
            self.queue.task_done()

    def deliver(self, notification, channel_id, alert_id=None):
        """Up to ATTEMPTS attempts, with backoff between those worth retrying."""
        for attempt in range(1, ATTEMPTS + 1):
            channel = self.channels.find(channel_id)  # re-read: deleted or fixed between attempts
            if channel is None:
                log.warning("alert channel gone: delivery dropped", extra={"channel_id": channel_id})
                return None
            outcome, _ = self.attempt(channel, notification, alert_id, attempt)
            if outcome.ok or not outcome.retry:
                return outcome
            if attempt < ATTEMPTS:
                gevent.sleep(self.retry_base * 2 ** (attempt - 1))
        log.warning("alert not delivered", extra={"channel_id": channel_id, "alert": notification.get("alert"),
                                                  "attempts": ATTEMPTS, "result": outcome.result})
        return outcome

    def attempt(self, channel, notification, alert_id, attempt, status=None):
        """One attempt, bounded by the timeout and recorded; (Outcome, delivery id)."""
        sender = SENDERS[channel["type"]]
        started = time.monotonic()
        try:
            with gevent.Timeout(self.timeout, DeliveryTimeout):
                outcome = sender.send(channel["config"], notification, self.timeout)
        except DeliveryTimeout:
            outcome = timed_out(sender.where(channel["config"]), self.timeout)
        duration = time.monotonic() - started
        delivery_id = self.deliveries.record(channel["id"], alert_id, notification["alert"],
                                              status or notification["status"], attempt, outcome, duration)
        if not outcome.ok:
            log.info("alert delivery attempt failed", extra={"channel_id": channel["id"], "attempt": attempt,
                                                             "result": outcome.result})
        return outcome, delivery_id

    def test(self, channel_id):
        """Send a test notification now, once; the recorded attempt (its `result` in words)."""
        channel = self.channels.row(channel_id)
        _, delivery_id = self.attempt(channel, self.test_notification(channel), None, 1, status="test")
        return self.deliveries.get(delivery_id)

    def test_notification(self, channel):
        return {"alert": "Toru test notification", "status": "firing", "severity": "info",
                "summary": f"A test from Toru on {self.host}: channel {channel['name']!r} works.",
                "value": None, "labels": {"test": "true"}, "started_at": utc_now_iso(self.clock()),
                "resolved_at": None, "host": self.host, "instance_id": self.instance_id, "url": None}
