"""Which plugins are enabled: `<data>/plugins/.metadata/config.json`,
`{"plugins": {"<id>": true|false}}` as in the original design.

Entries may also be `{"enabled": bool, ...}`. Keys we do not know, at any
level, survive our writes. Writes are atomic (temp file, fsync, rename,
fsync of the directory), so a crash leaves the old file or the new one.
A file we cannot understand is moved aside and reported, never overwritten.
"""

import copy
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from toru.errors import ConfigError

log = logging.getLogger("toru.plugins")

FILE_NAME = "config.json"
DIR_NAME = ".metadata"


class PluginConfig:
    def __init__(self, path):
        self.path = Path(path)
        self.problem = None        # a sentence for the API when the file was unusable
        self._doc = {"plugins": {}}
        self._lock = threading.Lock()

    @classmethod
    def in_dir(cls, plugins_dir):
        """The config of the plugins in `plugins_dir` (`<dir>/.metadata/config.json`)."""
        return cls(Path(plugins_dir) / DIR_NAME / FILE_NAME)

    def load(self):
        """Read the file (a missing file means every plugin is enabled).
        Returns self. ConfigError if the file exists but cannot be read."""
        self._make_dir()
        self.problem = None
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._doc = {"plugins": {}}
            return self
        except OSError as e:
            raise ConfigError(f"cannot read plugin config {self.path}: {e.strerror}") from None
        doc, what = parse(raw)
        if doc is None:
            self._move_aside(what)
            self._doc = {"plugins": {}}
            return self
        self._doc = doc
        bad = [plugin_id for plugin_id, value in doc["plugins"].items() if enabled_value(value) is None]
        if bad:
            # One odd entry is no reason to forget the others: it is kept as
            # written and counts as "no setting" until it is set again.
            self.problem = (f"{self.path} has entries that are neither true/false nor "
                            f'{{"enabled": true/false}}: {", ".join(sorted(bad))}; they count as enabled')
            log.warning("plugin config entries ignored", extra={"path": str(self.path), "plugins": sorted(bad)})
        return self

    def is_enabled(self, plugin_id):
        value = enabled_value(self._doc["plugins"].get(plugin_id))
        return True if value is None else value

    def states(self):
        """{id: enabled} for every id the file mentions (valid entries only)."""
        out = {}
        for plugin_id, value in self._doc["plugins"].items():
            value = enabled_value(value)
            if value is not None:
                out[plugin_id] = value
        return out

    def set_enabled(self, plugin_id, enabled):
        """Record and persist the enabled state of `plugin_id`."""
        enabled = bool(enabled)
        with self._lock:
            # Changed on a copy: if the write fails, memory still matches disk.
            doc = copy.deepcopy(self._doc)
            current = doc["plugins"].get(plugin_id)
            if isinstance(current, dict):
                current["enabled"] = enabled   # keeps the entry's other keys
            else:
                doc["plugins"][plugin_id] = enabled
            self._write(doc)
            self._doc = doc

    # ---- internals ----

    def _make_dir(self):
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _write(self, doc):
        self._make_dir()
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{FILE_NAME}.", suffix=".tmp")
        replaced = False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            replaced = True
        finally:
            if not replaced:   # a failed write leaves no stray temp file
                os.unlink(tmp)
        fsync_dir(self.path.parent)

    def _move_aside(self, what):
        stamp = int(time.time())
        aside = self.path.with_name(f"{FILE_NAME}.corrupt-{stamp}")
        n = 1
        while aside.exists():   # two corrupt files within one second
            aside = self.path.with_name(f"{FILE_NAME}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.rename(self.path, aside)
        except OSError as e:
            # Refuse to start rather than overwrite what we could not keep.
            raise ConfigError(f"plugin config {self.path} is unusable ({what}) and could not be "
                              f"moved aside: {e.strerror}") from None
        fsync_dir(self.path.parent)
        self.problem = (f"{self.path} was unusable ({what}); it was kept as {aside.name} "
                        "and every plugin counts as enabled until set again")
        log.warning("plugin config moved aside", extra={"path": str(self.path), "kept_as": str(aside),
                                                        "problem": what})


def parse(raw):
    """(document, None) for a usable file, (None, what is wrong) otherwise."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except json.JSONDecodeError as e:
        return None, f"bad JSON: {e.msg} at line {e.lineno} column {e.colno}"
    if not isinstance(doc, dict):
        return None, "not a JSON object"
    plugins = doc.setdefault("plugins", {})
    if not isinstance(plugins, dict):
        return None, '"plugins" is not an object'
    return doc, None


def enabled_value(value):
    """True/False from an entry (`bool` or `{"enabled": bool}`), None if unusable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, dict) and isinstance(value.get("enabled"), bool):
        return value["enabled"]
    return None


def fsync_dir(path):
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
