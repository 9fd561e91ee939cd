"""The audit trail (docs/security.md#audit-trail): one row per state-changing
request and per security event, in `audit_log`, chained by SHA-256 so that
an edited or deleted row shows.

- `record()` appends a row: `hash = sha256(prev_hash + canonical(row))`,
  where `canonical` is the JSON (sorted keys, no spaces) of every column
  but `hash`, and `prev_hash` is the previous row's hash (`GENESIS` for the
  first row ever). Ids come from `sqlite_sequence` (AUTOINCREMENT), so a
  deleted newest row is not silently reused by the next one.
- `prune()` deletes rows older than the `audit_retention_days` setting and
  appends an `audit.checkpoint` row naming the last pruned id and hash:
  `verify()` starts the chain there.
- `verify()` walks the chain and names the first row that was altered or is
  missing. It proves edits by someone without the database only: whoever
  can write the file can also recompute every hash after their edit, so
  keep the head hash `verify` prints (or an export) somewhere else.

Rows are written on the hub's thread through the store's one connection
(docs/architecture.md "The store and greenlets"): one SELECT of the head
and one INSERT, no transaction of its own, so a row written inside a
caller's transaction commits or rolls back with it. How requests and log
lines become rows is in `audit_capture.py`.
"""

import csv
import hashlib
import io
import json
import logging
import time
from datetime import datetime, timezone

import bottle
import gevent

from toru.errors import Invalid
from toru.logs import rfc3339
from toru.store import connect
from toru.web.http import paging

log = logging.getLogger("toru.audit.trail")

GENESIS = "0" * 64  # prev_hash of the first row ever
COLUMNS = ("id", "at", "actor", "ip", "action", "target", "outcome", "details", "prev_hash")
OUTCOMES = ("ok", "denied", "invalid", "error")
CHECKPOINT = "audit.checkpoint"
EXPORT_MAX = 100_000  # rows in one export (a year of a busy instance; narrow it with since/until)
DAY = 86400


