"""Quick actions: scripts an admin makes runnable with one click, with typed
arguments (`toru/tasks/arguments.py`), an optional confirmation and a grant
saying who may run them. `/api/quick-actions` (list, CRUD, reorder, execute,
choices).

The grant is checked here for every path that names an action: `get(id,
user)` answers 404 — not 403 — to a client who may not run it, so an id
reveals nothing; `visible_sql` is the same rule for queries over runs (the
history). Admins always may. `allowed_users` is stored as `restricted` plus
rows of `quick_action_grants`, whose foreign keys drop a deleted user.
"""

import json
import logging
import time
import unicodedata
import uuid

import bottle

from toru.accounts.auth import current_user, is_admin
from toru.checks import known_fields
from toru.errors import Conflict, Invalid, NotFound
from toru.web.http import json_body

audit = logging.getLogger("toru.audit")

FIELDS = ("name", "script", "icon", "description", "order", "timeout", "arguments", "confirm", "allowed_users")
# The original Toru's names for the same fields, accepted and returned too (DESIGN §6a).
ALIASES = {"script_path": "script", "display_order": "order"}
LIMITS = {"name": 100, "icon": 32, "description": 500, "confirm": 500}
MAX_GRANTS = 1000


def visible_sql(column):
    """SQL that is true when the quick action named by `column` (NULL for a
    plain script run) does not shut out the user bound to its one `?`: not
    restricted, or restricted with a grant for them. An action that no
    longer exists shuts out nobody: its runs stay with whoever ran them."""
    return (f"NOT EXISTS (SELECT 1 FROM quick_actions q WHERE q.id = {column} AND q.restricted = 1 "
            "AND NOT EXISTS (SELECT 1 FROM quick_action_grants g WHERE g.quick_action_id = q.id "
            "AND g.user_id = ?))")


