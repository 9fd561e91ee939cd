"""Alert rules (docs/alerts.md#rules): what an operator wants to hear about,
checked in words and kept in `alert_rules`.

A rule has a `kind` and a `condition` object whose fields depend on it:

- `metric`: `{metric, op, threshold, for_seconds, labels}` over the sampler's
  values (METRICS; `disk_percent` per `mount`, the network rates per
  `interface`); `labels` narrows a rule to some mounts or interfaces.
- `task_failed`: `{statuses, scripts, quick_action_ids, scheduled_only}`.
- `plugin`: `{event, plugins, for_seconds}`, event one of PLUGIN_EVENTS.
- `security`: `{events}`, a subset of SECURITY_EVENTS.

Every field of a condition has a default, so `{"metric": "cpu_percent",
"op": ">", "threshold": 90}` is a whole metric condition; what the API
answers is the condition with its defaults filled in. The engine
(`engine.py`) hears of every change through `listeners`.
"""

import json
import math
import time
from typing import NamedTuple

from toru.checks import boolean, choice, create_or_update, label, whole_number
from toru.errors import FieldErrors, Invalid, NotFound

KINDS = ("metric", "task_failed", "plugin", "security")
SEVERITIES = ("info", "warning", "critical")
OPS = (">", ">=", "<", "<=")


class Metric(NamedTuple):
    per: str     # the label its values are per ("mount", "interface"), None: one value for the host
    words: str   # its name in a notification (the Alerts page has the same in static/js/pages/alerts/words.js)
    unit: str    # percent, rate (bytes per second) or number


METRICS = {
    "cpu_percent": Metric(None, "CPU usage", "percent"),
    "memory_percent": Metric(None, "Memory used", "percent"),
    "swap_percent": Metric(None, "Swap used", "percent"),
    "disk_percent": Metric("mount", "Disk space used", "percent"),
    "load1": Metric(None, "Load average (1 min)", "number"),
    "load_per_core": Metric(None, "Load per CPU core", "number"),
    "net_rx_bytes_per_s": Metric("interface", "Network received", "rate"),
    "net_tx_bytes_per_s": Metric("interface", "Network sent", "rate"),
    "disk_read_bytes_per_s": Metric(None, "Disk reads", "rate"),
    "disk_write_bytes_per_s": Metric(None, "Disk writes", "rate"),
}
OP_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
TASK_STATUSES = ("failed", "timed_out", "interrupted")
PLUGIN_EVENTS = ("crash_loop", "disabled", "unhealthy", "notify")
SECURITY_EVENTS = ("lockout", "admin_created", "token_created")
FIELDS = ("name", "kind", "condition", "severity", "channels", "repeat_minutes", "notify_resolved", "enabled")
NAME_LIMIT = 100
MAX_FOR_SECONDS = 86_400
MAX_REPEAT_MINUTES = 10_080  # a week
MAX_LIST = 100               # scripts, actions, plugins a rule may name
UNHEALTHY_FOR = 60           # default for_seconds of a `plugin`/`unhealthy` rule


def string_list(value, item_limit=255):
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise Invalid(f"A list of at most {MAX_LIST} names")
    if not all(isinstance(v, str) and 0 < len(v) <= item_limit for v in value):
        raise Invalid("Every entry must be a non-empty string")
    return sorted(set(value))


def subset(options):
    def check(value):
        if not isinstance(value, list) or not value:
            raise Invalid(f"A non-empty list of: {', '.join(options)}")
        unknown = [str(v) for v in value if v not in options]
        if unknown:
            raise Invalid(f"Unknown: {', '.join(unknown[:5])} (choose from {', '.join(options)})")
        return [o for o in options if o in value]
    return check


def number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid("A number")
    return value


def seconds(value):
    return whole_number(value, 0, MAX_FOR_SECONDS)


