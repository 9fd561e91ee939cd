"""Schedules: quick actions run on a cron schedule (docs/tasks.md#schedules).

A schedule names an action, a cron expression in a time zone, the values
for the action's arguments, and what to do when a run is still going
(`overlap`) or when Toru was down across due times (`catch_up`). This
module checks and stores schedules and shows them with their next runs and
last outcome; `toru/tasks/scheduler.py` runs them. Routes:
`/api/schedules` (admins).
"""

import json
import logging
import time

import bottle

from toru.checks import boolean, choice, create_or_update, label
from toru.accounts.auth import current_user
from toru.errors import FieldErrors, Invalid, NotFound
from toru.tasks.cron import Cron, local_zone_name, zone
from toru.web.http import json_body

audit = logging.getLogger("toru.audit")

FIELDS = ("name", "quick_action_id", "cron", "timezone", "arguments", "enabled", "overlap", "catch_up")
OVERLAP = ("skip", "queue", "allow")
CATCH_UP = ("skip", "once")
NEXT_RUNS = 5
NAME_LIMIT = 100
LAST_RUN = ("(SELECT json_object('task_id', h.id, 'status', h.status, 'started_at', h.started_at) "
            "FROM task_history h WHERE h.schedule_id = schedules.id ORDER BY h.started_at DESC LIMIT 1) "
            "AS last_run")
ACTION = "(SELECT q.name FROM quick_actions q WHERE q.id = schedules.quick_action_id) AS quick_action_name"


def preview(cron_text, timezone_name, now=None, count=NEXT_RUNS):
    """{"description", "next": [RFC 3339 times]} of an expression, for the
    editor; a 400 names the field (`cron` or `timezone`) it is about."""
    errors = FieldErrors()
    cron = errors.check("cron", Cron.parse, cron_text)
    tz = errors.check("timezone", zone, timezone_name)
    if errors.fields:
        raise Invalid("; ".join(errors.fields.values()), fields=errors.fields)
    return {"description": cron.describe(),
            "next": [t.isoformat() for t in cron.next_after(time.time() if now is None else now, tz, count)]}


class Schedules:
    def __init__(self, store, quick_actions, clock=time.time):
        self.store = store
        self.quick_actions = quick_actions
        self.clock = clock
        self.default_timezone = local_zone_name()
        self.listeners = []  # fn(schedule_id) after a schedule changed, ran, was skipped or disabled

    def changed(self, schedule_id):
        for listener in self.listeners:
            listener(schedule_id)

    # --- reading -----------------------------------------------------------------------
    def rows(self, enabled_only=False):
        where = "WHERE enabled = 1 " if enabled_only else ""
        return self.store.all(f"SELECT * FROM schedules {where}ORDER BY name")

    def row(self, schedule_id):
        row = self.store.one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        if row is None:
            raise NotFound("No schedule with that id")
        return row

    def list(self):
        now = self.clock()
        return [self.public(r, now) for r in
                self.store.all(f"SELECT *, {LAST_RUN}, {ACTION} FROM schedules ORDER BY name")]

    def get(self, schedule_id):
        row = self.store.one(f"SELECT *, {LAST_RUN}, {ACTION} FROM schedules WHERE id = ?", (schedule_id,))
        if row is None:
            raise NotFound("No schedule with that id")
        return self.public(row, self.clock())

    def public(self, row, now):
        cron = Cron.parse(row["cron"])
        next_runs = [t.isoformat() for t in cron.next_after(max(now, row["last_due"]), zone(row["timezone"]),
                                                             NEXT_RUNS)] if row["enabled"] else []
        return {"id": row["id"], "name": row["name"], "quick_action_id": row["quick_action_id"],
                "quick_action_name": row["quick_action_name"], "cron": row["cron"], "timezone": row["timezone"],
                "arguments": json.loads(row["arguments"]), "enabled": bool(row["enabled"]),
                "overlap": row["overlap"], "catch_up": row["catch_up"], "disabled_reason": row["disabled_reason"],
                "created_by": row["created_by"], "created_at": row["created_at"], "updated_at": row["updated_at"],
                "description": cron.describe(), "next_runs": next_runs,
                "last_run": json.loads(row["last_run"]) if row["last_run"] else None}

    # --- changing (admins) ------------------------------------------------------------------
    def check(self, data, current=None):
        """The checked columns to write; Invalid with `fields` naming every bad one."""
        create_or_update(data, FIELDS, ("name", "quick_action_id", "cron"), creating=current is None)
        errors, checked = FieldErrors(), {}
        checks = {"name": lambda v: label(v, NAME_LIMIT), "cron": lambda v: Cron.parse(v).text, "timezone": self.check_timezone,
                  "enabled": boolean, "overlap": choice(OVERLAP), "catch_up": choice(CATCH_UP)}
        for field, check in checks.items():
            if field in data:
                checked[field] = errors.check(field, check, data[field])
        action = None
        if "quick_action_id" in data:
            action = errors.check("quick_action_id", self.check_action, data["quick_action_id"])
            checked["quick_action_id"] = data["quick_action_id"]
        elif current is not None and ("arguments" in data) and current["quick_action_id"]:
            action = self.quick_actions.get(current["quick_action_id"])
        name = checked.get("name")
        if name and self.store.one("SELECT 1 FROM schedules WHERE name = ? AND id != ?",
                                   (name, current["id"] if current else -1)):
            errors.add("name", "Another schedule has this name")
        errors.raise_any()
        if action is not None:  # new action or new values: the values must fit the action
            if "arguments" in data:
                values = data["arguments"]
            else:  # the values kept only while the action stays the same
                values = json.loads(current["arguments"]) if current and "quick_action_id" not in data else {}
            checked["arguments"] = json.dumps(self.check_arguments(action, values), ensure_ascii=False)
        return checked

    def check_timezone(self, value):
        zone(value)
        return value

    def check_action(self, action_id):
        try:
            return self.quick_actions.get(action_id)
        except NotFound:
            raise Invalid("No quick action with that id") from None

    def check_arguments(self, action, values):
        """The values to store for `action`'s arguments. A password is never
        stored, so an action that needs one cannot be scheduled."""
        secret = [d["name"] for d in action["arguments"] if d["type"] == "password"]
        if isinstance(values, dict):
            refused = {n: "A password is never stored, so it cannot be scheduled"
                       for n in secret if values.get(n) not in (None, "")
                       or next(d for d in action["arguments"] if d["name"] == n)["required"]}
            if refused:
                raise Invalid(f"{action['name']} needs a password, which a schedule cannot keep", fields=refused)
        record = self.quick_actions.arguments.values(action["arguments"], values).record
        return {k: v for k, v in record.items() if k not in secret}

    def create(self, data, actor):
        fields = self.check(data)
        now = self.clock()
        fields.setdefault("timezone", self.default_timezone)
        fields.update(created_by=actor, created_at=now, updated_at=now, last_due=now)
        names = ", ".join(fields)
        cursor = self.store.execute(f"INSERT INTO schedules({names}) VALUES({', '.join('?' * len(fields))})",
                                    tuple(fields.values()))
        self.changed(cursor.lastrowid)
        return self.get(cursor.lastrowid)

    def update(self, schedule_id, data):
        current = self.row(schedule_id)
        fields = self.check(data, current)
        now = self.clock()
        # A new time rule, or switching back on, starts counting from now:
        # due times before it are not "missed".
        if {"cron", "timezone"} & set(fields) or (fields.get("enabled") and not current["enabled"]):
            fields["last_due"] = max(now, current["last_due"])
        if fields.get("enabled"):
            fields["disabled_reason"] = None
        sets = "".join(f"{k} = ?, " for k in fields)
        self.store.execute(f"UPDATE schedules SET {sets}updated_at = ? WHERE id = ?",
                           (*fields.values(), now, schedule_id))
        self.changed(schedule_id)
        return self.get(schedule_id)

    def delete(self, schedule_id):
        schedule = self.get(schedule_id)
        self.store.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
        self.changed(schedule_id)
        return schedule

    # --- what the scheduler writes ------------------------------------------------------------
    def handled(self, schedule_id, due):
        """Due time `due` was run, skipped or given up on: never again, even after a restart."""
        self.store.execute("UPDATE schedules SET last_due = max(last_due, ?) WHERE id = ?", (due, schedule_id))

    def disable(self, schedule_id, reason):
        self.store.execute("UPDATE schedules SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
                           (reason, self.clock(), schedule_id))
        audit.warning("schedule disabled", extra={"schedule_id": schedule_id, "reason": reason})
        self.changed(schedule_id)