def public(row, grants=None):
    """The action as the API shows it; `grants` (the user ids, for admins
    only) adds `allowed_users`: None = everyone, [] = admins only."""
    action = {"id": row["id"], "name": row["name"], "script": row["script"], "icon": row["icon"],
              "description": row["description"], "order": row["position"], "timeout": row["timeout"],
              "script_path": row["script"], "display_order": row["position"],
              "arguments": json.loads(row["arguments"]), "confirm": row["confirm"]}
    if grants is not None:
        action["allowed_users"] = sorted(grants) if row["restricted"] else None
    return action


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
    def __init__(self, store, scripts, arguments):
        self.store = store
        self.scripts = scripts
        self.arguments = arguments  # toru.tasks.arguments.Arguments

    # --- reading, with the grant ------------------------------------------------------
    def grants(self):
        by_action = {}
        for row in self.store.all("SELECT quick_action_id, user_id FROM quick_action_grants"):
            by_action.setdefault(row["quick_action_id"], []).append(row["user_id"])
        return by_action

    def list(self, user=None):
        """Every action (admins, and `user=None` for internal use), or those
        the client `user` may run, without anyone's grants."""
        if user is not None and not is_admin(user):
            rows = self.store.all(f"SELECT * FROM quick_actions WHERE {visible_sql('quick_actions.id')} "
                                  "ORDER BY position, name", (user["id"],))
            return [public(r) for r in rows]
        grants = self.grants()
        return [public(r, grants.get(r["id"], [])) for r in
                self.store.all("SELECT * FROM quick_actions ORDER BY position, name")]

    def get(self, action_id, user=None):
        """The action; NotFound also when the client `user` may not run it."""
        if not isinstance(action_id, str):
            raise Invalid("quick_action_id must be a string")
        row = self.store.one("SELECT * FROM quick_actions WHERE id = ?", (action_id,))
        if row is None or (user is not None and not self.allows(action_id, user)):
            raise NotFound("No quick action with that id")
        if user is not None and not is_admin(user):
            return public(row)
        grants = [r["user_id"] for r in self.store.all(
            "SELECT user_id FROM quick_action_grants WHERE quick_action_id = ?", (action_id,))]
        return public(row, grants)

    def allows(self, action_id, user):
        """May `user` run (and watch runs of) this action? True for admins,
        for plain script runs (None) and for actions that no longer exist."""
        if is_admin(user) or action_id is None:
            return True
        return self.store.one(f"SELECT {visible_sql('?')} AS ok", (action_id, user["id"]))["ok"] == 1

    # --- changing (admins) ---------------------------------------------------------------
    def check(self, data, partial):
        for alias, field in ALIASES.items():
            if alias in data:
                if field in data and data[field] != data[alias]:
                    raise Invalid(f"{alias} and {field} are the same field; send one")
                data = dict(data)
                data[field] = data.pop(alias)
        known_fields(data, FIELDS)
        checked = {}
        for field in FIELDS:
            if field not in data:
                if not partial and field in ("name", "script"):
                    raise Invalid(f"{field} is required")
                continue
            value = data[field]
            if field in ("name", "icon", "description"):
                checked[field] = check_text(field, value, required=field == "name")
            elif field == "confirm":
                try:
                    checked[field] = check_text(field, value, required=False)
                except Invalid as e:
                    raise Invalid(e.message, fields={"confirm": e.message}) from None
            elif field == "script":
                try:
                    self.scripts.resolve(value)  # a plain name of an existing script
                except NotFound as e:
                    raise Invalid(e.message) from None  # a bad field, not a missing resource
                checked[field] = value
            elif field == "order":
                checked["position"] = check_int("order", value, 0, 1_000_000, nullable=False)
            elif field == "timeout":
                checked[field] = check_int("timeout", value, 1, 86_400, nullable=True)
            elif field == "allowed_users":
                checked[field] = self.check_grants(value)
        if "arguments" in data:  # last: it may run the pattern checker
            checked["arguments"] = json.dumps(self.arguments.definitions(data["arguments"]), ensure_ascii=False)
        if partial and not checked:
            raise Invalid(f"Nothing to change: send any of {', '.join(FIELDS)}")
        return checked

    def check_grants(self, value):
        """None (everyone) or a list of existing user ids ([] = admins only)."""
        if value is None:
            return None
        problem = None
        if not isinstance(value, list) or len(value) > MAX_GRANTS or \
                any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            problem = "must be null (every user), a list of user ids, or [] (admins only)"
        elif len(set(value)) != len(value):
            problem = "lists a user twice"
        else:
            known = {r["id"] for r in self.store.all(
                f"SELECT id FROM users WHERE id IN ({', '.join('?' * len(value))})", value)} if value else set()
            missing = [v for v in value if v not in known]
            if missing:
                problem = f"no user with id {', '.join(map(str, missing))} (admins, the environment one " \
                          "included, may always run every action)"
        if problem:
            raise Invalid(f"allowed_users {problem}", fields={"allowed_users": problem})
        return value

    def _save_grants(self, action_id, grants):
        self.store.execute("UPDATE quick_actions SET restricted = ? WHERE id = ?", (int(grants is not None), action_id))
        self.store.execute("DELETE FROM quick_action_grants WHERE quick_action_id = ?", (action_id,))
        for user_id in grants or ():
            self.store.execute("INSERT INTO quick_action_grants(quick_action_id, user_id) VALUES(?, ?)",
                               (action_id, user_id))

    def create(self, data):
        fields = self.check(data, partial=False)
        if "position" not in fields:
            fields["position"] = self.store.one(
                "SELECT coalesce(max(position) + 1, 0) AS p FROM quick_actions")["p"]
        now = time.time()
        fields.update(id=str(uuid.uuid4()), created_at=now, updated_at=now)
        grants = fields.pop("allowed_users", None)
        names = ", ".join(fields)
        with self.store.transaction():
            self.store.execute(f"INSERT INTO quick_actions({names}) VALUES({', '.join('?' * len(fields))})",
                               tuple(fields.values()))
            self._save_grants(fields["id"], grants)
        return self.get(fields["id"])

    def update(self, action_id, data):
        self.get(action_id)
        fields = self.check(data, partial=True)
        regrant = "allowed_users" in fields
        grants = fields.pop("allowed_users", None)
        sets = "".join(f"{k} = ?, " for k in fields)
        with self.store.transaction():
            self.store.execute(f"UPDATE quick_actions SET {sets}updated_at = ? WHERE id = ?",
                               (*fields.values(), time.time(), action_id))
            if regrant:
                self._save_grants(action_id, grants)
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

    # --- running ---------------------------------------------------------------------------
    def prepare(self, action_id, user, values, confirmed):
        """(action, Values) for a run by `user`, after the grant (404), every
        value (400 with `fields`) and the confirmation (409 with `confirm`),
        in that order: a 409 means nothing but the confirmation is missing."""
        action = self.get(action_id, user)
        checked = self.arguments.values(action["arguments"], values)
        if action["confirm"] and confirmed is not True:
            raise Conflict(f"{action['name']} asks for confirmation: send \"confirmed\": true",
                           confirm=action["confirm"])
        return action, checked

    def choices(self, action_id, name, user, refresh):
        action = self.get(action_id, user)
        argument = next((a for a in action["arguments"] if a["name"] == name), None)
        if argument is None or argument["type"] != "choice":
            raise NotFound(f"{action['name']} has no choice argument named {name!r}")
        if argument["choices_from"] is None:
            return argument["choices"]
        return self.arguments.choices.get(argument["choices_from"], refresh=refresh)


