"""Importing the original Toru's steering.db: realistic files built here
with the original's schema (full, and with columns missing), imported by
the real CLI, then used through a real server."""

import base64
import hashlib
import hmac
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import argon2
import pytest

from helpers import install_plugin, run_cli, sign_in, wait_for

ORIGINAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL,
    display_name TEXT, role TEXT NOT NULL DEFAULT 'client', is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quick_actions (id TEXT PRIMARY KEY, name TEXT NOT NULL, script_path TEXT NOT NULL,
    icon TEXT, display_order INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS task_history (id TEXT PRIMARY KEY, script_name TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, exit_code INTEGER, output TEXT);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id TEXT, token TEXT, expires_at TEXT);
CREATE TABLE IF NOT EXISTS login_attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT, ip_address TEXT,
    success INTEGER, failure_reason TEXT, attempted_at TEXT);
CREATE TABLE IF NOT EXISTS plugin_kv (plugin_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (plugin_id, key));
CREATE TABLE IF NOT EXISTS plugin_events (id INTEGER PRIMARY KEY AUTOINCREMENT, plugin_id TEXT, event_type TEXT,
    timestamp TEXT, details TEXT);
"""
# An older file: tables created before some columns existed.
OLD_SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'client', created_at TEXT NOT NULL);
CREATE TABLE quick_actions (id TEXT PRIMARY KEY, name TEXT NOT NULL, script_path TEXT NOT NULL);
CREATE TABLE task_history (id TEXT PRIMARY KEY, script_name TEXT NOT NULL, started_at TEXT NOT NULL,
    exit_code INTEGER, output TEXT);
"""
ALICE_PASSWORD = "alice's old password"
SECRET = "plugin-hmac-secret"


def rfc3339(moment):
    return moment.isoformat().replace("+00:00", "Z")


def make_original(directory, schema=ORIGINAL_SCHEMA, full=True):
    """A steering.db next to a scripts/ dir, as the original left them."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scripts").mkdir(exist_ok=True)
    script = directory / "scripts" / "deploy.sh"
    script.write_text("#!/bin/sh\necho deployed\n")
    script.chmod(0o755)
    instance_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    db = sqlite3.connect(directory / "steering.db")
    db.executescript(schema)
    db.execute("INSERT INTO settings VALUES('instance_id', ?)", (instance_id,))
    db.execute("INSERT INTO settings VALUES('scripts_dir', './scripts')")
    hasher = argon2.PasswordHasher()
    if full:
        db.execute("INSERT INTO users VALUES('u1', 'alice', ?, 'Alice A.', 'client', 1, ?)",
                   (hasher.hash(ALICE_PASSWORD), rfc3339(now - timedelta(days=40))))
        db.execute("INSERT INTO users VALUES('u2', 'bob', ?, 'Bob', 'client', 0, ?)",
                   (hasher.hash("bob's password"), rfc3339(now)))
        db.execute("INSERT INTO quick_actions VALUES('qa-1', 'Deploy', './scripts/deploy.sh', '🚀', 1)")
        db.execute("INSERT INTO task_history VALUES('t-ok', 'deploy.sh', ?, ?, 0, 'deployed\n')",
                   (rfc3339(now - timedelta(hours=2)), rfc3339(now - timedelta(hours=2) + timedelta(seconds=3))))
        db.execute("INSERT INTO task_history VALUES('t-bad', 'deploy.sh', ?, ?, 1, ?)",
                   (rfc3339(now - timedelta(hours=1)), rfc3339(now - timedelta(hours=1)), "x" * 3_000_000))
        db.execute("INSERT INTO sessions VALUES('s1', 'u1', 'tok', ?)", (rfc3339(now + timedelta(days=1)),))
        db.execute("INSERT INTO login_attempts(username, ip_address, success, failure_reason, attempted_at) "
                   "VALUES('alice', '10.0.0.1', 1, NULL, ?)", (rfc3339(now - timedelta(days=1)),))
        db.execute("INSERT INTO login_attempts(username, ip_address, success, failure_reason, attempted_at) "
                   "VALUES('alice', '10.0.0.2', 0, 'invalid_password', ?)", (rfc3339(now - timedelta(days=90)),))
        db.execute("INSERT INTO plugin_kv VALUES('echo', 'colour', 'teal')")
        db.execute("INSERT INTO plugin_kv VALUES('echo', 'license_key', 'k')")
        db.execute("INSERT INTO plugin_events(plugin_id, event_type, timestamp, details) VALUES('echo', 'started', ?, "
                   "'{\"pid\": 1}')", (rfc3339(now - timedelta(days=1)),))
        db.execute("INSERT INTO plugin_events(plugin_id, event_type, timestamp, details) VALUES('echo', 'killed', ?, "
                   "'{}')", (rfc3339(now - timedelta(days=30)),))
    else:
        db.execute("INSERT INTO users VALUES('u1', 'alice', ?, 'client', '2024-01-02 03:04:05')",
                   (hasher.hash(ALICE_PASSWORD),))
        db.execute("INSERT INTO quick_actions VALUES('qa-1', 'Deploy', 'deploy.sh')")
        db.execute("INSERT INTO task_history VALUES('t-old', 'deploy.sh', '2026-11-20T10:00:00Z', 0, 'ok')")
    db.commit()
    db.close()
    return directory / "steering.db", instance_id


def import_db(data_dir, path, *extra):
    return run_cli(["import-steering-db", str(path), "--data-dir", str(data_dir), *extra], timeout=60)


def licence_key(instance_id, expiry, secret):
    """The original's key format, computed here from its definition."""
    message = f"{instance_id}:{expiry}".encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return base64.b64encode(f"{instance_id}:{expiry}:{signature}".encode()).decode()


