"""The SQLite store: migrations upgrade an old database in place with its
rows kept, and the instance id is created once and kept."""

import re
import sqlite3

import pytest

from toru.schema import MIGRATIONS
from toru.errors import StoreError
from toru.store import Store


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_fresh_database_is_at_the_newest_version_in_wal_mode(fresh_server):
    proc = fresh_server().start()
    proc.stop()
    db = proc.data_dir / "toru.db"
    versions = [v for (v,) in rows(db, "SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m[0] for m in MIGRATIONS]
    assert rows(db, "PRAGMA journal_mode")[0][0] == "wal"
    # A new database is said once, not as every step of its history.
    console = proc.console(tail=0)
    assert f"database created  path={db} version={MIGRATIONS[-1][0]}" in console
    assert "migration applied" not in console


@pytest.mark.parametrize("old_version", [m[0] for m in MIGRATIONS[:-1]] or [0])
def test_old_database_upgrades_in_place_keeping_rows(fresh_server, tmp_path, old_version):
    data = tmp_path / "old"
    data.mkdir()
    db = data / "toru.db"
    # An old Toru: only the migrations up to old_version, and some rows of its own.
    old = Store(db, migrations=[m for m in MIGRATIONS if m[0] <= old_version])
    if old_version >= 1:
        old.set_setting("instance_id", "11111111-2222-4333-8444-555555555555")
        old.set_setting("scripts_dir", "/srv/scripts")
    old.close()

    proc = fresh_server(data_dir=data).start()
    proc.stop()
    versions = [v for (v,) in rows(db, "SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m[0] for m in MIGRATIONS]
    applied = re.findall(r"migration applied  version=(\d+)", proc.console(tail=0))
    assert applied == [str(m[0]) for m in MIGRATIONS if m[0] > old_version]  # an upgrade says each step
    settings = dict(rows(db, "SELECT key, value FROM settings"))
    if old_version >= 1:
        assert settings["instance_id"] == "11111111-2222-4333-8444-555555555555"
        assert settings["scripts_dir"] == "/srv/scripts"
    else:
        assert len(settings["instance_id"]) == 36


def test_instance_id_is_a_uuid4_kept_across_restarts(fresh_server, tmp_path):
    import uuid
    data = tmp_path / "keep"
    first = fresh_server(data_dir=data).start()
    first.stop()
    (instance_id,) = rows(data / "toru.db", "SELECT value FROM settings WHERE key = 'instance_id'")[0]
    assert uuid.UUID(instance_id).version == 4
    second = fresh_server(data_dir=data).start()
    second.stop()
    assert rows(data / "toru.db", "SELECT value FROM settings WHERE key = 'instance_id'")[0][0] == instance_id


def test_failed_migration_rolls_back_and_keeps_the_old_version(tmp_path):
    db = tmp_path / "toru.db"
    Store(db, migrations=MIGRATIONS[:1]).close()
    broken = MIGRATIONS[:1] + [(2, "broken", "CREATE TABLE half(x);\nTHIS IS NOT SQL;")]
    with pytest.raises(StoreError, match="migration 2 \\(broken\\).*left at version 1"):
        Store(db, migrations=broken)
    assert rows(db, "SELECT max(version) FROM schema_migrations")[0][0] == 1
    assert rows(db, "SELECT name FROM sqlite_master WHERE name = 'half'") == []


def test_task_history_rebuilt_for_schedules_keeps_every_row(tmp_path):
    db = tmp_path / "toru.db"
    old = Store(db, migrations=[m for m in MIGRATIONS if m[0] <= 7])
    old.execute("INSERT INTO task_history(id, script, started_by, started_by_id, trigger, started_at, finished_at, "
                "status, exit_code, exit_signal, output, arguments) VALUES('t1', 'b.sh', 'ann', 3, 'rerun', 1.5, 2.5, "
                "'cancelled', NULL, 'SIGTERM', 'out', '{\"a\": 1}')")
    old.close()
    store = Store(db)
    row = dict(store.one("SELECT * FROM task_history WHERE id = 't1'"))
    assert row == {"id": "t1", "script": "b.sh", "started_by": "ann", "started_by_id": 3, "trigger": "rerun",
                   "quick_action_id": None, "started_at": 1.5, "finished_at": 2.5, "status": "cancelled",
                   "exit_code": None, "output": "out", "output_truncated": 0, "output_bytes": 0, "peak_rss": None,
                   "cpu_seconds": None, "exit_signal": "SIGTERM", "arguments": '{"a": 1}', "schedule_id": None,
                   "reason": None}
    store.execute("INSERT INTO task_history(id, script, started_by, trigger, started_at, status, schedule_id, reason) "
                  "VALUES('t2', 'b.sh', 'schedule:x', 'schedule', 3, 'skipped', 1, 'why')")
    with pytest.raises(sqlite3.IntegrityError):
        store.execute("INSERT INTO task_history(id, script, started_by, trigger, started_at, status) "
                      "VALUES('t3', 'b.sh', 'x', 'cron', 3, 'running')")
    names = {r["name"] for r in store.all("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"task_history_started", "task_history_user", "task_history_status", "task_history_schedule"} <= names
    store.close()


def test_alerts_written_before_the_metric_column_get_it_from_their_summary(tmp_path):
    db = tmp_path / "toru.db"
    old = Store(db, migrations=[m for m in MIGRATIONS if m[0] <= 14])
    for kind, summary in [("metric", "disk_percent on / is 93.1 (alert when >= 90)"),
                          ("task_failed", "Task fail.sh: Exit code 3"), ("metric", "")]:
        old.execute("INSERT INTO alerts(rule_id, rule_name, kind, severity, fingerprint, labels, status, summary, "
                    "started_at, updated_at) VALUES(1, 'r', ?, 'warning', '{}', '{}', 'resolved', ?, 1, 1)",
                    (kind, summary))
    old.close()
    store = Store(db)
    assert [r["metric"] for r in store.all("SELECT metric FROM alerts ORDER BY id")] == ["disk_percent", None, None]
    store.close()
