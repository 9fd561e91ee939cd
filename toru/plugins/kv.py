"""Plugin key-value storage: `plugin_kv(plugin_id, key, value)`.

A plugin reaches only its own namespace: the plugin id comes from the
connection the request arrived on, never from the message. Requests come in
the shapes the original design's SDKs used (DESIGN §6a): fields at the top
level, flat in `payload`, or nested in `payload.payload`; `action` in any case.
"""

import json
import logging
import sqlite3
import time

from toru_plugin.protocol import envelope

log = logging.getLogger("toru.plugins")

ACTIONS = ("get", "set", "delete", "list")
MAX_KEY = 1024
MAX_VALUE = 1024 * 1024
MAX_KEYS = 10_000


class KvError(Exception):
    pass


def request_fields(message):
    """{action, key, value, prefix} from any of the accepted shapes."""
    payload = message.get("payload")
    candidates = []
    if isinstance(payload, dict):
        if isinstance(payload.get("payload"), dict):
            candidates.append(payload["payload"])
        candidates.append(payload)
    candidates.append(message)
    for fields in candidates:
        if "action" in fields:
            return fields
    raise KvError("kv request without an action")


class PluginKV:
    def __init__(self, store):
        self.store = store

    def get(self, plugin_id, key):
        row = self.store.one("SELECT value FROM plugin_kv WHERE plugin_id = ? AND key = ?", (plugin_id, key))
        return row["value"] if row else None

    def set(self, plugin_id, key, value):
        if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE:
            raise KvError(f"value larger than {MAX_VALUE} bytes")
        with self.store.transaction():
            exists = self.store.one("SELECT 1 FROM plugin_kv WHERE plugin_id = ? AND key = ?", (plugin_id, key))
            if not exists:
                count = self.store.one("SELECT count(*) AS n FROM plugin_kv WHERE plugin_id = ?", (plugin_id,))["n"]
                if count >= MAX_KEYS:
                    raise KvError(f"plugin already stores {MAX_KEYS} keys; delete some first")
            self.store.execute(
                "INSERT INTO plugin_kv(plugin_id, key, value, updated_at) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(plugin_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (plugin_id, key, value, time.time()))

    def delete(self, plugin_id, key):
        self.store.execute("DELETE FROM plugin_kv WHERE plugin_id = ? AND key = ?", (plugin_id, key))

    def keys(self, plugin_id, prefix=""):
        rows = self.store.all("SELECT key FROM plugin_kv WHERE plugin_id = ? AND substr(key, 1, ?) = ? ORDER BY key",
                              (plugin_id, len(prefix), prefix))
        return [r["key"] for r in rows]

    def handle(self, plugin_id, message):
        """The reply frame to a plugin's `kv` request: always one, with
        `error` when the request cannot be carried out — the plugin waits
        for it, so no request may go unanswered."""
        request_id = message.get("request_id")
        payload = message.get("payload")
        if request_id is None and isinstance(payload, dict):
            request_id = payload.get("request_id")
        reply = {"type": "kv", "request_id": request_id}
        try:
            reply.update(self._apply(plugin_id, request_fields(message)))
        except KvError as e:
            reply.update(value=None, error=str(e))
        except (sqlite3.Error, ValueError) as e:
            # SQLite refuses what it cannot store, e.g. a lone surrogate
            # (UnicodeEncodeError is a ValueError): the request fails, not the reply.
            log.warning("plugin kv request refused by the store", extra={"plugin": plugin_id, "error": str(e)})
            reply.update(value=None, error=f"cannot store this key or value: {type(e).__name__}")
        return envelope("kv", reply, request_id)

    def _apply(self, plugin_id, fields):
        action = str(fields.get("action", "")).lower()
        if action not in ACTIONS:
            raise KvError(f"unknown kv action {fields.get('action')!r} (use get, set, delete or list)")
        if action == "list":
            prefix = fields.get("prefix") or fields.get("key") or ""
            if not isinstance(prefix, str):
                raise KvError("prefix must be a string")
            keys = self.keys(plugin_id, prefix)
            return {"value": json.dumps(keys), "keys": keys}  # values are strings on the wire
        key = fields.get("key")
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise KvError(f"key must be a non-empty string of at most {MAX_KEY} characters")
        if action == "get":
            return {"value": self.get(plugin_id, key)}
        if action == "delete":
            self.delete(plugin_id, key)
            return {"value": None}
        value = fields.get("value")
        if value is None:
            raise KvError("set needs a value")
        if not isinstance(value, str):
            raise KvError("values are strings on the wire: JSON-encode other types")
        self.set(plugin_id, key, value)
        return {"value": value}
