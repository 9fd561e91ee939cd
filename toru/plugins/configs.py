"""Each plugin's configuration: one JSON object per plugin, edited by an
admin (`GET/PUT /api/plugins/<id>/config`) and kept in `plugin_config`.

The original SDK's `PluginContext.config`: the core sends the object in the
`init` lifecycle payload as `config`, and a changed one to a running plugin
in a `lifecycle` frame whose action is `config` (toru/plugins/supervisor.py).
Old plugins ignore lifecycle actions they do not know, so nothing else on
the wire changes.

The stored text is the object as compact JSON; the cap (64 KiB) counts its
UTF-8 bytes, so what a plugin receives is never bigger than that.
"""

import json
import time

from toru.errors import Invalid, PayloadTooLarge

MAX_BYTES = 64 * 1024


def encode_config(config):
    """The compact JSON text of a config; Invalid or PayloadTooLarge with a
    message naming what is wrong."""
    if not isinstance(config, dict):
        kind = "an array" if isinstance(config, list) else "null" if config is None else type(config).__name__
        raise Invalid(f"config must be a JSON object ({{…}}), not {kind}")
    try:
        text = json.dumps(config, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        size = len(text.encode("utf-8"))
    except ValueError:
        raise Invalid("config must not contain NaN or Infinity (JSON has no such numbers)") from None
    except UnicodeEncodeError:
        raise Invalid("config contains text that is not valid Unicode (a lone surrogate)") from None
    except RecursionError:
        raise Invalid("config is nested too deeply") from None
    if size > MAX_BYTES:
        raise PayloadTooLarge(f"config is {size} bytes as compact JSON; at most {MAX_BYTES} (64 KiB)")
    return text, size


class PluginConfigs:
    def __init__(self, store):
        self.store = store

    def get(self, plugin_id):
        """The plugin's config object ({} when none was ever set)."""
        row = self.store.one("SELECT config FROM plugin_config WHERE plugin_id = ?", (plugin_id,))
        return json.loads(row["config"]) if row else {}

    def describe(self, plugin_id):
        row = self.store.one("SELECT * FROM plugin_config WHERE plugin_id = ?", (plugin_id,))
        if row is None:
            return {"config": {}, "updated_at": None, "updated_by": None}
        return {"config": json.loads(row["config"]), "updated_at": row["updated_at"],
                "updated_by": row["updated_by"]}

    def set(self, plugin_id, config, actor):
        """Store a checked config; returns its size in bytes."""
        text, size = encode_config(config)
        self.store.execute(
            "INSERT INTO plugin_config(plugin_id, config, updated_at, updated_by) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(plugin_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by", (plugin_id, text, time.time(), actor))
        return size
