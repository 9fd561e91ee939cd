"""Where alerts come from (docs/alerts.md#rules): each source turns what
another part of Toru reports into the engine's observations or events.

- the sampler's snapshots (`Monitor.listeners`) → `metric` rules, on every sample;
- a task's end (`TaskHistory.listeners`, which also sees the runs a crash
  left `running`, marked interrupted at start) → `task_failed` events;
- plugin events (`PluginEvents.listeners`) and a periodic look at the
  plugins → `plugin` rules (crash loop, disabled, unhealthy);
- a plugin's `notify` message (`PluginManager.notify_listeners`) → `plugin`
  rules with event `notify`, at most NOTIFY_LIMIT per plugin a minute;
- the audit trail (`AuditTrail.listeners`) → `security` events: a sign-in
  failure that starts a lock-out, an admin created or promoted, an API
  token created.

A failing source logs and carries on: an alert rule must never break the
sampler, a task's end or a sign-in.
"""

import collections
import logging
import operator

import gevent

from toru.alerts.engine import Observation, fingerprint
from toru.alerts.rules import SEVERITIES, metric_summary
from toru.plugins.supervisor import CRASH_LOOP, PluginState

log = logging.getLogger("toru.alerts")

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
CRASH_WINDOW = 300     # seconds: CRASH_LOOP crashes within it are a crash loop
CRASHES = ("exited", "start_failed")
NOTIFY_LIMIT = 6       # notify messages per plugin per NOTIFY_WINDOW; more are dropped (and logged)
NOTIFY_WINDOW = 60
TITLE_LIMIT = 200
MESSAGE_LIMIT = 2000


def metric_values(snapshot, metric):
    """[(labels, value)] of `metric` in a sampler snapshot (None values left out)."""
    if metric == "disk_percent":
        found = [({"mount": d["mount_point"]}, d["percent"]) for d in snapshot.get("disks", [])]
    elif metric in ("net_rx_bytes_per_s", "net_tx_bytes_per_s"):
        key = metric[4:]
        found = [({"interface": n["interface"]}, n[key]) for n in snapshot.get("networks", [])]
    elif metric in ("disk_read_bytes_per_s", "disk_write_bytes_per_s"):
        found = [({}, (snapshot.get("disk_io") or {}).get(metric[5:]))]
    elif metric in ("load1", "load_per_core"):
        load = (snapshot.get("load_average") or [None])[0]
        cores = snapshot.get("cpu_count") or len(snapshot.get("cpu_per_core") or []) or 1
        found = [({}, load if metric == "load1" or load is None else round(load / cores, 3))]
    else:
        found = [({}, snapshot.get(metric))]
    return [(labels, value) for labels, value in found if value is not None]


def metric_observations(rule, snapshot):
    cond = rule["condition"]
    wanted = cond["labels"]
    compare = OPS[cond["op"]]
    observations = {}
    for labels, value in metric_values(snapshot, cond["metric"]):
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        observations[fingerprint(labels)] = Observation(labels, value, compare(value, cond["threshold"]),
                                                        metric_summary(cond, labels, value))
    return observations


