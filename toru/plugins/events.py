"""Plugin events: every supervisor transition and operator action, kept in
`plugin_events` for 7 days, written to `plugin-supervisor.log` and pushed to
listeners (the `plugins` live topic). One event is one row, one log line and
one push.

Event types keep the original Toru's names where the meaning is the same.
A state transition is exactly one event (details: `old`, `new`, `reason`
and what the move is about — see toru/plugins/supervisor.py): `starting`,
`restarting_with_backoff`, `started`, `exited`, `start_failed`,
`disabled_after_max_restarts`, `stopping`, `stopped`, `killed`. Other
events are not transitions: `enabled`, `disabled` (operator),
`discovered`, `removed`, `replaced`, `invalid` (discovery) and
`connection_problem` (a frame or connection the core could not read),
`config_changed` (an admin saved the plugin's config).

`timestamp` stays Unix seconds (a number), as the UI, the `plugins` pushes
and existing scripts read it; `timestamp_rfc3339` is the same moment as
RFC 3339 text (UTC), the form the original design's events had.
"""

import json
import logging
import time

from toru.logs import rfc3339

log = logging.getLogger("toru.plugins")

KEEP_DAYS = 7
WARN_EVENTS = {"exited", "killed", "start_failed", "invalid", "connection_problem"}
ERROR_EVENTS = {"disabled_after_max_restarts"}


def event_dict(row):
    return {"id": row["id"], "plugin_id": row["plugin_id"], "event_type": row["event_type"],
            "timestamp": row["timestamp"], "timestamp_rfc3339": rfc3339(row["timestamp"]),
            "details": json.loads(row["details"] or "{}")}


class PluginEvents:
    def __init__(self, store, supervisor_log):
        self.store = store
        self.supervisor_log = supervisor_log
        self.listeners = []  # fn(event dict)

    def record(self, plugin_id, event_type, **details):
        level = "error" if event_type in ERROR_EVENTS else "warn" if event_type in WARN_EVENTS else "info"
        cur = self.store.execute(
            "INSERT INTO plugin_events(plugin_id, event_type, timestamp, details) VALUES(?, ?, ?, ?)",
            (plugin_id, event_type, time.time(), json.dumps(details, default=str)))
        self.supervisor_log.event(plugin_id, event_type, details, level=level)
        event = event_dict(self.store.one("SELECT * FROM plugin_events WHERE id = ?", (cur.lastrowid,)))
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("plugin event listener failed")
        return event

    def recent(self, plugin_id=None, limit=100):
        if plugin_id is None:
            rows = self.store.all("SELECT * FROM plugin_events ORDER BY timestamp DESC, id DESC LIMIT ?", (limit,))
        else:
            rows = self.store.all("SELECT * FROM plugin_events WHERE plugin_id = ? "
                                  "ORDER BY timestamp DESC, id DESC LIMIT ?", (plugin_id, limit))
        return [event_dict(r) for r in rows]

    def prune(self, now=None):
        cutoff = (now or time.time()) - KEEP_DAYS * 86400
        return self.store.execute("DELETE FROM plugin_events WHERE timestamp < ?", (cutoff,)).rowcount
