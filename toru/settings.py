"""Operator settings kept in the `settings` table and changed from the UI:
`GET/PUT /api/settings`. Each setting is declared once here with its default
and its check; an update is checked whole before anything is saved.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from toru.accounts.auth import current_user
from toru.errors import FieldErrors, Invalid
from toru.web.http import json_body

audit = logging.getLogger("toru.audit")


@dataclass(frozen=True)
class Setting:
    key: str
    default: object
    low: int = None
    high: int = None
    nullable: bool = False


def bounded_int(setting, value):
    if value is None and setting.nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not setting.low <= value <= setting.high:
        none = " or null (none)" if setting.nullable else ""
        raise Invalid(f"Must be a whole number from {setting.low:,} to {setting.high:,}{none}")
    return value


SETTINGS = {s.key: s for s in (
    Setting("scripts_dir", None),  # None: <data>/scripts
    Setting("output_cap_bytes", 1024 * 1024, 4096, 64 * 1024 * 1024),
    Setting("retention_days", 90, 1, 3650),
    Setting("retention_max_tasks", 10_000, 10, 1_000_000),
    Setting("task_timeout_seconds", None, 1, 86_400, nullable=True),
    Setting("max_concurrent_tasks", 8, 1, 64),
    # Admins without two-factor sign-in may only set it up (docs/security.md#two-factor-sign-in).
    Setting("require_2fa_for_admins", False),
    # Audit rows older than this are pruned daily, leaving a checkpoint (docs/security.md#audit-trail).
    Setting("audit_retention_days", 365, 1, 3650),
    # Alert history and delivery attempts older than this are pruned daily (docs/alerts.md).
    Setting("alert_history_days", 90, 1, 3650),
)}
PREFIX = "setting."  # keys in the settings table, apart from internal ones


class Settings:
    def __init__(self, store, data_dir):
        self.store = store
        self.data_dir = Path(data_dir)
        self.listeners = []  # fn(changed keys) after each saved update

    def get(self, key):
        raw = self.store.get_setting(PREFIX + key)
        value = SETTINGS[key].default if raw is None else json.loads(raw)
        if key == "scripts_dir" and value is None:
            return str(self.data_dir / "scripts")
        return value

    def all(self):
        return {key: self.get(key) for key in SETTINGS}

    def update(self, changes):
        if not changes:
            raise Invalid(f"Nothing to change: send one of {', '.join(SETTINGS)}")
        errors = FieldErrors()
        checked = {}
        for key, value in changes.items():
            if key == "instance_id":
                errors.add(key, "Cannot be changed: plugin licences are bound to it")
            elif key not in SETTINGS:
                errors.add(key[:64], "Unknown setting")
            else:
                checked[key] = errors.check(key, self.check, key, value)
        errors.raise_any("Settings not saved")
        with self.store.transaction():
            for key, value in checked.items():
                self.store.set_setting(PREFIX + key, json.dumps(value))
        for listener in self.listeners:
            listener(set(checked))
        return self.all()

    def check(self, key, value):
        if key == "scripts_dir":
            return self.check_scripts_dir(value)
        if isinstance(SETTINGS[key].default, bool):
            if not isinstance(value, bool):
                raise Invalid("Must be true or false")
            return value
        return bounded_int(SETTINGS[key], value)

    def check_scripts_dir(self, value):
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            raise Invalid("Enter the path of a directory")
        path = (self.data_dir / Path(value.strip()).expanduser()).resolve()
        if not path.is_dir():
            raise Invalid(f"{path} does not exist or is not a directory; create it first")
        return str(path)


def register(app, services):
    settings = services.settings

    @app.get("/api/settings", role="admin")
    def get_settings():
        return {"settings": dict(settings.all(), instance_id=services.instance_id)}

    def change(changes):
        result = settings.update(changes)
        audit.info("settings changed", extra={"actor": current_user()["username"], "changes": changes})
        return {"settings": dict(result, instance_id=services.instance_id)}

    @app.put("/api/settings", role="admin", audit="settings.update")
    def put_settings():
        return change(json_body())

    @app.put("/api/settings/<key>", role="admin", audit="settings.update")
    def put_setting(key):
        """The original Toru's shape: one key in the path, `{"value": …}` in the body."""
        data = json_body()
        if set(data) != {"value"}:
            raise Invalid('Send {"value": …} to change one setting')
        return change({key: data["value"]})