def test_a_full_import_keeps_everything_an_operator_relies_on(fresh_server, tmp_path):
    source, instance_id = make_original(tmp_path / "old")
    data = tmp_path / "data"
    result = import_db(data, source)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "users" in out and "sessions" in out and "not imported: everyone signs in again" in out
    assert f"instance id: {instance_id}" in out
    install_plugin(data, "toolbox", "echo")
    server = fresh_server(data).start()

    alice = sign_in(server, "alice", ALICE_PASSWORD)  # the old argon2 hash verifies as is
    assert alice.get("/api/auth/me").json["user"]["display_name"] == "Alice A."
    assert server.client().post("/api/auth/login", json={"username": "bob", "password": "bob's password"}).status \
        == 401  # inactive stays inactive
    admin = sign_in(server)
    assert admin.get("/api/instance").json["instance_id"] == instance_id
    assert admin.get("/api/settings").json["settings"]["scripts_dir"] == str(tmp_path / "old" / "scripts")

    action = alice.get("/api/quick-actions").json["quick_actions"][0]
    assert action["id"] == "qa-1" and action["script"] == "deploy.sh" and action["icon"] == "🚀"
    task_id = alice.post("/api/quick-actions/qa-1/execute").json["task_id"]
    wait_for(lambda: alice.get(f"/api/history/{task_id}").json["task"]["status"] == "success")
    assert alice.get(f"/api/history/{task_id}").json["task"]["output"] == "deployed\n"

    old_ok = admin.get("/api/history/t-ok").json["task"]
    assert old_ok["status"] == "success" and old_ok["output"] == "deployed\n" and old_ok["script_name"] == "deploy.sh"
    old_bad = admin.get("/api/history/t-bad").json["task"]
    assert old_bad["status"] == "failed" and old_bad["output_truncated"] is True
    assert old_bad["output_bytes"] == 3_000_000 and len(old_bad["output"]) < 1024 * 1024 + 100

    attempts = admin.get("/api/auth/login-history?username=alice").json["attempts"]
    assert any(a["ip"] == "10.0.0.1" for a in attempts)
    assert not any(a["ip"] == "10.0.0.2" for a in attempts)  # older than 30 days

    wait_for(lambda: admin.get("/api/plugins/echo").json["plugin"]["state"] == "running", timeout=20)
    assert admin.get("/api/plugins/route/echo/kv/colour").json["value"] == "teal"
    kinds = [e["event_type"] for e in admin.get("/api/plugins/echo/events?limit=500").json["events"]]
    assert "killed" not in kinds and "started" in kinds

    key = licence_key(instance_id, "never", SECRET)
    check = run_cli(["license", "check", key, "--instance", admin.get("/api/instance").json["instance_id"]],
                    env={"TORU_LICENSE_SECRET": SECRET})
    assert check.returncode == 0, check.stdout + check.stderr


