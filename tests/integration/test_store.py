"""The SQLite store: migrations upgrade an old database in place with its
rows kept, and the instance id is created once and kept."""

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
