"""`toru.pyz import-steering-db PATH`: bring over what the original Toru
(`steering.db`) kept — instance id, users, quick actions, history, recent
login attempts, plugin KV and recent plugin events — in one transaction.

The original created its tables with `CREATE TABLE IF NOT EXISTS` and never
migrated them, so older files lack columns: every table is read with the
columns it has, and what could not be used is reported. Re-running the
import adds nothing twice. Sessions are never imported: everyone signs in
again.
"""

import json
import math
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from toru.accounts.users import USERNAME_RE
from toru.errors import ConfigError, Invalid
from toru.tasks.scripts import check_name
from toru.settings import PREFIX as SETTING_PREFIX, SETTINGS
from toru.tasks.output import cap_text

LOGIN_ATTEMPT_DAYS = 30
PLUGIN_EVENT_DAYS = 7
DEFAULT_OUTPUT_CAP = 1024 * 1024
TABLES = ("settings", "users", "quick_actions", "task_history", "login_attempts", "plugin_kv", "plugin_events")


class DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass
class TableReport:
    imported: int = 0
    skipped: int = 0
    reasons: dict = field(default_factory=dict)  # reason → count

    def skip(self, reason):
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class Report:
    tables: dict = field(default_factory=lambda: {name: TableReport() for name in TABLES + ("sessions",)})
    warnings: list = field(default_factory=list)
    instance_id: str = None

    def lines(self):
        out = [f"{'table':<16} {'imported':>9} {'skipped':>8}  reasons"]
        for name, t in self.tables.items():
            reasons = "; ".join(f"{reason} ({n})" for reason, n in t.reasons.items())
            out.append(f"{name:<16} {t.imported:>9} {t.skipped:>8}  {reasons}")
        return out + [f"warning: {w}" for w in self.warnings]