def register(app, services):
    schedules, scheduler = services.schedules, services.scheduler

    def schedule_id(value):
        try:
            return int(value)
        except ValueError:
            raise NotFound("No schedule with that id") from None

    def actor():
        return current_user()["username"]

    @app.get("/api/schedules", role="admin")
    def list_schedules():
        return {"schedules": schedules.list(), "default_timezone": schedules.default_timezone}

    @app.get("/api/schedules/preview", role="admin")
    def preview_schedule():
        query = bottle.request.query
        return preview(query.get("cron", ""), query.get("timezone") or schedules.default_timezone)

    @app.post("/api/schedules", role="admin", audit="schedule.create")
    def create_schedule():
        schedule = schedules.create(json_body(), actor())
        audit.info("schedule created", extra={"actor": actor(), "schedule_id": schedule["id"],
                                              "quick_action": schedule["quick_action_id"], "cron": schedule["cron"]})
        bottle.response.status = 201
        return {"schedule": schedule}

    @app.get("/api/schedules/<sid>", role="admin")
    def get_schedule(sid):
        return {"schedule": schedules.get(schedule_id(sid))}

    @app.put("/api/schedules/<sid>", role="admin", audit="schedule.update")
    def update_schedule(sid):
        data = json_body()
        schedule = schedules.update(schedule_id(sid), data)
        audit.info("schedule updated", extra={"actor": actor(), "schedule_id": schedule["id"],
                                              "changes": sorted(data)})
        return {"schedule": schedule}

    @app.delete("/api/schedules/<sid>", role="admin", audit="schedule.delete")
    def delete_schedule(sid):
        schedule = schedules.delete(schedule_id(sid))
        audit.info("schedule deleted", extra={"actor": actor(), "schedule_id": schedule["id"],
                                              "schedule": schedule["name"]})
        return {"success": True}

    @app.post("/api/schedules/<sid>/run", role="admin", audit="schedule.run")
    def run_schedule(sid):
        task = scheduler.run_now(schedule_id(sid), actor())
        if task is None:
            bottle.response.status = 202
            return {"queued": True}
        bottle.response.status = 201
        return {"task_id": task.id}