def register(app, services):
    actions, runner = services.quick_actions, services.tasks

    def actor():
        return current_user()["username"]

    @app.get("/api/quick-actions", role="user", scope="run")
    def list_actions():
        return {"quick_actions": actions.list(current_user())}

    @app.post("/api/quick-actions", role="admin", audit="quick_action.create")
    def create_action():
        action = actions.create(json_body())
        audit.info("quick action created", extra={"actor": actor(), "quick_action": action["id"],
                                                  "script": action["script"],
                                                  "allowed_users": action["allowed_users"]})
        bottle.response.status = 201
        return {"quick_action": action}

    @app.post("/api/quick-actions/reorder", role="admin", audit="quick_action.reorder")
    def reorder():
        return {"quick_actions": actions.reorder(json_body().get("ids"))}

    @app.get("/api/quick-actions/<action_id>", role="user", scope="run")
    def get_action(action_id):
        return {"quick_action": actions.get(action_id, current_user())}

    @app.put("/api/quick-actions/<action_id>", role="admin", audit="quick_action.update")
    def update_action(action_id):
        data = json_body()
        action = actions.update(action_id, data)
        if "allowed_users" in data:
            runner.drop_unallowed_watchers(action_id)
        audit.info("quick action updated", extra={"actor": actor(), "quick_action": action_id,
                                                  "changes": sorted(data)})
        return {"quick_action": action}

    @app.delete("/api/quick-actions/<action_id>", role="admin", audit="quick_action.delete")
    def delete_action(action_id):
        action = actions.delete(action_id)
        audit.info("quick action deleted", extra={"actor": actor(), "quick_action": action_id,
                                                  "action_name": action["name"]})
        return {"success": True}

    @app.post("/api/quick-actions/<action_id>/execute", role="user", scope="run", audit="task.run")
    def execute(action_id):
        body = json_body(required=False)
        task = runner.run_action(current_user(), action_id, body.get("arguments"), body.get("confirmed"))
        bottle.response.status = 201
        return {"task_id": task.id}

    @app.get("/api/quick-actions/<action_id>/choices/<name>", role="user", scope="run")
    def choices(action_id, name):
        refresh = bottle.request.query.get("refresh") in ("1", "true")
        return {"choices": actions.choices(action_id, name, current_user(), refresh)}