def parse_time(value):
    """Unix seconds from what the original stored: RFC 3339 text, SQLite's
    'YYYY-MM-DD HH:MM:SS' (UTC), or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return value / 1000 if value > 1e11 else float(value)
    text = str(value).strip()
    try:
        return parse_time(float(text))
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def open_source(path):
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    if not path.is_file():
        raise ConfigError(f"{path} is not a file")
    try:
        with open(path, "rb") as f:
            header = f.read(16)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}; run the import as a user who can read it") from None
    if header != b"SQLite format 3\x00":
        raise ConfigError(f"{path} is not an SQLite database")
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        source.row_factory = sqlite3.Row
        names = {r["name"] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as e:
        hint = "; stop the original Toru first" if "locked" in str(e) else ""
        raise ConfigError(f"cannot read {path}: {e}{hint}") from None
    if not {"settings", "users"} <= names:
        source.close()
        raise ConfigError(f"{path} is not a Toru Steering Center database (it has no settings and users tables)")
    return source, names


def columns(source, table):
    return {r["name"] for r in source.execute(f"PRAGMA table_info({table})")}


def rows(source, names, table, report, wanted):
    """The table's rows as dicts with every `wanted` column (None where the
    file lacks it); missing tables and columns are reported."""
    if table not in names:
        report.warnings.append(f"{table}: not in this file, nothing to import")
        return []
    have = columns(source, table)
    missing = [c for c in wanted if c not in have]
    if missing:
        report.warnings.append(f"{table}: column(s) {', '.join(missing)} missing in this file; defaults used")
    try:
        result = [dict(r) for r in source.execute(f"SELECT * FROM {table}")]
    except sqlite3.Error as e:
        raise ConfigError(f"cannot read table {table}: {e}") from None
    for row in result:
        for column in missing:
            row[column] = None
    return result


class Importer:
    def __init__(self, store, config, source_path, force_instance_id=False, now=None, keep_retention=False):
        self.store = store
        self.config = config
        self.source_path = Path(source_path).expanduser().resolve()
        self.force_instance_id = force_instance_id
        self.keep_retention = keep_retention
        self.now = now or time.time()
        self.report = Report()

    def run(self, dry_run=False):
        source, names = open_source(self.source_path)
        try:
            try:
                with self.store.transaction():
                    self.settings(source, names)
                    self.users(source, names)
                    self.quick_actions(source, names)
                    self.task_history(source, names)
                    self.keep_history()
                    self.login_attempts(source, names)
                    self.plugin_kv(source, names)
                    self.plugin_events(source, names)
                    if dry_run:
                        raise DryRun()
            except DryRun:
                pass
            if "sessions" in names:
                sessions = self.report.tables["sessions"]
                sessions.skipped = source.execute("SELECT count(*) FROM sessions").fetchone()[0]
                if sessions.skipped:
                    sessions.reasons["not imported: everyone signs in again"] = sessions.skipped
        finally:
            source.close()
        return self.report

    # --- tables ----------------------------------------------------------------------
    def settings(self, source, names):
        t = self.report.tables["settings"]
        values = {r["key"]: r["value"] for r in rows(source, names, "settings", self.report, ("key", "value"))}
        old_id = values.get("instance_id")
        ours = self.store.get_setting("instance_id")
        if old_id:
            try:
                old_id = str(uuid.UUID(str(old_id)))
            except ValueError:
                raise ConfigError(f"instance_id {old_id!r} in {self.source_path} is not a UUID") from None
            if old_id == ours:
                t.skip("instance_id already the same")
            else:
                used = self.store.one("SELECT (SELECT count(*) FROM plugin_kv) + (SELECT count(*) FROM plugin_events)"
                                      " AS n")["n"]
                if used and not self.force_instance_id:
                    raise ConfigError(
                        f"this Toru already has plugin data bound to its own instance id {ours}; importing "
                        f"{old_id} would invalidate licences issued for it. Use --force-instance-id if the "
                        "original's licences matter more")
                self.store.set_setting("instance_id", old_id)
                t.imported += 1
        self.report.instance_id = old_id or ours
        scripts_dir = values.get("scripts_dir")
        if scripts_dir:
            resolved = (self.source_path.parent / Path(scripts_dir).expanduser()).resolve()
            if resolved.is_dir():
                self.store.set_setting(SETTING_PREFIX + "scripts_dir", json.dumps(str(resolved)))
                t.imported += 1
            else:
                t.skip("scripts_dir does not exist")
                self.report.warnings.append(f"scripts_dir {resolved} does not exist; kept this Toru's own")
        for key in values:
            if key not in ("instance_id", "scripts_dir"):
                t.skip(f"setting {key} has no counterpart")

    def users(self, source, names):
        t = self.report.tables["users"]
        env_admin = self.config.admin_username.lower()
        for row in rows(source, names, "users", self.report,
                        ("username", "password_hash", "display_name", "role", "is_active", "created_at")):
            username = row["username"] or ""
            if not USERNAME_RE.match(username):
                t.skip("username not allowed here")
                continue
            if username.lower() == env_admin:
                t.skip("username is the environment admin's")
                continue
            if not (row["password_hash"] or "").startswith("$argon2"):
                t.skip("password hash is not argon2")
                continue
            existing = self.store.one("SELECT password_hash FROM users WHERE username = ?", (username,))
            if existing:
                t.skip("already imported" if existing["password_hash"] == row["password_hash"]
                       else "username already taken here")
                continue
            created = parse_time(row["created_at"]) or self.now
            display = (row["display_name"] or username).strip()[:100] or username
            role = "admin" if str(row["role"] or "").lower() == "admin" else "client"
            active = 1 if row["is_active"] is None else int(bool(row["is_active"]))
            self.store.execute(
                "INSERT INTO users(username, display_name, role, password_hash, active, created_at, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?)", (username, display, role, row["password_hash"], active, created, self.now))
            t.imported += 1

    def quick_actions(self, source, names):
        t = self.report.tables["quick_actions"]
        scripts_dir = Path(json.loads(self.store.get_setting(SETTING_PREFIX + "scripts_dir") or "null")
                           or Path(self.config.data_dir) / "scripts")
        position = self.store.one("SELECT coalesce(max(position) + 1, 0) AS p FROM quick_actions")["p"]
        for row in sorted(rows(source, names, "quick_actions", self.report,
                               ("id", "name", "script_path", "icon", "display_order")),
                          key=lambda r: (r["display_order"] is None, r["display_order"] or 0)):
            if not row["id"] or not row["name"]:
                t.skip("no id or name")
                continue
            if self.store.one("SELECT 1 FROM quick_actions WHERE id = ?", (str(row["id"]),)):
                t.skip("already imported")
                continue
            script = Path(str(row["script_path"] or "")).name
            try:
                check_name(script)
            except Invalid:
                t.skip("script_path is not a usable script name")
                continue
            if not (scripts_dir / script).is_file():
                self.report.warnings.append(f"quick action {row['name']!r}: {script} is not in {scripts_dir} yet")
            order = row["display_order"] if isinstance(row["display_order"], int) else position
            self.store.execute(
                "INSERT INTO quick_actions(id, name, script, icon, description, position, timeout, created_at, "
                "updated_at) VALUES(?, ?, ?, ?, NULL, ?, NULL, ?, ?)",
                (str(row["id"]), str(row["name"])[:100], script, (row["icon"] or None) and str(row["icon"])[:32],
                 order, self.now, self.now))
            position += 1
            t.imported += 1

    def task_history(self, source, names):
        t = self.report.tables["task_history"]
        cap = json.loads(self.store.get_setting(SETTING_PREFIX + "output_cap_bytes") or "null") or DEFAULT_OUTPUT_CAP
        for row in rows(source, names, "task_history", self.report,
                        ("id", "script_name", "started_at", "finished_at", "exit_code", "output")):
            started = parse_time(row["started_at"])
            if not row["id"] or started is None:
                t.skip("no id or start time")
                continue
            if self.store.one("SELECT 1 FROM task_history WHERE id = ?", (str(row["id"]),)):
                t.skip("already imported")
                continue
            finished = parse_time(row["finished_at"])
            code = row["exit_code"]
            status = ("interrupted" if finished is None and code is None
                      else "success" if code == 0 else "failed")
            output, truncated, size = cap_text(str(row["output"] or ""), cap)
            self.store.execute(
                "INSERT INTO task_history(id, script, started_by, started_by_id, trigger, quick_action_id, "
                "started_at, finished_at, status, exit_code, output, output_truncated, output_bytes) "
                "VALUES(?, ?, 'imported', NULL, 'ws', NULL, ?, ?, ?, ?, ?, ?, ?)",
                (str(row["id"]), str(row["script_name"] or "unknown"), started, finished or started, status, code,
                 output, int(truncated), size))
            t.imported += 1

    def keep_history(self):
        """History pruning (retention_days, retention_max_tasks) must not
        remove imported rows at the next start: raise the settings to cover
        them, within their bounds, and say so; or, with keep_retention, say
        how many rows the current ones will prune."""
        oldest = self.store.one("SELECT min(started_at) AS t, count(*) AS n FROM task_history "
                                "WHERE started_by = 'imported'")
        if not oldest["n"]:
            return
        total = self.store.one("SELECT count(*) AS n FROM task_history")["n"]
        wanted = {"retention_days": math.ceil((self.now - oldest["t"]) / 86400) + 1, "retention_max_tasks": total}
        for key, needed in wanted.items():
            setting = SETTINGS[key]
            current = json.loads(self.store.get_setting(SETTING_PREFIX + key) or "null") or setting.default
            if needed <= current:
                continue
            if self.keep_retention:
                self.report.warnings.append(
                    f"{key} is {current} (kept by --keep-retention); the next start prunes the imported "
                    f"history beyond it (it would need {needed})")
                continue
            value = min(needed, setting.high)
            self.store.set_setting(SETTING_PREFIX + key, json.dumps(value))
            note = "" if value == needed else f" (its maximum; {needed} would keep everything)"
            self.report.warnings.append(f"{key} raised from {current} to {value}{note} so the imported history "
                                        "is kept; lower it in Settings, or import with --keep-retention")

    def login_attempts(self, source, names):
        t = self.report.tables["login_attempts"]
        since = self.now - LOGIN_ATTEMPT_DAYS * 86400
        for row in rows(source, names, "login_attempts", self.report,
                        ("username", "ip_address", "success", "failure_reason", "attempted_at")):
            at = parse_time(row["attempted_at"])
            if at is None or at < since:
                t.skip(f"older than {LOGIN_ATTEMPT_DAYS} days")
                continue
            success = int(bool(row["success"]))
            reason = "ok" if success else f"imported: {row['failure_reason'] or 'failed'}"
            values = (str(row["username"] or "")[:200], str(row["ip_address"] or "unknown"), success, reason, at)
            if self.store.one("SELECT 1 FROM login_attempts WHERE username = ? AND ip = ? AND success = ? "
                              "AND reason = ? AND created_at = ?", values):
                t.skip("already imported")
                continue
            self.store.execute("INSERT INTO login_attempts(username, ip, user_agent, success, reason, created_at) "
                               "VALUES(?, ?, '', ?, ?, ?)", (values[0], values[1], success, reason, at))
            t.imported += 1

    def plugin_kv(self, source, names):
        t = self.report.tables["plugin_kv"]
        for row in rows(source, names, "plugin_kv", self.report, ("plugin_id", "key", "value")):
            if not row["plugin_id"] or row["key"] is None or row["value"] is None:
                t.skip("incomplete row")
                continue
            existing = self.store.one("SELECT value FROM plugin_kv WHERE plugin_id = ? AND key = ?",
                                      (str(row["plugin_id"]), str(row["key"])))
            if existing:
                t.skip("already imported" if existing["value"] == str(row["value"]) else "key already set here")
                continue
            self.store.execute("INSERT INTO plugin_kv(plugin_id, key, value, updated_at) VALUES(?, ?, ?, ?)",
                               (str(row["plugin_id"]), str(row["key"]), str(row["value"]), self.now))
            t.imported += 1

    def plugin_events(self, source, names):
        t = self.report.tables["plugin_events"]
        since = self.now - PLUGIN_EVENT_DAYS * 86400
        for row in rows(source, names, "plugin_events", self.report,
                        ("plugin_id", "event_type", "timestamp", "details")):
            at = parse_time(row["timestamp"])
            if at is None or at < since:
                t.skip(f"older than {PLUGIN_EVENT_DAYS} days")
                continue
            details = row["details"]
            try:
                details = json.dumps(json.loads(details)) if details else "{}"
            except (TypeError, ValueError):
                details = json.dumps({"text": str(details)})
            values = (str(row["plugin_id"] or ""), str(row["event_type"] or "unknown"), at, details)
            if self.store.one("SELECT 1 FROM plugin_events WHERE plugin_id = ? AND event_type = ? AND timestamp = ? "
                              "AND details = ?", values):
                t.skip("already imported")
                continue
            self.store.execute("INSERT INTO plugin_events(plugin_id, event_type, timestamp, details) "
                               "VALUES(?, ?, ?, ?)", values)
            t.imported += 1


def find_steering_db(data_dir, cwd):
    """A steering.db an operator may want to import, for the first-start hint."""
    for directory in (Path(data_dir), Path(cwd)):
        candidate = directory / "steering.db"
        if candidate.is_file():
            return candidate
    return None