def test_importing_twice_adds_nothing(tmp_path):
    source, _ = make_original(tmp_path / "old")
    data = tmp_path / "data"
    assert import_db(data, source).returncode == 0
    counts = table_counts(data / "toru.db")
    again = import_db(data, source)
    assert again.returncode == 0 and "already imported" in again.stdout
    assert table_counts(data / "toru.db") == counts


def table_counts(db_path):
    db = sqlite3.connect(db_path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("users", "quick_actions", "task_history", "login_attempts", "plugin_kv", "plugin_events")}
    finally:
        db.close()


def test_a_dry_run_changes_nothing(tmp_path, fresh_server):
    source, instance_id = make_original(tmp_path / "old")
    fresh = tmp_path / "fresh"
    result = import_db(fresh, source, "--dry-run")
    assert result.returncode == 0 and "dry run: nothing was changed" in result.stdout
    assert "alice" not in result.stdout and "users" in result.stdout
    assert not (fresh / "toru.db").exists()
    server = fresh_server(tmp_path / "existing").start()
    server.stop()
    before = (tmp_path / "existing" / "toru.db").read_bytes()
    assert import_db(tmp_path / "existing", source, "--dry-run").returncode == 0
    assert (tmp_path / "existing" / "toru.db").read_bytes() == before


def test_an_older_file_with_missing_columns_imports_what_it_has(tmp_path):
    source, instance_id = make_original(tmp_path / "old", schema=OLD_SCHEMA, full=False)
    data = tmp_path / "data"
    result = import_db(data, source)
    assert result.returncode == 0, result.stderr
    assert "users: column(s) display_name, is_active missing" in result.stdout
    assert "login_attempts: not in this file" in result.stdout
    db = sqlite3.connect(data / "toru.db")
    try:
        assert db.execute("SELECT display_name, active FROM users WHERE username = 'alice'").fetchone() == ("alice", 1)
        assert db.execute("SELECT script, position FROM quick_actions").fetchone() == ("deploy.sh", 0)
        assert db.execute("SELECT status FROM task_history WHERE id = 't-old'").fetchone() == ("success",)
    finally:
        db.close()


def test_a_username_clash_is_skipped_and_reported(fresh_server, tmp_path):
    server = fresh_server(tmp_path / "data").start()
    admin = sign_in(server)
    assert admin.post("/api/users", json={"username": "alice", "password": "a brand new passphrase"}).status == 201
    server.stop()
    source, _ = make_original(tmp_path / "old")
    result = import_db(tmp_path / "data", source)
    assert result.returncode == 0 and "username already taken here (1)" in result.stdout
    server.start()
    sign_in(server, "alice", "a brand new passphrase")  # ours is untouched
    assert server.client().post("/api/auth/login", json={"username": "bob", "password": "x"}).status == 401


def test_instance_id_is_not_replaced_when_this_toru_has_plugin_data(fresh_server, tmp_path):
    data = tmp_path / "data"
    server = fresh_server(data).start()
    ours = sign_in(server).get("/api/instance").json["instance_id"]
    server.stop()
    db = sqlite3.connect(data / "toru.db")
    db.execute("INSERT INTO plugin_kv VALUES('licensed', 'license_key', 'abc', 0)")
    db.commit()
    db.close()
    source, theirs = make_original(tmp_path / "old")
    refused = import_db(data, source)
    assert refused.returncode == 2 and "--force-instance-id" in refused.stderr and ours in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert table_counts(data / "toru.db")["users"] == 0  # nothing half-imported
    forced = import_db(data, source, "--force-instance-id")
    assert forced.returncode == 0
    server.start()
    assert sign_in(server).get("/api/instance").json["instance_id"] == theirs


