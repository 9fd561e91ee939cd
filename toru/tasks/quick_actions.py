"""Quick actions: scripts an admin makes runnable, with one click, by every
user. `/api/quick-actions` (list, CRUD, reorder, execute).
"""

import logging
import time
import unicodedata
import uuid

import bottle

from toru.accounts.auth import current_user
from toru.errors import Invalid, NotFound
from toru.web.http import json_body

audit = logging.getLogger("toru.audit")

FIELDS = ("name", "script", "icon", "description", "order", "timeout")
# The original Toru's names for the same fields, accepted and returned too (DESIGN §6a).
ALIASES = {"script_path": "script", "display_order": "order"}
LIMITS = {"name": 100, "icon": 32, "description": 500}


def public(row):
    return {"id": row["id"], "name": row["name"], "script": row["script"], "icon": row["icon"],
            "description": row["description"], "order": row["position"], "timeout": row["timeout"],
            "script_path": row["script"], "display_order": row["position"]}


def check_text(field, value, required):
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(f"{field} must be {'a non-empty' if required else 'a'} string")
    value = value.strip()
    if len(value) > LIMITS[field]:
        raise Invalid(f"{field} must be at most {LIMITS[field]} characters")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise Invalid(f"{field} must not contain control characters")
    return value or None


def check_int(field, value, low, high, nullable):
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{field} must be an integer from {low} to {high}{' or null' if nullable else ''}")
    return value


class QuickActions:
    def __init__(self, store, scripts):
        self.store = store
        self.scripts = scripts

    def list(self):
        return [public(r) for r in self.store.all("SELECT * FROM quick_actions ORDER BY position, name")]

    def get(self, action_id):
        if not isinstance(action_id, str):
            raise Invalid("quick_action_id must be a string")
        row = self.store.one("SELECT * FROM quick_actions WHERE id = ?", (action_id,))
        if row is None:
            raise NotFound("No quick action with that id")
        return public(row)

    def check(self, data, partial):
        for alias, field in ALIASES.items():
            if alias in data:
                if field in data and data[field] != data[alias]:
                    raise Invalid(f"{alias} and {field} are the same field; send one")
                data = dict(data)
                data[field] = data.pop(alias)
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise Invalid(f"Unknown field(s): {', '.join(sorted(unknown))}")
        checked = {}
        for field in FIELDS:
            if field not in data:
                if not partial and field in ("name", "script"):
                    raise Invalid(f"{field} is required")
                continue
            value = data[field]
            if field in ("name", "icon", "description"):
                checked[field] = check_text(field, value, required=field == "name")
            elif field == "script":
                try:
                    self.scripts.resolve(value)  # a plain name of an existing script
                except NotFound as e:
                    raise Invalid(e.message) from None  # a bad field, not a missing resource
                checked[field] = value
            elif field == "order":
                checked["position"] = check_int("order", value, 0, 1_000_000, nullable=False)
            else:
                checked[field] = check_int("timeout", value, 1, 86_400, nullable=True)
        if partial and not checked:
            raise Invalid(f"Nothing to change: send any of {', '.join(FIELDS)}")
        return checked

    def create(self, data):
        fields = self.check(data, partial=False)
        if "position" not in fields:
            fields["position"] = self.store.one(
                "SELECT coalesce(max(position) + 1, 0) AS p FROM quick_actions")["p"]
        now = time.time()
        fields.update(id=str(uuid.uuid4()), created_at=now, updated_at=now)
        names = ", ".join(fields)
        self.store.execute(f"INSERT INTO quick_actions({names}) VALUES({', '.join('?' * len(fields))})",
                           tuple(fields.values()))
        return self.get(fields["id"])

    def update(self, action_id, data):
        self.get(action_id)
        fields = self.check(data, partial=True)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.store.execute(f"UPDATE quick_actions SET {sets}, updated_at = ? WHERE id = ?",
                           (*fields.values(), time.time(), action_id))
        return self.get(action_id)

    def delete(self, action_id):
        action = self.get(action_id)
        self.store.execute("DELETE FROM quick_actions WHERE id = ?", (action_id,))
        return action

    def reorder(self, ids):
        current = {a["id"] for a in self.list()}
        if not isinstance(ids, list) or len(ids) != len(current) or set(ids) != current:
            raise Invalid("ids must list every quick action id exactly once")
        with self.store.transaction():
            for position, action_id in enumerate(ids):
                self.store.execute("UPDATE quick_actions SET position = ?, updated_at = ? WHERE id = ?",
                                   (position, time.time(), action_id))
        return self.list()


def register(app, services):
    actions, runner = services.quick_actions, services.tasks

    def actor():
        return current_user()["username"]

    @app.get("/api/quick-actions", role="user")
    def list_actions():
        return {"quick_actions": actions.list()}

    @app.post("/api/quick-actions", role="admin")
    def create_action():
        action = actions.create(json_body())
        audit.info("quick action created", extra={"actor": actor(), "quick_action": action["id"],
                                                  "script": action["script"]})
        bottle.response.status = 201
        return {"quick_action": action}

    @app.post("/api/quick-actions/reorder", role="admin")
    def reorder():
        return {"quick_actions": actions.reorder(json_body().get("ids"))}

    @app.put("/api/quick-actions/<action_id>", role="admin")
    def update_action(action_id):
        action = actions.update(action_id, json_body())
        audit.info("quick action updated", extra={"actor": actor(), "quick_action": action_id})
        return {"quick_action": action}

    @app.delete("/api/quick-actions/<action_id>", role="admin")
    def delete_action(action_id):
        action = actions.delete(action_id)
        audit.info("quick action deleted", extra={"actor": actor(), "quick_action": action_id,
                                                  "action_name": action["name"]})
        return {"success": True}

    @app.post("/api/quick-actions/<action_id>/execute", role="user")
    def execute(action_id):
        action = actions.get(action_id)
        task = runner.start(action["script"], current_user(), "quick_action", action["id"], action["timeout"])
        bottle.response.status = 201
        return {"task_id": task.id}
