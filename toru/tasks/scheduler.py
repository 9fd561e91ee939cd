"""The scheduler: one greenlet that sleeps until the next due time of any
enabled schedule, then runs or skips what is due (docs/tasks.md#schedules).

Rules, each with its reason:
- Each schedule stores `last_due`, the newest due time already handled. It
  is written before the run starts, so a crash or a restart never runs one
  due time twice; a wall clock stepped back re-runs nothing either.
- The loop sleeps until the earliest next due time, at most
  `timings.schedule_recheck` (it re-reads the wall clock that often, so an
  NTP step is noticed), and wakes at once when a schedule changes.
- When several due times passed at once (the clock stepped forward, the
  machine was suspended), the schedule runs once, not once per due time.
- At start, due times missed while Toru was down follow `catch_up`: `skip`
  records one skipped run saying so, `once` runs once.
- A run still going when the next is due follows `overlap`: `skip` records
  a skipped run, `queue` runs it when the current one ends (at most one
  waits; a queued run is not kept across a restart), `allow` runs it.
- A run is checked like a manual one when it starts. An action that is gone
  or values that no longer fit disable the schedule with a reason; a full
  task table (max_concurrent_tasks) or a single-instance script already
  running skips that one run with the reason.
"""

import json
import logging
import time
import uuid
from datetime import datetime

import gevent
import gevent.event

from toru.errors import Conflict, Invalid, NotFound, RateLimited
from toru.tasks.cron import Cron, zone

log = logging.getLogger("toru.schedules")
audit = logging.getLogger("toru.audit")
MISSED_COUNT_LIMIT = 1000  # counting missed due times stops here ("1000 or more")


def identity(row):
    """Who a scheduled run runs as: the schedule itself, with an admin's
    rights to its action (an admin made it; the history says `schedule:<name>`)."""
    return {"id": None, "username": f"schedule:{row['name']}", "role": "admin"}