def canonical(row):
    """The text a row's hash covers: every column but `hash`, as JSON with
    sorted keys. `details` is hashed as the stored JSON text, so nothing
    depends on how it would be re-encoded."""
    return json.dumps({name: row[name] for name in COLUMNS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def row_hash(row):
    return hashlib.sha256((row["prev_hash"] + canonical(row)).encode("utf-8")).hexdigest()


def entry_dict(row):
    return {"id": row["id"], "at": row["at"], "at_rfc3339": rfc3339(row["at"]), "actor": row["actor"],
            "ip": row["ip"], "action": row["action"], "target": row["target"], "outcome": row["outcome"],
            "details": json.loads(row["details"])}


class AuditTrail:
    def __init__(self, store, settings, clock=time.time):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.listeners = []  # fn(row with `details` as a dict) after each row (security alerts)

    def record(self, actor, action, outcome="ok", target=None, ip=None, details=None):
        """Append one row; returns its id."""
        store = self.store
        head = store.one("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        seq = store.one("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'")
        row = {"id": max(seq["seq"] if seq else 0, head["id"] if head else 0) + 1, "at": self.clock(),
               "actor": str(actor), "ip": ip or None, "action": action, "target": None if target in (None, "") else
               str(target)[:200], "outcome": outcome,
               "details": json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str),
               "prev_hash": head["hash"] if head else GENESIS}
        row["hash"] = row_hash(row)
        store.execute(f"INSERT INTO audit_log({', '.join(row)}) VALUES({', '.join('?' * len(row))})",
                      tuple(row.values()))
        for listener in self.listeners:
            try:
                listener(dict(row, details=details or {}))
            except Exception:  # a listener never costs the trail its row
                log.exception("audit listener failed", extra={"action": action})
        return row["id"]

    # --- retention ---------------------------------------------------------------------------
    def prune(self, now=None):
        """Delete the rows older than the retention and chain a checkpoint
        in their place; the number of rows deleted."""
        now = self.clock() if now is None else now
        days = self.settings.get("audit_retention_days")
        cutoff = now - days * DAY
        with self.store.transaction():
            # By id, not by time: the chain must lose a prefix, never a row in the middle.
            keep = self.store.one("SELECT min(id) AS id FROM audit_log WHERE at >= ?", (cutoff,))["id"]
            bounds = self.store.one("SELECT min(id) AS first, max(id) AS last FROM audit_log"
                                    + ("" if keep is None else " WHERE id < ?"), () if keep is None else (keep,))
            if bounds["first"] is None:
                return 0
            last = self.store.one("SELECT hash FROM audit_log WHERE id = ?", (bounds["last"],))
            count = self.store.one("SELECT count(*) AS n FROM audit_log WHERE id <= ?", (bounds["last"],))["n"]
            # The checkpoint first: it chains to the newest row like any other.
            self.record("system", CHECKPOINT, details={
                "pruned_rows": count, "first_pruned_id": bounds["first"], "last_pruned_id": bounds["last"],
                "last_pruned_hash": last["hash"], "before": rfc3339(cutoff), "retention_days": days})
            deleted = self.store.execute("DELETE FROM audit_log WHERE id <= ?", (bounds["last"],)).rowcount
        log.info("audit trail pruned", extra={"rows": deleted, "through_id": bounds["last"]})
        return deleted

    # --- reading -----------------------------------------------------------------------------
    def page(self, filters, page, page_size):
        clause, params = where(filters)
        total = self.store.one(f"SELECT count(*) AS n FROM audit_log{clause}", params)["n"]
        rows = self.store.all(f"SELECT * FROM audit_log{clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                              params + [page_size, page * page_size])
        return {"entries": [entry_dict(r) for r in rows], "page": page, "page_size": page_size, "total": total}


def where(filters):
    """(SQL WHERE clause, params) for the list and export filters."""
    parts, params = [], []
    actor = filters.get("actor")
    if actor:
        # "alice" finds user:alice; "token:3", "schedule:2", "system" match whole.
        parts.append("(actor = ? COLLATE NOCASE OR (instr(?, ':') = 0 AND "
                     "substr(actor, instr(actor, ':') + 1) = ? COLLATE NOCASE))")
        params += [actor, actor, actor]
    action = filters.get("action")
    if action:
        parts.append("(action = ? OR substr(action, 1, ?) = ?)")  # "user" finds user.create, user.delete…
        params += [action, len(action) + 1, action + "."]
    if filters.get("outcome"):
        parts.append("outcome = ?")
        params.append(filters["outcome"])
    if filters.get("since") is not None:
        parts.append("at >= ?")
        params.append(filters["since"])
    if filters.get("until") is not None:
        parts.append("at <= ?")
        params.append(filters["until"])
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def parse_time(name, value):
    """Epoch seconds from RFC 3339 (or a plain date, UTC) or a number."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise Invalid(f"{name} must be a date and time like 2025-01-31T18:00:00Z (RFC 3339), "
                      f"a date like 2025-01-31, or Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def read_filters(query):
    filters = {"actor": (query.get("actor") or "").strip()[:200], "action": (query.get("action") or "").strip()[:100]}
    outcome = query.get("outcome") or ""
    if outcome and outcome not in OUTCOMES:
        raise Invalid(f"outcome must be one of {', '.join(OUTCOMES)}")
    filters["outcome"] = outcome
    for name in ("since", "until"):
        value = query.get(name)
        filters[name] = parse_time(name, value) if value not in (None, "") else None
    if filters["since"] is not None and filters["until"] is not None and filters["since"] > filters["until"]:
        raise Invalid("since must not be later than until")
    return filters


# --- verification --------------------------------------------------------------------------------
def verify(conn):
    """(ok, rows checked, message) for the chain in `conn` (a sqlite3
    connection with Row rows). The message names the first bad row."""
    start_id, expected = 1, GENESIS
    checkpoint = conn.execute("SELECT details FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1",
                              (CHECKPOINT,)).fetchone()
    if checkpoint is not None:
        details = json.loads(checkpoint["details"])
        start_id, expected = details["last_pruned_id"] + 1, details["last_pruned_hash"]
    count, previous = 0, start_id - 1
    for row in conn.execute("SELECT * FROM audit_log ORDER BY id"):
        if row["id"] != previous + 1:
            return False, count, missing(previous + 1, row["id"] - 1, "gap in ids")
        if row["prev_hash"] != expected:
            return False, count, f"row {row['id']}: does not follow row {previous} (prev_hash mismatch)"
        if row_hash(row) != row["hash"]:
            return False, count, f"row {row['id']}: altered (hash mismatch)"
        count, previous, expected = count + 1, row["id"], row["hash"]
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
    if seq is not None and seq["seq"] > previous:
        return False, count, missing(previous + 1, seq["seq"], "the newest rows were deleted")
    head = f", head {expected}" if count else ""
    return True, count, f"{count} row{'s' if count != 1 else ''}, chain intact{head}"


def missing(first, last, why):
    return f"row {first}: missing ({why})" if first == last else f"rows {first}-{last}: missing ({why})"


# --- export ---------------------------------------------------------------------------------------
EXPORT_FIELDS = ("id", "at", "actor", "ip", "action", "target", "outcome", "details", "prev_hash", "hash")


def export_rows(path, filters):
    """Rows for an export, oldest first, read on a connection of their own
    (this runs in the threadpool: a year of rows is a big scan)."""
    clause, params = where(filters)
    conn = connect(path)
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM audit_log{clause} ORDER BY id LIMIT ?",
                                              params + [EXPORT_MAX])]
    finally:
        conn.close()


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([spreadsheet_safe(rfc3339(row["at"]) if name == "at" else row[name])
                         for name in EXPORT_FIELDS])
    return out.getvalue()


def to_json(rows):
    return json.dumps({"entries": [dict(entry_dict(r), prev_hash=r["prev_hash"], hash=r["hash"]) for r in rows]},
                      ensure_ascii=False, indent=1)


def register(app, services):
    trail, db_path = services.audit, services.config.db_path

    @app.get("/api/audit", role="admin")
    def audit_page():
        """Newest first; filters: actor, action (a prefix: `user`), outcome, since, until."""
        query = bottle.request.query
        page, size = paging(query)
        return trail.page(read_filters(query), page, size)

    @app.get("/api/audit/export", role="admin")
    def audit_export():
        """The filtered rows, oldest first, with their hashes: CSV or JSON, as a download."""
        query = bottle.request.query
        kind = query.get("format") or "csv"
        if kind not in ("csv", "json"):
            raise Invalid("format must be csv or json")
        rows = gevent.get_hub().threadpool.apply(export_rows, (db_path, read_filters(query)))
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        bottle.response.content_type = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="toru-audit-{stamp}.{kind}"')
        return to_csv(rows) if kind == "csv" else to_json(rows)

    @app.get("/api/audit/verify", role="admin")
    def audit_verify():
        """The chain check of `toru.pyz audit verify`, from the browser."""
        ok, rows, message = gevent.get_hub().threadpool.apply(verify_file, (db_path,))
        return {"ok": ok, "rows": rows, "message": message}


def verify_file(path):
    conn = connect(path)
    try:
        return verify(conn)
    finally:
        conn.close()
