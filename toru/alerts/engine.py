"""The alert engine (docs/alerts.md#states): one state machine per rule and
label set, kept in SQLite so a restart neither re-announces nor forgets.

    INACTIVE ─condition holds─▶ PENDING ─held for_seconds─▶ FIRING
    PENDING ─condition false─▶ INACTIVE            (nothing is kept)
    FIRING ─false for for_seconds─▶ RESOLVED       (a history row)
    INACTIVE ─holds, for_seconds 0─▶ FIRING

Only `_transition` changes `state`; it refuses moves not in ALLOWED and does
what a move means — the row written, the notification, the `alerts` push —
after the state changed. Sources (`sources.py`) feed it observations
(`observe`: what holds now for each label set of a rule) and one-shot
events (`event`: a failed task, a lock-out, a plugin's notify), which never
enter the machine: they are history rows with status `event`.

Notifications go to `dispatcher.enqueue(notification, channel_ids,
alert_id)` (toru/alerts/delivery.py), which never blocks. A notification is
held back while the alert is silenced; one that was held back goes out when
the silence ends and the alert still fires. `repeat_minutes` re-announces
while firing; a resolved notice follows only an announced alert.
"""

import enum
import json
import logging
import time
from dataclasses import dataclass, field

from toru.errors import Invalid, NotFound
from toru.logs import rfc3339
from toru.accounts.auth import is_admin

log = logging.getLogger("toru.alerts")

MAX_SILENCE_MINUTES = 10_080  # a week
# What a client (non-admin) may see: host metrics and plugins, as on the
# dashboard, and the failures of their own tasks. Security alerts: admins only.
CLIENT_KINDS = ("metric", "plugin")
VISIBLE_TO_CLIENT_SQL = "(kind IN ('metric', 'plugin') OR (kind = 'task_failed' AND user_id = ?))"