class Scheduler:
    def __init__(self, schedules, runner, history, topic, timings, greenlets, clock=time.time):
        self.schedules = schedules
        self.runner = runner
        self.history = history
        self.topic = topic            # hub topic `schedules` (admins): {"schedule_id"} on every change
        self.timings = timings
        self.greenlets = greenlets
        self.clock = clock
        self.wake = gevent.event.Event()
        self.waiting = {}             # schedule id → the greenlet of its one queued run
        schedules.listeners.append(self._changed)

    def _changed(self, schedule_id):
        self.wake.set()
        self.topic.publish({"schedule_id": schedule_id})

    # --- the loop ----------------------------------------------------------------------------
    def run(self):
        self.catch_up(self.clock())
        while True:
            self.wake.clear()
            try:
                upcoming = self.tick(self.clock())
            except Exception:
                log.exception("the scheduler failed a round; trying again")
                upcoming = None
            delay = self.timings.schedule_recheck
            if upcoming is not None:
                delay = min(delay, max(0.0, upcoming - self.clock()))
            self.wake.wait(delay)

    def enabled(self):
        """(row, cron, zone) of every enabled schedule; one whose cron or zone
        no longer parses (a zone gone from the system's tz database) is
        disabled with the reason instead."""
        for row in self.schedules.rows(enabled_only=True):
            try:
                yield row, Cron.parse(row["cron"]), zone(row["timezone"])
            except Invalid as e:
                self.schedules.disable(row["id"], f"its cron or time zone is no longer valid: {e.message}")

    def catch_up(self, now):
        """At start: what came due while Toru was not running."""
        for row, cron, tz in self.enabled():
            latest = cron.latest_at_or_before(now, tz)
            if latest is None or latest <= row["last_due"]:
                continue
            missed = self.missed(cron, tz, row["last_due"], now)
            self.schedules.handled(row["id"], latest)
            when = datetime.fromtimestamp(latest, tz).strftime("%Y-%m-%d %H:%M:%S %Z")
            if row["catch_up"] == "once":
                log.info("catching up a schedule", extra={"schedule_id": row["id"], "missed": missed})
                self.fire(row, latest)
            else:
                more = f" (and {missed - 1} earlier due time{'s' if missed > 2 else ''})" if missed > 1 else ""
                self.skip(row, latest, f"Toru was not running at {when}{more}; catch-up is off")

    def missed(self, cron, tz, last_due, now):
        times = cron.next_after(last_due, tz, MISSED_COUNT_LIMIT)
        return sum(1 for t in times if t.timestamp() <= now)

    def tick(self, now):
        """Run or skip every schedule due at `now`; the next due time of all (epoch) or None."""
        upcoming = None
        for row, cron, tz in self.enabled():
            latest = cron.latest_at_or_before(now, tz)
            if latest is not None and latest > row["last_due"]:
                missed = self.missed(cron, tz, row["last_due"], now)
                if missed > 1:
                    log.warning("several due times passed at once (the clock jumped, or Toru was suspended): "
                                "running once", extra={"schedule_id": row["id"], "missed": missed})
                self.schedules.handled(row["id"], latest)
                self.fire(row, latest)
            following = cron.next_after(max(now, row["last_due"]), tz)
            if following:
                upcoming = min(upcoming or float("inf"), following[0].timestamp())
        return upcoming

    # --- one due time ---------------------------------------------------------------------------
    def fire(self, row, due):
        """Due time `due` of schedule `row`: start it, queue it or skip it, as `overlap` says."""
        going = [t for t in self.runner.running.values() if t.schedule_id == row["id"]]
        if going and row["overlap"] == "skip":
            return self.skip(row, due, "the previous run was still running (overlap: skip)")
        if going and row["overlap"] == "queue":
            if row["id"] in self.waiting:
                return self.skip(row, due, "a run was already waiting for the current one (overlap: queue keeps one)")
            self.waiting[row["id"]] = self.greenlets.spawn(self._run_after, row["id"], going, due)
            return None
        return self.start(row, due)

    def _run_after(self, schedule_id, going, due):
        try:
            for task in going:
                task.done.wait()
            self.waiting.pop(schedule_id, None)
            try:
                row = self.schedules.row(schedule_id)
            except NotFound:
                return
            if row["enabled"]:
                self.start(row, due)
        finally:
            self.waiting.pop(schedule_id, None)

    def start(self, row, due):
        """Start one run, checked like a manual one; None when it could not start."""
        if row["quick_action_id"] is None:
            self.schedules.disable(row["id"], "its quick action was deleted")
            return None
        try:
            task = self._launch(row)
        except NotFound:
            self.schedules.disable(row["id"], "its quick action was deleted")
            return None
        except Invalid as e:
            # The action's arguments changed under the schedule: its values no longer fit.
            detail = "; ".join(f"{k}: {v}" for k, v in (e.extra.get("fields") or {}).items()) or e.message
            self.schedules.disable(row["id"], f"its arguments no longer fit the action ({detail}): edit them")
            return None
        except (RateLimited, Conflict) as e:
            self.skip(row, due, e.message)
            return None
        log.info("schedule ran", extra={"schedule_id": row["id"], "task_id": task.id, "due": due})
        return task

    def _launch(self, row):
        task = self.runner.run_action(identity(row), row["quick_action_id"], json.loads(row["arguments"]),
                                      confirmed=True, trigger="schedule", schedule_id=row["id"])
        self.schedules.changed(row["id"])
        self.greenlets.spawn(self._announce_end, task, row["id"])
        return task

    def _announce_end(self, task, schedule_id):
        task.done.wait()
        self.schedules.changed(schedule_id)  # its last outcome changed

    def skip(self, row, due, reason):
        script = ""
        if row["quick_action_id"]:
            try:
                script = self.runner.quick_actions.get(row["quick_action_id"])["script"]
            except NotFound:
                pass
        self.history.record_skipped(str(uuid.uuid4()), script, identity(row)["username"], row["quick_action_id"],
                                    row["id"], due, reason)
        log.info("schedule skipped", extra={"schedule_id": row["id"], "due": due, "reason": reason})
        self.schedules.changed(row["id"])

    # --- by hand --------------------------------------------------------------------------------
    def run_now(self, schedule_id, actor):
        """POST /api/schedules/<id>/run: one run now, with the overlap rule
        (409 for skip, None when queued). The due time stays as it is."""
        row = self.schedules.row(schedule_id)
        going = [t for t in self.runner.running.values() if t.schedule_id == row["id"]]
        if going and row["overlap"] == "skip":
            raise Conflict(f"A run of {row['name']} is still going (task {going[0].id}) and its overlap is skip")
        if going and row["overlap"] == "queue":
            if row["id"] in self.waiting:
                raise Conflict(f"A run of {row['name']} is already waiting for the current one to end")
            self.waiting[row["id"]] = self.greenlets.spawn(self._run_after, row["id"], going, self.clock())
            audit.info("schedule queued by hand", extra={"actor": actor, "schedule_id": row["id"]})
            return None
        if row["quick_action_id"] is None:
            raise Conflict(f"{row['name']} has no quick action any more (it was deleted): choose one")
        task = self._launch(row)
        audit.info("schedule run by hand", extra={"actor": actor, "schedule_id": row["id"], "task_id": task.id})
        return task
