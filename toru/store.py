"""SQLite store: one file `<data>/toru.db` in WAL mode, schema changed only by
the numbered migrations in `toru/schema.py`.

How greenlets use it: the server owns ONE connection, opened on the hub's
thread. A sqlite3 call never yields to gevent, so statements from different
greenlets cannot interleave; a `transaction()` block is atomic as long as it
does no I/O that yields (no sockets, no gevent.sleep) inside it — keep blocks
short. sqlite3's `check_same_thread` guard stays on: work moved to gevent's
threadpool must open its own connection with `connect()` instead.
"""

import logging
import os
import pwd
import sqlite3
import time
import uuid
from contextlib import contextmanager

from toru.errors import StoreError
from toru.schema import MIGRATIONS

log = logging.getLogger("toru.store")


def connect(path):
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_writable(path):
    """SQLite opens a file it may not write read-only and fails only at the
    first write, mid-start: say so first, naming who owns it (a database
    made by a first run as root, then started as a service user)."""
    for file in (str(path), f"{path}-wal", f"{path}-shm"):
        if os.path.exists(file) and not os.access(file, os.W_OK):
            owner, me = user_name(os.stat(file).st_uid), user_name(os.geteuid())
            raise StoreError(f"{file} is not writable by {me}; it belongs to {owner}: run Toru as {owner}, "
                             f"or give the data directory's files to {me} (chown -R)")


class Store:
    def __init__(self, path, migrations=MIGRATIONS):
        self.path = path
        check_writable(path)
        try:
            self.conn = connect(path)
            # Reading the schema makes SQLite check the file header: a file that
            # is not a database fails here, before anything is written to it.
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(migrations)
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"{path} is not a usable SQLite database ({e}); it was left untouched. "
                "Restore it from a backup, or move it away to start with an empty one."
            ) from None

    def close(self):
        self.conn.close()

    # --- queries -------------------------------------------------------------
    def execute(self, sql, params=()):
        return self.conn.execute(sql, params)

    def one(self, sql, params=()):
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE … COMMIT, ROLLBACK on error. Must not yield inside."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- settings ------------------------------------------------------------
    def get_setting(self, key, default=None):
        row = self.one("SELECT value FROM settings WHERE key = ?", (key,))
        return row["value"] if row else default

    def set_setting(self, key, value):
        self.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES(?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, time.time()))

    def instance_id(self):
        """The instance's UUID v4, created on first start and kept forever."""
        value = self.get_setting("instance_id")
        if value is None:
            value = str(uuid.uuid4())
            self.execute("INSERT OR IGNORE INTO settings(key, value, updated_at) VALUES('instance_id', ?, ?)",
                         (value, time.time()))
            value = self.get_setting("instance_id")
        return value

    # --- migrations ----------------------------------------------------------
    def schema_version(self):
        row = self.one("SELECT max(version) AS v FROM schema_migrations")
        return row["v"] or 0

    def _migrate(self, migrations):
        self.execute("CREATE TABLE IF NOT EXISTS schema_migrations("
                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
        current = self.schema_version()
        newest = migrations[-1][0] if migrations else 0
        if current > newest:
            raise StoreError(f"{self.path} has schema version {current}, newer than this Toru knows "
                             f"({newest}); run the newer Toru or restore a backup")
        for version, name, sql in migrations:
            if version <= current:
                continue
            try:
                with self.transaction():
                    for statement in split_sql(sql):
                        self.execute(statement)
                    self.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES(?, ?, ?)",
                                 (version, name, time.time()))
            except sqlite3.Error as e:
                raise StoreError(f"migration {version} ({name}) of {self.path} failed: {e}; "
                                 f"the database was left at version {self.schema_version()}") from None
            if current:  # an upgrade says each step; a new database, once, below
                log.info("migration applied", extra={"version": version, "migration": name})
        if not current and newest:
            log.info("database created", extra={"path": str(self.path), "version": newest})


def split_sql(script):
    """Split a migration script into statements (executescript would COMMIT
    the surrounding transaction, so each statement runs on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