class AlertState(str, enum.Enum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


S = AlertState
ALLOWED = {
    S.INACTIVE: {S.PENDING, S.FIRING},
    S.PENDING: {S.FIRING, S.INACTIVE},
    S.FIRING: {S.RESOLVED},
    S.RESOLVED: set(),
}


class IllegalTransition(Exception):
    def __init__(self, alert, new):
        super().__init__(f"alert {alert.rule_id}/{alert.fingerprint}: {alert.state.value} → {new.value} "
                         "is not allowed")


@dataclass
class Observation:
    """What a source sees for one label set of a rule right now."""
    labels: dict
    value: float = None
    holds: bool = False
    summary: str = ""


def fingerprint(labels):
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


@dataclass
class Alert:
    """One rule and label set while pending or firing (and the row it is)."""
    rule_id: int
    rule_name: str
    kind: str
    severity: str
    labels: dict
    summary: str
    value: float = None
    user_id: int = None
    metric: str = None          # a metric rule's metric, else None
    state: AlertState = S.INACTIVE
    id: int = None
    started_at: float = None
    fired_at: float = None
    clearing_since: float = None
    resolved_at: float = None
    resolved_reason: str = None
    last_notified_at: float = None
    notifications: int = 0
    silenced_until: float = None
    extra: dict = field(default_factory=dict)

    @property
    def fingerprint(self):
        return fingerprint(self.labels)

    @classmethod
    def from_row(cls, row):
        return cls(rule_id=row["rule_id"], rule_name=row["rule_name"], kind=row["kind"], severity=row["severity"],
                   labels=json.loads(row["labels"]), summary=row["summary"], value=row["value"],
                   user_id=row["user_id"], metric=row["metric"], state=S(row["status"]),
                   id=row["id"], started_at=row["started_at"], fired_at=row["fired_at"],
                   clearing_since=row["clearing_since"], resolved_at=row["resolved_at"],
                   resolved_reason=row["resolved_reason"], last_notified_at=row["last_notified_at"],
                   notifications=row["notifications"], silenced_until=row["silenced_until"])

    def silenced(self, now):
        return self.silenced_until is not None and self.silenced_until > now


def public(row, now):
    """An alert as the API and the `alerts` topic show it (a row or an Alert)."""
    get = row.__getitem__ if not isinstance(row, Alert) else lambda k: getattr(row, k)
    status = row.state.value if isinstance(row, Alert) else row["status"]
    labels = get("labels")
    silenced_until = get("silenced_until")
    return {"id": get("id"), "rule_id": get("rule_id"), "rule_name": get("rule_name"), "kind": get("kind"),
            "severity": get("severity"), "status": status,
            "labels": json.loads(labels) if isinstance(labels, str) else labels,
            "summary": get("summary"), "metric": get("metric"), "value": get("value"),
            "started_at": get("started_at"),
            "fired_at": get("fired_at"), "resolved_at": get("resolved_at"),
            "resolved_reason": get("resolved_reason"), "last_notified_at": get("last_notified_at"),
            "notifications": get("notifications"),
            "silenced_until": silenced_until if silenced_until and silenced_until > now else None}


def may_see(user, alert):
    """Clients see host metric and plugin alerts and their own tasks' failures."""
    if user is None:
        return False
    if is_admin(user):
        return True
    return alert["kind"] in CLIENT_KINDS or (alert["kind"] == "task_failed" and alert.get("user_id") is not None
                                             and alert.get("user_id") == user.get("id"))


class AlertEngine:
    def __init__(self, store, rules, settings, topic, *, host, instance_id, public_url=None, dispatcher=None,
                 clock=time.time):
        self.store = store
        self.rules_store = rules
        self.settings = settings
        self.topic = topic              # the `alerts` live topic (filtered per user)
        self.host = host
        self.instance_id = instance_id
        self.public_url = public_url
        self.dispatcher = dispatcher    # toru.alerts.delivery.Dispatcher (enqueue never blocks)
        self.clock = clock
        self.rules = {}                 # id → enabled rule (public dict)
        self.active = {}                # (rule_id, fingerprint) → Alert, pending or firing
        self.reload_rules()
        rules.listeners.append(self.rule_changed)
        for row in store.all("SELECT * FROM alerts WHERE status IN ('pending', 'firing')"):
            alert = Alert.from_row(row)
            self.active[(alert.rule_id, alert.fingerprint)] = alert
        for alert in [a for a in self.active.values() if a.rule_id not in self.rules]:
            self._close(alert, "rule deleted or disabled")  # changed while Toru was down

    # --- rules ------------------------------------------------------------------------------
    def reload_rules(self):
        self.rules = {r["id"]: r for r in self.rules_store.list() if r["enabled"]}

    def rules_of(self, kind):
        return [r for r in self.rules.values() if r["kind"] == kind]

    def rule_changed(self, rule_id, rule, changes):
        """A rule was created, changed or deleted (rule None). Its alerts end
        quietly when it goes or is disabled, and when what it watches changed."""
        self.reload_rules()
        reason = ("rule deleted" if rule is None else "rule disabled" if not rule["enabled"]
                  else "rule changed" if {"kind", "condition"} & changes else None)
        for alert in [a for a in self.active.values() if a.rule_id == rule_id]:
            if reason:
                self._close(alert, reason)
            elif rule is not None:
                alert.rule_name, alert.severity = rule["name"], rule["severity"]
                self._save(alert)
        self._publish({"event": "rule", "rule_id": rule_id}, admins_only=True)

    # --- inputs ---------------------------------------------------------------------------------
    def observe(self, rule, observations):
        """`observations` {fingerprint: Observation} of `rule` now; an active
        alert whose label set is not among them counts as no longer holding."""
        now = self.clock()
        for key, obs in observations.items():
            self._step(rule, obs, now)
        for alert in [a for a in self.active.values() if a.rule_id == rule["id"]]:
            if alert.fingerprint not in observations:
                self._step(rule, Observation(alert.labels, alert.value, False, f"{alert.summary} (no longer reported)"),
                           now)

    def _step(self, rule, obs, now):
        for_s = rule["condition"].get("for_seconds", 0)
        alert = self.active.get((rule["id"], fingerprint(obs.labels)))
        if alert is None:
            if obs.holds:
                alert = Alert(rule["id"], rule["name"], rule["kind"], rule["severity"], obs.labels, obs.summary,
                              obs.value, metric=rule["condition"].get("metric") if rule["kind"] == "metric" else None,
                              started_at=now, silenced_until=self._inherited_silence(rule, obs, now))
                self._transition(alert, S.PENDING if for_s > 0 else S.FIRING, "condition holds")
            return
        alert.value = obs.value
        if alert.state is S.PENDING:
            alert.summary = obs.summary if obs.holds else alert.summary
            if not obs.holds:
                self._transition(alert, S.INACTIVE, "condition no longer holds")
            elif now - alert.started_at >= for_s:
                self._transition(alert, S.FIRING, f"held for {for_s} s")
        elif obs.holds:
            alert.summary = obs.summary  # the latest value in words, as `value` (saved with the next change)
            if alert.clearing_since is not None:
                alert.clearing_since = None
                self._save(alert)
        else:
            if alert.clearing_since is None:
                alert.clearing_since = now
                self._save(alert)
            if now - alert.clearing_since >= for_s:
                alert.summary = obs.summary
                self._transition(alert, S.RESOLVED, f"false for {for_s} s")

    def event(self, rule, labels, summary, value=None, user_id=None, severity=None):
        """A one-shot alert (it has nothing to resolve): a history row, one
        notification, one push."""
        now = self.clock()
        alert = Alert(rule["id"], rule["name"], rule["kind"], severity or rule["severity"], labels, summary, value,
                      user_id=user_id, started_at=now, fired_at=now)
        alert.id = self._insert(alert, "event")
        log.info("alert event", extra={"rule": rule["id"], "labels": labels, "summary": summary})
        self._notify(alert, "firing", now)
        self._publish({"event": "event", "alert": dict(public(alert, now), status="event")}, alert=alert)
        return alert

    def tick(self):
        """Time-driven work: repeats, and announcements a silence held back."""
        now = self.clock()
        for alert in [a for a in self.active.values() if a.state is S.FIRING]:
            rule = self.rules.get(alert.rule_id)
            if rule is None or alert.silenced(now):
                continue
            if alert.notifications == 0:
                self._notify(alert, "firing", now)
                self._publish({"event": "firing", "alert": public(alert, now)}, alert=alert)
            elif rule["repeat_minutes"] and now - (alert.last_notified_at or 0) >= rule["repeat_minutes"] * 60:
                self._notify(alert, "firing", now)
                self._publish({"event": "repeat", "alert": public(alert, now)}, alert=alert)

    # --- the machine ----------------------------------------------------------------------------
    def _transition(self, alert, new, reason, notify=True):
        if new not in ALLOWED[alert.state]:
            raise IllegalTransition(alert, new)
        old, alert.state = alert.state, new
        now = self.clock()
        key = (alert.rule_id, alert.fingerprint)
        log.info("alert transition", extra={"rule": alert.rule_id, "labels": alert.labels, "old": old.value,
                                            "new": new.value, "reason": reason, "value": alert.value})
        if new is S.INACTIVE:
            self.store.execute("DELETE FROM alerts WHERE id = ?", (alert.id,))
            self.active.pop(key, None)
        elif old is S.INACTIVE:
            alert.fired_at = now if new is S.FIRING else None
            alert.id = self._insert(alert, new.value)
            self.active[key] = alert
        elif new is S.FIRING:
            alert.fired_at = now
            self._save(alert)
        else:  # RESOLVED
            alert.resolved_at, alert.resolved_reason = now, None if notify else reason
            self.active.pop(key, None)
            self._save(alert)
        rule = self.rules.get(alert.rule_id)
        if notify and rule is not None and not alert.silenced(now):
            if new is S.FIRING:
                self._notify(alert, "firing", now)
            elif new is S.RESOLVED and alert.notifications and rule["notify_resolved"]:
                self._notify(alert, "resolved", now)
        self._publish({"event": new.value, "alert": public(alert, now)}, alert=alert)

    def _close(self, alert, reason):
        """End an alert without a notification (its rule went or changed)."""
        self._transition(alert, S.INACTIVE if alert.state is S.PENDING else S.RESOLVED, reason, notify=False)

    def _inherited_silence(self, rule, obs, now):
        """A silence outlives a flap: the label set's previous alert passes on what is left of it."""
        row = self.store.one("SELECT silenced_until FROM alerts WHERE rule_id = ? AND fingerprint = ? "
                             "ORDER BY id DESC LIMIT 1", (rule["id"], fingerprint(obs.labels)))
        return row["silenced_until"] if row and (row["silenced_until"] or 0) > now else None

    # --- rows -------------------------------------------------------------------------------------
    COLUMNS = ("rule_id", "rule_name", "kind", "severity", "fingerprint", "labels", "summary", "metric", "value",
               "user_id", "started_at", "fired_at", "clearing_since", "resolved_at", "resolved_reason",
               "last_notified_at", "notifications", "silenced_until")

    def _values(self, alert):
        values = {c: getattr(alert, c) for c in self.COLUMNS}
        values["labels"] = json.dumps(alert.labels, sort_keys=True)
        return values

    def _insert(self, alert, status):
        values = dict(self._values(alert), status=status, updated_at=self.clock())
        return self.store.execute(f"INSERT INTO alerts({', '.join(values)}) VALUES({', '.join('?' * len(values))})",
                                  tuple(values.values())).lastrowid

    def _save(self, alert):
        values = dict(self._values(alert), status=alert.state.value, updated_at=self.clock())
        self.store.execute(f"UPDATE alerts SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                           (*values.values(), alert.id))

    # --- out ----------------------------------------------------------------------------------------
    def notification(self, alert, status):
        """The notification of the webhook contract (docs/alerts.md#notifications)."""
        return {"alert": alert.rule_name, "status": status, "severity": alert.severity, "summary": alert.summary,
                "value": alert.value, "labels": {str(k): str(v) for k, v in alert.labels.items()},
                "started_at": rfc3339(alert.fired_at or alert.started_at),
                "resolved_at": rfc3339(alert.resolved_at) if status == "resolved" else None,
                "host": self.host, "instance_id": self.instance_id,
                "url": f"{self.public_url}/alerts" if self.public_url else None}

    def _notify(self, alert, status, now):
        alert.last_notified_at = now
        alert.notifications += 1
        self.store.execute("UPDATE alerts SET last_notified_at = ?, notifications = ? WHERE id = ?",
                           (now, alert.notifications, alert.id))
        rule = self.rules.get(alert.rule_id)
        channels = rule["channels"] if rule else []
        if channels and self.dispatcher is not None:
            self.dispatcher.enqueue(self.notification(alert, status), channels, alert_id=alert.id)
        elif channels:
            log.warning("alert not delivered: no dispatcher", extra={"rule": alert.rule_id})

    def _publish(self, data, alert=None, admins_only=False):
        """Push to the `alerts` topic, to the users who may see `alert`."""
        if admins_only:
            self.topic.publish(data, to=lambda user: user is not None and is_admin(user))
        else:
            facts = {"kind": alert.kind, "user_id": alert.user_id}
            self.topic.publish(data, to=lambda user: may_see(user, facts))

    # --- what the API asks --------------------------------------------------------------------------
    def silence(self, alert_id, minutes):
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_SILENCE_MINUTES:
            raise Invalid(f"minutes: a whole number from 0 (lift the silence) to {MAX_SILENCE_MINUTES:,} (a week)",
                          fields={"minutes": f"A whole number from 0 to {MAX_SILENCE_MINUTES:,}"})
        alert = next((a for a in self.active.values() if a.id == alert_id), None)
        if alert is None:
            if self.store.one("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)):
                raise Invalid("This alert is no longer pending or firing: there is nothing to silence")
            raise NotFound("No alert with that id")
        now = self.clock()
        alert.silenced_until = now + minutes * 60 if minutes else None
        self._save(alert)
        log.info("alert silenced", extra={"alert": alert_id, "minutes": minutes})
        self._publish({"event": "silenced", "alert": public(alert, now)}, alert=alert)
        return public(alert, now)

    def current(self, user):
        """{"firing": [...], "pending": [...]} that `user` may see, newest first."""
        now = self.clock()
        seen = [a for a in self.active.values() if may_see(user, {"kind": a.kind, "user_id": a.user_id})]
        seen.sort(key=lambda a: a.fired_at or a.started_at, reverse=True)
        return {state.value: [public(a, now) for a in seen if a.state is state] for state in (S.FIRING, S.PENDING)}

    def history(self, user, page, page_size, rule_id=None):
        where, params = ["status IN ('resolved', 'event')"], []
        if not is_admin(user):
            where.append(VISIBLE_TO_CLIENT_SQL)
            params.append(user.get("id"))
        if rule_id is not None:
            where.append("rule_id = ?")
            params.append(rule_id)
        clause = " AND ".join(where)
        total = self.store.one(f"SELECT count(*) AS n FROM alerts WHERE {clause}", params)["n"]
        rows = self.store.all(f"SELECT * FROM alerts WHERE {clause} ORDER BY coalesce(resolved_at, started_at) DESC, "
                              "id DESC LIMIT ? OFFSET ?", params + [page_size, page * page_size])
        now = self.clock()
        return {"history": [public(r, now) for r in rows], "page": page, "page_size": page_size, "total": total}

    def prune(self):
        """History older than `alert_history_days` goes (daily, with the other clean-ups)."""
        cutoff = self.clock() - self.settings.get("alert_history_days") * 86400
        return self.store.execute("DELETE FROM alerts WHERE status IN ('resolved', 'event') "
                                  "AND coalesce(resolved_at, started_at) < ?", (cutoff,)).rowcount
