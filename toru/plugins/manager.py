"""The plugins of this instance: discovery results, their enabled state and
their supervised processes — what the management API and the router ask.

Discovery runs at start, on `POST /api/plugins/rescan`, and whenever the
cheap stat check every `timings.rescan_interval` seconds sees a `*.binary` added, removed
or replaced. A replaced binary that was running is restarted on the new file.
"""

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import gevent
import psutil

from toru.errors import ConfigError, NotFound
from toru.plugins import discovery
from toru.plugins.config import PluginConfig
from toru.plugins.configs import PluginConfigs
from toru.plugins.events import PluginEvents
from toru.plugins.kv import PluginKV
from toru.plugins.logs import RotatingJsonLog, SupervisorLog, plugin_log_path, supervisor_log_path
from toru.plugins.supervisor import PluginProcess

log = logging.getLogger("toru.plugins")

SUN_PATH_MAX = 107
STOP_ALL_WITHIN = 10


def runtime_dir(data_dir):
    """A private (0700) directory for plugin sockets: `<data>/run`, or a short
    one under /tmp when that path would not fit a socket address (107 bytes)."""
    directory = Path(data_dir) / "run"
    if len(str(directory)) + len("/" + "x" * 64 + ".sock") > SUN_PATH_MAX:
        base = Path(tempfile.gettempdir()) / f"toru-{os.getuid()}"
        base.mkdir(mode=0o700, exist_ok=True)
        if base.stat().st_uid != os.getuid() or base.is_symlink():
            raise ConfigError(f"{base} belongs to someone else; remove it or use a shorter --data-dir")
        os.chmod(base, 0o700)
        directory = base / hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    return directory