def metric_labels(metric):
    def check(value):
        if not isinstance(value, dict):
            raise Invalid('An object such as {"mount": "/"}')
        allowed = METRICS[metric].per if metric in METRICS else None
        unknown = [k for k in value if k != allowed]
        if unknown:
            where = f"only {allowed!r}" if allowed else "none (it is one value for the host)"
            raise Invalid(f"{metric} has no label {unknown[0]!r}: its labels are {where}")
        if not all(isinstance(v, str) and v for v in value.values()):
            raise Invalid("Label values are non-empty strings")
        return dict(value)
    return check


def condition_checks(kind, data):
    """(defaults, {field: check}) of a `kind`'s condition."""
    if kind == "metric":
        return ({"for_seconds": 0, "labels": {}},
                {"metric": choice(tuple(METRICS)), "op": choice(OPS), "threshold": number, "for_seconds": seconds,
                 "labels": metric_labels(data.get("metric"))})
    if kind == "task_failed":
        return ({"statuses": list(TASK_STATUSES), "scripts": [], "quick_action_ids": [], "scheduled_only": False},
                {"statuses": subset(TASK_STATUSES), "scripts": string_list, "quick_action_ids": string_list,
                 "scheduled_only": boolean})
    if kind == "plugin":
        event = data.get("event")
        checks = {"event": choice(PLUGIN_EVENTS), "plugins": lambda v: string_list(v, 64)}
        if event != "notify":  # a plugin's notify is one message: nothing to wait for
            checks["for_seconds"] = seconds
        return {"plugins": [], "for_seconds": UNHEALTHY_FOR if event == "unhealthy" else 0}, checks
    return {"events": list(SECURITY_EVENTS)}, {"events": subset(SECURITY_EVENTS)}


REQUIRED = {"metric": ("metric", "op", "threshold"), "plugin": ("event",)}


def check_condition(kind, data, errors):
    """The condition with defaults filled in; problems go to `errors` as `condition.<field>`."""
    if not isinstance(data, dict):
        errors.add("condition", "An object with the fields of the rule's kind")
        return None
    defaults, checks = condition_checks(kind, data)
    for field in sorted(set(data) - set(checks)):
        errors.add(f"condition.{field[:64]}", f"Not a field of a {kind} rule (fields: {', '.join(checks)})")
    for field in REQUIRED.get(kind, ()):
        if field not in data:
            errors.add(f"condition.{field}", "Required")
    checked = dict(defaults)
    for field, check in checks.items():
        if field in data:
            checked[field] = errors.check(f"condition.{field}", check, data[field])
    if kind == "plugin" and checked.get("event") == "notify":
        checked.pop("for_seconds", None)
    return checked


def public(row):
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "condition": json.loads(row["condition"]),
            "severity": row["severity"], "channels": json.loads(row["channels"]),
            "repeat_minutes": row["repeat_minutes"], "notify_resolved": bool(row["notify_resolved"]),
            "enabled": bool(row["enabled"]), "created_by": row["created_by"], "created_at": row["created_at"],
            "updated_at": row["updated_at"]}


