"""Task history: one `task_history` row per run, written when the task starts
(status `running`) and completed when it ends, so a crash leaves a row to mark
`interrupted` — never a run without a trace. Routes: `/api/history`.

Every end of a task passes here (`finish`, `record_skipped`,
`mark_interrupted`), so `TaskCounts` counts them here for `/metrics`.
"""

import bisect
import collections
import json
import logging
import re
import time

import bottle

from toru.accounts.auth import current_user, is_admin
from toru.errors import Conflict, Forbidden, Invalid, NotFound
from toru.processes import ended_text
from toru.tasks.output import recover_spool
from toru.tasks.quick_actions import visible_sql
from toru.web.http import int_param, json_body, paging

log = logging.getLogger("toru.tasks")
audit = logging.getLogger("toru.audit")

STATUSES = ("running", "success", "failed", "cancelled", "timed_out", "interrupted", "skipped")
TRIGGERS = ("ws", "quick_action", "rerun", "schedule")
# The action's current name (None for a script run, or once the action is deleted).
ACTION_NAME = ("(SELECT q.name FROM quick_actions q WHERE q.id = task_history.quick_action_id) "
               "AS quick_action_name")
SCHEDULE_NAME = "(SELECT s.name FROM schedules s WHERE s.id = task_history.schedule_id) AS schedule_name"
SUMMARY = ("id, script, started_by, started_by_id, trigger, quick_action_id, started_at, finished_at, "
           "status, exit_code, exit_signal, output_truncated, output_bytes, peak_rss, cpu_seconds, arguments, "
           "schedule_id, reason, " + ACTION_NAME + ", " + SCHEDULE_NAME)
# What a download's file name keeps of a script name: nothing that could end the header's quotes.
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")
# Statuses where Toru, not the script, decided the end: their words say so first.
STOPPED_BY_TORU = {"cancelled": "Cancelled", "timed_out": "Timed out", "interrupted": "Interrupted"}
# Upper bounds (seconds) of /metrics' task duration histogram: a quick action
# takes seconds, a backup or an upgrade minutes to hours.
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600)


def exit_text(status, exit_code, exit_signal, reason=None):
    """How a run ended, in the words the UI shows (docs/tasks.md has the
    table): "Exit code 1", "Killed by SIGKILL" (from outside Toru),
    "Cancelled — stopped by SIGTERM", "Timed out — stopped by SIGKILL",
    "Interrupted — Toru stopped while it ran" (no exit status: a crash),
    "Skipped — <reason>" (a schedule's run that did not start); None while
    it runs. Never "exit code -15": a signal is named."""
    if status == "running":
        return None
    if status == "skipped":
        return f"Skipped — {reason}" if reason else "Skipped"
    reason = STOPPED_BY_TORU.get(status)
    if reason is None:
        text = ended_text(exit_code, exit_signal)
        return text[0].upper() + text[1:]
    if exit_signal:
        return f"{reason} — stopped by {exit_signal}"
    if exit_code is not None:  # the script caught the TERM and exited by itself
        return f"{reason} — {ended_text(exit_code)}"
    return f"{reason} — Toru stopped while it ran" if status == "interrupted" else reason


def summary(row):
    task = {key: row[key] for key in row.keys() if key not in ("output", "started_by_id")}
    task["output_truncated"] = bool(task["output_truncated"])
    task["arguments"] = json.loads(task["arguments"])  # as run, passwords masked ("••••")
    task["exit_text"] = exit_text(task["status"], task["exit_code"], task["exit_signal"], task.get("reason"))
    task["script_name"] = task["script"]  # the original Toru's name for it (DESIGN §6a)
    return task


class TaskCounts:
    """Task ends since this process started, for /metrics. Kept in memory,
    not counted from the table: pruning deletes rows, and a counter must
    never go down."""

    def __init__(self):
        self.ended = collections.Counter()  # (status, trigger) → runs
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # runs per bucket (not cumulative); the last is +Inf
        self.duration_sum = 0.0

    def add(self, status, trigger, seconds=None):
        """One end; `seconds` is how long it ran (None: not run, or unknown)."""
        self.ended[(status, trigger)] += 1
        if seconds is not None:
            seconds = max(0.0, seconds)
            self.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
            self.duration_sum += seconds