def test_a_missing_scripts_dir_is_a_warning_and_ours_is_kept(tmp_path):
    source, _ = make_original(tmp_path / "old")
    (tmp_path / "old" / "scripts" / "deploy.sh").unlink()
    (tmp_path / "old" / "scripts").rmdir()
    result = import_db(tmp_path / "data", source)
    assert result.returncode == 0
    assert "warning: scripts_dir" in result.stdout and "does not exist" in result.stdout
    db = sqlite3.connect(tmp_path / "data" / "toru.db")
    try:
        assert db.execute("SELECT count(*) FROM settings WHERE key = 'setting.scripts_dir'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 2
    finally:
        db.close()


@pytest.mark.parametrize("kind, message", [
    ("text", "is not an SQLite database"),
    ("other-db", "is not a Toru Steering Center database"),
    ("missing", "does not exist"),
    ("directory", "is not a file"),
])
def test_bad_sources_get_one_clear_line_and_change_nothing(tmp_path, kind, message):
    path = tmp_path / "steering.db"
    if kind == "text":
        path.write_text("hello")
    elif kind == "other-db":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE notes(x)")
        db.commit()
        db.close()
    elif kind == "directory":
        path.mkdir()
    result = import_db(tmp_path / "data", path)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "toru.db").exists() or table_counts(tmp_path / "data" / "toru.db")["users"] == 0


def test_a_locked_source_says_to_stop_the_original_first(tmp_path):
    source, _ = make_original(tmp_path / "old")
    holder = sqlite3.connect(source, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # the original, still running, mid-write
    try:
        result = import_db(tmp_path / "data", source)
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 2 and "stop the original Toru first" in result.stderr


def test_first_start_next_to_a_steering_db_tells_the_operator(fresh_server, tmp_path):
    data = tmp_path / "data"
    make_original(data)
    server = fresh_server(data).start()
    wait_for(lambda: "import-steering-db" in server.console(), timeout=5)
    assert "--dry-run" in server.console()
    admin = sign_in(server)
    assert admin.get("/api/users").json["users"][1:] == []  # nothing imported silently


def test_a_year_old_history_survives_the_next_start(fresh_server, tmp_path):
    path, _ = make_original(tmp_path / "original")
    db = sqlite3.connect(path)
    year_ago = datetime.now(timezone.utc) - timedelta(days=365)
    for i in range(3):
        moment = rfc3339(year_ago + timedelta(days=i))
        db.execute("INSERT INTO task_history VALUES(?, 'deploy.sh', ?, ?, 0, 'old')", (f"t-year-{i}", moment, moment))
    db.commit()
    db.close()
    data = tmp_path / "data"
    result = import_db(data, path)
    assert result.returncode == 0, result.stderr
    assert "retention_days raised from 90 to 367" in result.stdout
    proc = fresh_server(data_dir=data).start()
    proc.stop()
    proc = fresh_server(data_dir=data).start()  # pruning runs at every start
    admin = sign_in(proc)
    ids = {t["id"] for t in admin.get("/api/history?page_size=200").json["tasks"]}
    assert {"t-ok", "t-bad", "t-year-0", "t-year-1", "t-year-2"} <= ids
    assert admin.get("/api/settings").json["settings"]["retention_days"] == 367


def test_keep_retention_keeps_the_setting_and_says_what_will_be_pruned(tmp_path):
    path, _ = make_original(tmp_path / "original")
    db = sqlite3.connect(path)
    moment = rfc3339(datetime.now(timezone.utc) - timedelta(days=200))
    db.execute("INSERT INTO task_history VALUES('t-200', 'deploy.sh', ?, ?, 0, 'old')", (moment, moment))
    db.commit()
    db.close()
    result = import_db(tmp_path / "data", path, "--keep-retention")
    assert result.returncode == 0, result.stderr
    assert "retention_days is 90 (kept by --keep-retention); the next start prunes" in result.stdout
    settings = sqlite3.connect(tmp_path / "data" / "toru.db").execute(
        "SELECT value FROM settings WHERE key = 'setting.retention_days'").fetchone()
    assert settings is None  # still the default