class AlertRules:
    """The `alert_rules` table. `channels` answers `missing(ids)` (the
    channel store); `listeners` are told fn(rule_id, rule or None, changes)
    after every create, update and delete."""

    def __init__(self, store, channels=None, clock=time.time):
        self.store = store
        self.channels = channels
        self.clock = clock
        self.listeners = []

    def _changed(self, rule_id, rule, changes):
        for listener in self.listeners:
            listener(rule_id, rule, changes)

    def list(self):
        return [public(r) for r in self.store.all("SELECT * FROM alert_rules ORDER BY name")]

    def get(self, rule_id):
        row = self.store.one("SELECT * FROM alert_rules WHERE id = ?", (rule_id,))
        if row is None:
            raise NotFound("No alert rule with that id")
        return public(row)

    def check(self, data, current=None):
        """The checked columns to write; Invalid naming every bad field."""
        create_or_update(data, FIELDS, ("name", "kind", "condition"), creating=current is None)
        errors, checked = FieldErrors(), {}
        checks = {"name": lambda v: label(v, NAME_LIMIT), "kind": choice(KINDS), "severity": choice(SEVERITIES),
                  "channels": self.check_channels, "notify_resolved": boolean, "enabled": boolean,
                  "repeat_minutes": lambda v: whole_number(v, 0, MAX_REPEAT_MINUTES)}
        for field, check in checks.items():
            if field in data:
                checked[field] = errors.check(field, check, data[field])
        kind = checked.get("kind") or (current["kind"] if current else None)
        if "condition" in data:
            if kind in KINDS:
                checked["condition"] = check_condition(kind, data["condition"], errors)
        elif current is not None and "kind" in data and data["kind"] != current["kind"]:
            errors.add("condition", f"Required when the kind changes (the {kind} fields)")
        name = checked.get("name")
        if name and self.store.one("SELECT 1 FROM alert_rules WHERE name = ? AND id != ?",
                                   (name, current["id"] if current else -1)):
            errors.add("name", "Another rule has this name")
        errors.raise_any("Alert rule not saved")
        for field in ("condition", "channels"):
            if field in checked:
                checked[field] = json.dumps(checked[field])
        return checked

    def check_channels(self, value):
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise Invalid("A list of channel ids (numbers)")
        ids = sorted(set(value))
        missing = (self.channels.missing(ids) if self.channels is not None else ids) if ids else []
        if missing:
            raise Invalid(f"No channel with id {', '.join(map(str, missing))}; create it first or remove it here")
        return ids

    def create(self, data, actor):
        fields = self.check(data)
        now = self.clock()
        fields.setdefault("severity", "warning")
        fields.update(created_by=actor, created_at=now, updated_at=now)
        cursor = self.store.execute(f"INSERT INTO alert_rules({', '.join(fields)}) "
                                    f"VALUES({', '.join('?' * len(fields))})", tuple(fields.values()))
        rule = self.get(cursor.lastrowid)
        self._changed(rule["id"], rule, set(FIELDS))
        return rule

    def update(self, rule_id, data):
        current = self.store.one("SELECT * FROM alert_rules WHERE id = ?", (rule_id,))
        if current is None:
            raise NotFound("No alert rule with that id")
        fields = self.check(data, current)
        sets = "".join(f"{k} = ?, " for k in fields)
        self.store.execute(f"UPDATE alert_rules SET {sets}updated_at = ? WHERE id = ?",
                           (*fields.values(), self.clock(), rule_id))
        rule = self.get(rule_id)
        self._changed(rule_id, rule, set(fields))
        return rule

    def delete(self, rule_id):
        rule = self.get(rule_id)
        self.store.execute("DELETE FROM alert_rules WHERE id = ?", (rule_id,))
        self._changed(rule_id, None, set(FIELDS))
        return rule


def metric_value_text(metric, value):
    """A metric's value as people read it: "93.1%", "1.2 MiB/s", "0.42"."""
    unit = METRICS[metric].unit if metric in METRICS else "number"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "rate":
        size, step = max(0.0, float(value)), 0
        while step < len(BYTE_UNITS) - 1 and round(size, 0 if step == 0 or size >= 100 else 1) >= 1024:
            size, step = size / 1024, step + 1
        return f"{size:.{0 if step == 0 or size >= 100 else 1}f} {BYTE_UNITS[step]}/s"
    return f"{value:.2f}"


def metric_summary(condition, labels, value):
    """An observation in words: "Disk space used on / is 93.1% (alert at or above 90.0%)"."""
    metric = condition["metric"]
    where = "".join(f" on {v}" for v in labels.values())
    return (f"{METRICS[metric].words}{where} is {metric_value_text(metric, value)} "
            f"(alert {OP_WORDS[condition['op']]} {metric_value_text(metric, condition['threshold'])})")