class PluginManager:
    def __init__(self, config, store, instance_id):
        self.data_dir = Path(config.data_dir)
        self.plugins_dir = self.data_dir / "plugins"
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        (self.plugins_dir / ".metadata").mkdir(exist_ok=True)
        self.log_dir = Path(config.log_dir)
        self.instance_id = instance_id
        self.timings = config.timings
        self.enabled = PluginConfig(self.plugins_dir / ".metadata" / "config.json")
        self.enabled.load()
        self.kv = PluginKV(store)
        self.configs = PluginConfigs(store)
        self.plugin_timeout = config.plugin_timeout
        self.events = PluginEvents(store, SupervisorLog(supervisor_log_path(self.log_dir)))
        self.sockets = runtime_dir(self.data_dir)
        self.processes = {}   # id → PluginProcess (valid plugins)
        self.invalid = []     # discovery.Discovered that failed checks
        self.logs = {}        # id → RotatingJsonLog
        self.fingerprints = {}
        self.usage = {}       # id → psutil.Process of its current pid, for cpu_percent between calls
        self.notify_listeners = []  # fn(plugin_id, payload) for each `notify` a plugin sends (alerts)

    # --- discovery ---------------------------------------------------------------------
    def rescan(self, reason="rescan"):
        """Bring the running set in line with the directory; returns counts."""
        self.fingerprints = discovery.fingerprints(self.plugins_dir)
        found = discovery.scan(self.plugins_dir, self.timings.metadata_timeout)
        valid = {d.id: d for d in found if d.valid}
        counts = {"added": 0, "removed": 0, "replaced": 0, "invalid": 0}
        for plugin_id in list(self.processes):
            process = self.processes[plugin_id]
            new = valid.get(plugin_id)
            if new is None or new.path != process.plugin.path:
                process.stop("binary removed")
                del self.processes[plugin_id]
                self.events.record(plugin_id, "removed", file=str(process.plugin.path))
                counts["removed"] += 1
            elif new.fingerprint != process.plugin.fingerprint:
                was_running = process.wants_to_run
                process.stop("binary replaced")
                replacement = self._add(new)  # in place first: the event's push shows the new card
                self.events.record(plugin_id, "replaced", file=str(new.path))
                counts["replaced"] += 1
                if was_running or self.enabled.is_enabled(plugin_id):
                    replacement.start("binary replaced")
        for plugin_id, plugin in valid.items():
            if plugin_id not in self.processes:
                process = self._add(plugin)
                self.events.record(plugin_id, "discovered", file=str(plugin.path),
                                   version=plugin.metadata["version"])
                if self.enabled.is_enabled(plugin_id):
                    process.start("enabled")
                counts["added"] += 1
        old_invalid = {(d.path, d.fingerprint) for d in self.invalid}
        self.invalid = [d for d in found if not d.valid]
        for d in self.invalid:
            if (d.path, d.fingerprint) not in old_invalid:
                self.events.record(d.id, "invalid", file=str(d.path), reason=d.reason)
        counts["invalid"] = len(self.invalid)
        log.info("plugins scanned", extra=dict(counts, reason=reason))
        return counts

    def _add(self, plugin):
        plugin_id = plugin.id
        if plugin_id not in self.logs:
            self.logs[plugin_id] = RotatingJsonLog(plugin_log_path(self.log_dir, plugin_id))
        process = PluginProcess(
            plugin, socket_path=self.sockets / f"{plugin_id}.sock", log=self.logs[plugin_id],
            data_dir=self.data_dir, instance_id=self.instance_id, log_path=plugin_log_path(self.log_dir, plugin_id),
            events=self.events, on_kv=self._plugin_request, on_give_up=self._give_up, timings=self.timings,
            config_of=self.configs.get)
        self.processes[plugin_id] = process
        return process

    def _plugin_request(self, plugin_id, message):
        """What a plugin sent on its own: `kv` gets its reply frame; `notify`
        (docs/plugins.md) goes to the listeners and gets none (None)."""
        if message.get("type") != "notify":
            return self.kv.handle(plugin_id, message)
        for listener in self.notify_listeners:
            listener(plugin_id, message.get("payload"))
        return None

    def watch(self):
        """Rescan when the directory's cheap fingerprint changes."""
        while True:
            gevent.sleep(self.timings.rescan_interval)
            try:
                if discovery.fingerprints(self.plugins_dir) != self.fingerprints:
                    self.rescan("directory changed")
            except Exception:
                log.exception("plugin rescan failed")

    # --- operator actions --------------------------------------------------------------
    def process(self, plugin_id):
        process = self.processes.get(plugin_id)
        if process is None:
            raise NotFound("Plugin not found")
        return process

    def enable(self, plugin_id):
        process = self.process(plugin_id)
        self.enabled.set_enabled(plugin_id, True)
        self.events.record(plugin_id, "enabled")
        process.start_fresh("enabled")

    def disable(self, plugin_id):
        process = self.process(plugin_id)
        self.enabled.set_enabled(plugin_id, False)
        self.events.record(plugin_id, "disabled")
        process.stop("disabled")

    def restart(self, plugin_id):
        process = self.process(plugin_id)
        if not self.enabled.is_enabled(plugin_id):
            self.enabled.set_enabled(plugin_id, True)
            self.events.record(plugin_id, "enabled")
        process.restart("restart")

    def set_config(self, plugin_id, config, actor):
        """Store a plugin's config (checked first: a bad one changes nothing),
        send it to the plugin if it runs, and record one `config_changed`
        event. Returns what `GET …/config` now answers."""
        self.get(plugin_id)
        size = self.configs.set(plugin_id, config, actor)
        process = self.processes.get(plugin_id)
        running = process is not None and process.running
        if running:
            process.deliver_config(self.plugin_timeout)
        self.events.record(plugin_id, "config_changed", by=actor, bytes=size,
                           delivery="now" if running else "at its next start")
        return self.configs.describe(plugin_id)

    def _give_up(self, plugin_id):
        # The process records this as its `disabled_after_max_restarts`
        # transition: one event, not a second `disabled` one.
        self.enabled.set_enabled(plugin_id, False)

    def shutdown(self, timeout=STOP_ALL_WITHIN):
        """Stop every plugin in parallel (core shutdown)."""
        stops = [gevent.spawn(p.stop, "core stopping") for p in self.processes.values()]
        gevent.joinall(stops, timeout=timeout)

    # --- what the API shows --------------------------------------------------------------
    def by_route(self, segment):
        for process in self.processes.values():
            if process.plugin.metadata["route"] == "/" + segment:
                return process
        return None

    def describe(self, process):
        meta = process.plugin.metadata
        info = {
            "id": process.id, "name": meta["name"], "version": meta["version"], "author": meta["author"],
            "icon": meta["icon"], "route": meta["route"], "description": meta["description"],
            "file": process.plugin.path.name, "cpu_percent": None, "rss": None,
        }
        info.update(process.status(self.enabled.is_enabled(process.id)))
        info.update(self._usage(process))
        return info

    def describe_invalid(self, found):
        return {"id": found.id, "name": found.id, "version": "unknown", "author": "", "icon": "",
                "route": None, "description": None, "file": found.path.name,
                "enabled": self.enabled.is_enabled(found.id), "state": "invalid", "running": False,
                "health": "unhealthy", "condition": "invalid", "pid": None, "restarts": 0, "crashes": 0, "last_exit": None,
                "started_at": None, "retry_at": None, "reason": found.reason, "cpu_percent": None, "rss": None,
                "socket_path": None}

    def list(self):
        plugins = [self.describe(p) for p in self.processes.values()]
        plugins += [self.describe_invalid(d) for d in self.invalid if d.id not in self.processes]
        return sorted(plugins, key=lambda p: (p["name"].lower(), p["id"]))

    def get(self, plugin_id):
        if plugin_id in self.processes:
            return self.describe(self.processes[plugin_id])
        for found in self.invalid:
            if found.id == plugin_id:
                return self.describe_invalid(found)
        raise NotFound("Plugin not found")

    def _usage(self, process):
        """CPU % since the last look and RSS; one psutil.Process kept per
        plugin (cpu_percent measures between calls), replaced with the pid."""
        pid = process.pid
        if pid is None:
            return {}
        try:
            proc = self.usage.get(process.id)
            if proc is None or proc.pid != pid:
                proc = self.usage[process.id] = psutil.Process(pid)
                proc.cpu_percent(None)  # the first call only starts the measurement
            with proc.oneshot():
                return {"cpu_percent": proc.cpu_percent(None), "rss": proc.memory_info().rss}
        except psutil.Error:
            self.usage.pop(process.id, None)
            return {}