class TaskHistory:
    def __init__(self, store):
        self.store = store
        self.counts = TaskCounts()
        self.listeners = []  # fn(summary of the ended run) after `finish` and `mark_interrupted` (alerts)

    def _ended(self, task_id):
        if self.listeners:
            row = self.store.one(f"SELECT {SUMMARY} FROM task_history WHERE id = ?", (task_id,))
            task = dict(summary(row), started_by_id=row["started_by_id"])  # whose it is: who may see its alert
            for listener in self.listeners:
                listener(task)

    def create(self, task_id, script, user, trigger, quick_action_id, started_at, arguments=None,
               schedule_id=None):
        """The row of a run that starts; `arguments` is the record of its
        values (arguments.Values.record: passwords already masked)."""
        self.store.execute(
            "INSERT INTO task_history(id, script, started_by, started_by_id, trigger, quick_action_id, "
            "started_at, status, arguments, schedule_id) VALUES(?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
            (task_id, script, user["username"], user["id"], trigger, quick_action_id, started_at,
             json.dumps(arguments or {}, ensure_ascii=False), schedule_id))

    def record_skipped(self, task_id, script, started_by, quick_action_id, schedule_id, at, reason):
        """A scheduled run that did not start, and why: it shows in the
        history like a run (status `skipped`), so nobody wonders where it went."""
        self.store.execute(
            "INSERT INTO task_history(id, script, started_by, trigger, quick_action_id, started_at, finished_at, "
            "status, schedule_id, reason) VALUES(?, ?, ?, 'schedule', ?, ?, ?, 'skipped', ?, ?)",
            (task_id, script, started_by, quick_action_id, at, at, schedule_id, reason))
        self.counts.add("skipped", "schedule")

    def finish(self, task_id, finished_at, status, exit_code, exit_signal, output, truncated, output_bytes,
               peak_rss, cpu_seconds):
        """Complete the row; `exit_code` is None when `exit_signal` ("SIGTERM"…) ended the script."""
        started = self.store.one("SELECT trigger, started_at FROM task_history WHERE id = ?", (task_id,))
        self.store.execute(
            "UPDATE task_history SET finished_at = ?, status = ?, exit_code = ?, exit_signal = ?, output = ?, "
            "output_truncated = ?, output_bytes = ?, peak_rss = ?, cpu_seconds = ? WHERE id = ?",
            (finished_at, status, exit_code, exit_signal, output, int(truncated), output_bytes, peak_rss,
             cpu_seconds, task_id))
        if started is not None:
            self.counts.add(status, started["trigger"], finished_at - started["started_at"])
            self._ended(task_id)

    def row(self, task_id):
        row = self.store.one(f"SELECT *, {ACTION_NAME}, {SCHEDULE_NAME} FROM task_history WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound("No task with that id")
        return row

    def visible_row(self, task_id, user):
        """The row if `user` may see it: clients see only the tasks they
        started, of quick actions they may still run (a revoked grant hides
        its runs' output too)."""
        row = self.row(task_id)
        if not is_admin(user) and (row["started_by_id"] != user["id"] or not self.store.one(
                f"SELECT {visible_sql('?')} AS ok", (row["quick_action_id"], user["id"]))["ok"]):
            raise NotFound("No task with that id")  # 404, not 403: ids of others stay secret
        return row

    def page(self, user, page, size, status=None, script=None, trigger=None, schedule_id=None):
        where, params = [], []
        if not is_admin(user):
            where.append(f"started_by_id = ? AND {visible_sql('task_history.quick_action_id')}")
            params += [user["id"], user["id"]]
        if status:  # one, or several separated by commas
            wanted = status.split(",")
            if not set(wanted) <= set(STATUSES):
                raise Invalid(f"status must be one or more (comma-separated) of {', '.join(STATUSES)}")
            where.append(f"status IN ({', '.join('?' * len(wanted))})")
            params += wanted
        if script:
            where.append("instr(lower(script), lower(?)) > 0")
            params.append(script)
        if trigger:
            if trigger not in TRIGGERS:
                raise Invalid(f"trigger must be one of {', '.join(TRIGGERS)}")
            where.append("trigger = ?")
            params.append(trigger)
        if schedule_id is not None:
            where.append("schedule_id = ?")
            params.append(schedule_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.store.one(f"SELECT count(*) AS n FROM task_history {clause}", params)["n"]
        rows = self.store.all(f"SELECT {SUMMARY} FROM task_history {clause} "
                              "ORDER BY started_at DESC, id LIMIT ? OFFSET ?", (*params, size, page * size))
        return {"tasks": [summary(r) for r in rows], "total": total, "page": page, "page_size": size}

    def delete(self, task_id):
        row = self.row(task_id)
        if row["status"] == "running":
            raise Conflict("The task is still running; cancel it first")
        self.store.execute("DELETE FROM task_history WHERE id = ?", (task_id,))
        return row

    def prune(self, retention_days, max_tasks, now=None):
        """Delete finished rows older than the retention or beyond the newest
        `max_tasks`; returns how many went."""
        cutoff = (now or time.time()) - retention_days * 86400
        with self.store.transaction():
            old = self.store.execute("DELETE FROM task_history WHERE status != 'running' AND started_at < ?",
                                     (cutoff,)).rowcount
            extra = self.store.execute(
                "DELETE FROM task_history WHERE status != 'running' AND id NOT IN "
                "(SELECT id FROM task_history ORDER BY started_at DESC LIMIT ?)", (max_tasks,)).rowcount
        if old or extra:
            log.info("task history pruned", extra={"older": old, "beyond_limit": extra})
        return old + extra

    def mark_interrupted(self, spool_dir, cap):
        """At start: tasks a crash left `running` become `interrupted`, with
        the output their spool file kept."""
        rows = self.store.all("SELECT id, trigger FROM task_history WHERE status = 'running'")
        for row in rows:
            spool = spool_dir / f"{row['id']}.out"
            output, truncated, size = recover_spool(spool, cap)
            self.store.execute(
                "UPDATE task_history SET status = 'interrupted', finished_at = ?, output = ?, "
                "output_truncated = ?, output_bytes = ? WHERE id = ?",
                (time.time(), output, int(truncated), size, row["id"]))
            spool.unlink(missing_ok=True)
            self.counts.add("interrupted", row["trigger"])  # how long it ran is unknown: Toru was down
            self._ended(row["id"])
            log.warning("task interrupted by a server stop", extra={"task_id": row["id"]})
        return len(rows)


def register(app, services):
    history, runner = services.task_history, services.tasks

    @app.get("/api/history", role="user")
    def list_history():
        query = bottle.request.query
        page, size = paging(query)
        found = history.page(current_user(), page, size, status=query.get("status") or None,
                             script=query.get("script") or None, trigger=query.get("trigger") or None,
                             schedule_id=int_param(query, "schedule_id", None))
        for task in found["tasks"]:
            runner.live_summary(task)
        return found

    @app.get("/api/history/<task_id>", role="user", scope="run")
    def get_task(task_id):
        row = history.visible_row(task_id, current_user())
        return {"task": dict(runner.live_summary(summary(row)), output=row["output"])}

    @app.get("/api/history/<task_id>/output", role="user", scope="run")
    def download_output(task_id):
        """The stored output as a text file (same access as the entry); while
        the task runs, what would be stored if it ended now."""
        row = history.visible_row(task_id, current_user())
        text = runner.output_so_far(task_id) if row["status"] == "running" else None
        if text is None:
            text = row["output"] or ""
        name = UNSAFE_IN_FILENAME.sub("_", row["script"])
        bottle.response.content_type = "text/plain; charset=utf-8"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="{name}-{UNSAFE_IN_FILENAME.sub("_", row["id"])}.txt"')
        return text.encode("utf-8", "replace")

    @app.post("/api/history/<task_id>/rerun", role="user", audit="task.run")
    def rerun(task_id):
        user = current_user()
        body = json_body(required=False)
        row = history.visible_row(task_id, user)
        if not is_admin(user) and row["quick_action_id"] is None:
            raise Forbidden("Only an admin can re-run a script")
        task = runner.rerun(row, user, body.get("arguments"), body.get("confirmed"))
        bottle.response.status = 201
        return {"task_id": task.id}

    @app.delete("/api/history/<task_id>", role="admin", audit="task.delete")
    def delete_task(task_id):
        row = history.delete(task_id)
        audit.info("task deleted", extra={"actor": current_user()["username"], "task_id": task_id,
                                          "script": row["script"]})
        return {"success": True}