class AlertSources:
    def __init__(self, engine, plugins, clock):
        self.engine = engine
        self.plugins = plugins          # PluginManager: processes and their enabled state
        self.clock = clock
        self.crashes = collections.defaultdict(collections.deque)  # plugin id → times of recent crashes
        self.notified = collections.defaultdict(collections.deque)  # plugin id → times of recent notify
        self.dropped_notify = collections.Counter()

    def attach(self, monitor, task_history, audit):
        monitor.listeners.append(self.on_sample)
        task_history.listeners.append(self.on_task_end)
        self.plugins.events.listeners.append(self.on_plugin_event)
        self.plugins.notify_listeners.append(self.on_plugin_notify)
        audit.listeners.append(self.on_audit)

    def run(self, interval):
        """The engine's clock tick: plugin conditions, repeats, silences ending."""
        while True:
            gevent.sleep(interval)
            self.tick()

    def tick(self):
        try:
            self.observe_plugins()
            self.engine.tick()
        except Exception:
            log.exception("alert tick failed")

    # --- metrics ------------------------------------------------------------------------------
    def on_sample(self, snapshot):
        if snapshot.get("warming_up"):
            return  # a first sample has no rates: it would resolve or fire on zeros
        for rule in self.engine.rules_of("metric"):
            try:
                self.engine.observe(rule, metric_observations(rule, snapshot))
            except Exception:
                log.exception("metric alert rule failed", extra={"rule": rule["id"]})

    # --- tasks -----------------------------------------------------------------------------------
    def on_task_end(self, task):
        try:
            for rule in self.engine.rules_of("task_failed"):
                if task_matches(rule["condition"], task):
                    labels = {"task_id": task["id"], "script": task["script"]}
                    if task.get("quick_action_name"):
                        labels["quick_action"] = task["quick_action_name"]
                    self.engine.event(rule, labels, f"Task {task['script']}: {task['exit_text']}",
                                      value=task.get("exit_code"), user_id=task.get("started_by_id"))
        except Exception:
            log.exception("task alert failed", extra={"task_id": task.get("id")})

    # --- plugins ---------------------------------------------------------------------------------
    def on_plugin_event(self, event):
        try:
            if event["event_type"] in CRASHES:
                self.crashes[event["plugin_id"]].append(self.clock())
            self.observe_plugins()
        except Exception:
            log.exception("plugin alert failed", extra={"plugin": event.get("plugin_id")})

    def crash_count(self, plugin_id, now):
        times = self.crashes[plugin_id]
        while times and times[0] <= now - CRASH_WINDOW:
            times.popleft()
        return len(times)

    def observe_plugins(self):
        now = self.clock()
        for rule in self.engine.rules_of("plugin"):
            event = rule["condition"]["event"]
            if event == "notify":
                continue
            names = rule["condition"]["plugins"]
            observations = {}
            for plugin_id, process in list(self.plugins.processes.items()):
                if not names or plugin_id in names:
                    obs = self.plugin_observation(event, plugin_id, process, now)
                    observations[fingerprint(obs.labels)] = obs
            self.engine.observe(rule, observations)

    def plugin_observation(self, event, plugin_id, process, now):
        labels = {"plugin": plugin_id}
        if event == "crash_loop":
            n = self.crash_count(plugin_id, now)
            return Observation(labels, n, n >= CRASH_LOOP,
                               f"Plugin {plugin_id} crashed {n} times in the last {CRASH_WINDOW // 60} minutes")
        if event == "disabled":
            failed = process.state is PluginState.FAILED
            return Observation(labels, None, failed, process.reason if failed and process.reason
                               else f"Plugin {plugin_id} is {process.state.value}")
        enabled = self.plugins.enabled.is_enabled(plugin_id)
        return Observation(labels, None, enabled and not process.healthy,
                           f"Plugin {plugin_id} is {process.condition(enabled)}")

    def on_plugin_notify(self, plugin_id, payload):
        """A plugin's own alert: checked, limited, routed by `plugin` rules with event `notify`."""
        now = self.clock()
        times = self.notified[plugin_id]
        while times and times[0] <= now - NOTIFY_WINDOW:
            times.popleft()
        if len(times) >= NOTIFY_LIMIT:
            self.dropped_notify[plugin_id] += 1
            log.warning("plugin notify dropped: over the limit", extra={
                "plugin": plugin_id, "limit": f"{NOTIFY_LIMIT} per {NOTIFY_WINDOW} s",
                "dropped": self.dropped_notify[plugin_id]})
            return
        times.append(now)
        title, message, severity = notify_fields(plugin_id, payload)
        log.info("plugin notify", extra={"plugin": plugin_id, "title": title, "severity": severity})
        for rule in self.engine.rules_of("plugin"):
            cond = rule["condition"]
            if cond["event"] != "notify" or (cond["plugins"] and plugin_id not in cond["plugins"]):
                continue
            if SEVERITIES.index(severity) < SEVERITIES.index(rule["severity"]):
                continue  # the rule's severity is the least it passes on
            self.engine.event(rule, {"plugin": plugin_id, "title": title}, f"{title}: {message}" if message else title,
                              severity=severity)

    # --- security ------------------------------------------------------------------------------------
    def on_audit(self, row):
        try:
            found = security_event(row)
            if found is None:
                return
            kind, labels, summary = found
            for rule in self.engine.rules_of("security"):
                if kind in rule["condition"]["events"]:
                    self.engine.event(rule, dict(labels, event=kind), summary)
        except Exception:
            log.exception("security alert failed", extra={"action": row.get("action")})


def task_matches(cond, task):
    if task["status"] not in cond["statuses"]:
        return False
    if cond["scheduled_only"] and task.get("trigger") != "schedule":
        return False
    if cond["scripts"] or cond["quick_action_ids"]:
        return task["script"] in cond["scripts"] or task.get("quick_action_id") in cond["quick_action_ids"]
    return True


def notify_fields(plugin_id, payload):
    """(title, message, severity) of a notify payload, cut to size; an
    unknown severity reads as `warning`."""
    payload = payload if isinstance(payload, dict) else {}
    title = payload.get("title")
    title = title.strip()[:TITLE_LIMIT] if isinstance(title, str) and title.strip() else f"Plugin {plugin_id}"
    message = payload.get("message")
    message = message.strip()[:MESSAGE_LIMIT] if isinstance(message, str) else ""
    severity = payload.get("severity")
    return title, message, severity if severity in SEVERITIES else "warning"


def security_event(row):
    """(event, labels, summary) of an audit row that is a security event, or None."""
    details, action, actor = row["details"], row["action"], row["actor"]
    values = details.get("values") or {}
    if details.get("locked_until") and details.get("status") != 429:
        # The failure that started the lock (a refusal while locked answers 429).
        who = row.get("target") or "?"
        return ("lockout", {"username": str(who), "ip": str(row.get("ip") or "")},
                f"Sign-in locked out for {who} from {row.get('ip') or 'an unknown address'} after repeated failures")
    if row["outcome"] != "ok":
        return None
    if action == "user.create" and values.get("role") == "admin":
        name = values.get("username") or row.get("target")
        return "admin_created", {"username": str(name)}, f"New admin {name} created by {actor}"
    if action == "user.update" and values.get("role") == "admin":
        return ("admin_created", {"user_id": str(row.get("target"))},
                f"User {row.get('target')} made an admin by {actor}")
    if action == "token.create":
        name = values.get("name") or "?"
        return "token_created", {"token": str(name), "actor": actor}, f"API token {name!r} created by {actor}"
    return None
