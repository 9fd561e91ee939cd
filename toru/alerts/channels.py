"""Alert channels: where notifications go (docs/alerts.md#channels).

`alert_channels(id, name, type, config)`: `config` is the type's JSON, checked
whole before anything is saved. Secrets in it are write-only: the API shows
each as `{"set": true|false}`; an update that omits a secret (or sends that
object back) keeps the stored one, `null` or `""` clears it. Which fields are
secret depends on the type, and for Slack and Discord webhooks the URL itself
is one (their URL is the credential).
"""

import json
import logging
import re
import time
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

from toru.alerts import apprise_channel, presets
from toru.alerts.mail import DEFAULT_PORTS
from toru.checks import boolean, choice, known_fields, label, whole_number
from toru.errors import Conflict, FieldErrors, Invalid, NotFound

log = logging.getLogger("toru.alerts")

TYPES = ("webhook", "email", "apprise")
SECURITY = tuple(DEFAULT_PORTS)
NAME_LIMIT = 100
MAX_RECIPIENTS = 20
ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
TELEGRAM_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
URL_IS_SECRET = ("slack", "discord")
LAST_DELIVERY = ("(SELECT json_object('ok', json(CASE ok WHEN 1 THEN 'true' ELSE 'false' END), 'result', result, "
                 "'at', at) FROM alert_deliveries d WHERE d.channel_id = alert_channels.id "
                 "ORDER BY d.at DESC, d.id DESC LIMIT 1) AS last_delivery")


def secret_fields(channel_type, config):
    if channel_type == "webhook":
        return {"secret", "token"} | ({"url"} if config.get("preset") in URL_IS_SECRET else set())
    return {"email": {"password"}, "apprise": {"urls"}}.get(channel_type, set())


# --- value checks (each returns the clean value or raises Invalid) ---------------------------
def check_url(value):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Enter an http:// or https:// URL")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2048 or any(
            c.isspace() for c in value):
        raise Invalid("Must be an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError:
        raise Invalid("The port in the URL must be a number from 1 to 65535") from None
    return value


def check_text(limit, pattern=None, hint=""):
    def check(value):
        if not isinstance(value, str) or not value.strip():
            raise Invalid("Required")
        value = value.strip()
        if len(value) > limit or (pattern and not pattern.match(value)):
            raise Invalid(hint or f"At most {limit} characters")
        return value
    return check


def check_port(value):
    return whole_number(value, 1, 65535)


def check_address(value, allow_name=False):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Enter an email address")
    name, address = parseaddr(value.strip())
    if not ADDRESS.match(address or "") or (name and not allow_name) or len(value) > 320:
        raise Invalid(f"{value.strip()[:80]!r} is not an email address like ops@example.com")
    return formataddr((name, address)) if name else address


def check_recipients(value):
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value:
        raise Invalid("Enter at least one address")
    if len(value) > MAX_RECIPIENTS:
        raise Invalid(f"At most {MAX_RECIPIENTS} addresses")
    return [check_address(v) for v in value]


def check_apprise_urls(value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > 20:
        raise Invalid("Enter 1 to 20 Apprise URLs")
    if not all(isinstance(v, str) and "://" in v and len(v) <= 2048 for v in value):
        raise Invalid("Each must be an Apprise URL such as tgram://token/chat or mailto://user:pass@host")
    return apprise_channel.check_urls([v.strip() for v in value])


OPTIONAL_TEXT = check_text(256)
# Per type: field → (check, required). Which webhook fields fit which preset is in `webhook_fields`.
FIELDS = {
    "email": {"host": (check_text(253, HOSTNAME, "A host name or IP address, e.g. smtp.example.com"), True),
              "port": (check_port, False), "security": (choice(SECURITY), False),
              "username": (OPTIONAL_TEXT, False), "password": (OPTIONAL_TEXT, False),
              "from": (lambda v: check_address(v, allow_name=True), True), "to": (check_recipients, True),
              "tls_verify": (boolean, False)},
    "apprise": {"urls": (check_apprise_urls, True)},
}


def webhook_fields(preset):
    if preset == "telegram":
        return {"url": (check_url, False), "secret": (OPTIONAL_TEXT, False),
                "token": (check_text(130, TELEGRAM_TOKEN, "The bot token from @BotFather, like 123456:ABC-…"), True),
                "chat_id": (check_text(33, TELEGRAM_CHAT, "A chat id (e.g. -1001234567890) or @channelname"), True)}
    fields = {"url": (check_url, True), "secret": (OPTIONAL_TEXT, False)}
    if preset in ("generic", "ntfy"):
        fields["token"] = (OPTIONAL_TEXT, False)
    return fields


def check_config(channel_type, config):
    """The clean config with defaults; FieldErrors keys are `config.<field>`."""
    errors = FieldErrors()
    if not isinstance(config, dict):
        raise Invalid("config must be an object", fields={"config": "Must be an object"})
    clean = {}
    if channel_type == "webhook":
        clean["preset"] = errors.check("config.preset", choice(presets.PRESETS), config.get("preset", "generic"))
        fields = webhook_fields(clean["preset"])
        fields["preset"] = (None, False)
    else:
        fields = FIELDS[channel_type]
    for name in sorted(set(config) - set(fields)):
        errors.add(f"config.{name}"[:64], "Not a field of this channel type" +
                   (f" with preset {clean['preset']}" if channel_type == "webhook" else ""))
    for name, (check, required) in fields.items():
        if check is None:
            continue
        if config.get(name) in (None, "", []):
            if required:
                errors.add(f"config.{name}", "Required")
            continue
        clean[name] = errors.check(f"config.{name}", check, config[name])
    errors.raise_any("Channel not saved")
    if channel_type == "email":
        clean.setdefault("security", "starttls")
        clean.setdefault("port", DEFAULT_PORTS[clean["security"]])
        clean.setdefault("tls_verify", True)
        if clean.get("password") and not clean.get("username"):
            raise Invalid("Channel not saved: a password needs a user name",
                          fields={"config.username": "Required with a password"})
    return clean


def merge_secrets(channel_type, stored, given):
    """`given` with each secret resolved: omitted or an object → the stored
    one, null or "" → cleared, a value → the new one."""
    if not isinstance(given, dict):
        return given
    merged = dict(given)
    preset_view = dict(stored, **{k: v for k, v in given.items() if k == "preset"})
    for name in secret_fields(channel_type, preset_view):
        value = given.get(name, {})
        if isinstance(value, dict):
            merged.pop(name, None)
            if name in stored:
                merged[name] = stored[name]
        elif value in (None, "", []):
            merged.pop(name, None)
    return merged


def public_config(channel_type, config):
    shown = dict(config)
    for name in secret_fields(channel_type, config):
        shown[name] = {"set": bool(config.get(name))}
    return shown


class Channels:
    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock

    # --- reading -------------------------------------------------------------------------
    def row(self, channel_id):
        """The channel with its whole config (secrets too): for delivery only. NotFound if gone."""
        found = self.find(channel_id)
        if found is None:
            raise NotFound("No alert channel with that id")
        return found

    def find(self, channel_id):
        row = self.store.one("SELECT id, name, type, config FROM alert_channels WHERE id = ?", (channel_id,))
        return None if row is None else dict(row, config=json.loads(row["config"]))

    def missing(self, ids):
        """The ids among `ids` that name no channel (the rules' check)."""
        wanted = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
        found = {r["id"] for r in self.store.all(
            f"SELECT id FROM alert_channels WHERE id IN ({', '.join('?' * len(wanted))})", tuple(wanted))} \
            if wanted else set()
        return [i for i in ids if i not in found]

    def list(self):
        return [self.public(r) for r in self.store.all(
            f"SELECT *, {LAST_DELIVERY} FROM alert_channels ORDER BY name COLLATE NOCASE")]

    def get(self, channel_id):
        row = self.store.one(f"SELECT *, {LAST_DELIVERY} FROM alert_channels WHERE id = ?", (channel_id,))
        if row is None:
            raise NotFound("No alert channel with that id")
        return self.public(row)

    def public(self, row):
        config = json.loads(row["config"])
        return {"id": row["id"], "name": row["name"], "type": row["type"],
                "config": public_config(row["type"], config), "available": self.available(row["type"]),
                "last_delivery": json.loads(row["last_delivery"]) if row["last_delivery"] else None,
                "created_at": row["created_at"], "updated_at": row["updated_at"]}

    @staticmethod
    def available(channel_type):
        return apprise_channel.available() if channel_type == "apprise" else True

    @staticmethod
    def types():
        """What the editor offers: each type, whether it can be used here, and why not."""
        return {"webhook": {"available": True, "presets": list(presets.PRESETS)},
                "email": {"available": True, "security": list(SECURITY), "default_ports": DEFAULT_PORTS},
                "apprise": {"available": apprise_channel.available(),
                            "reason": None if apprise_channel.available() else apprise_channel.UNAVAILABLE}}

    # --- changing (admins) ----------------------------------------------------------------
    def check(self, data, current=None):
        known_fields(data, ("name", "type", "config"))
        errors = FieldErrors()
        if "name" in data or current is None:
            name = errors.check("name", lambda v: label(v, NAME_LIMIT), data.get("name"))
        else:
            name = current["name"]
        channel_type = data.get("type", current["type"] if current else None)
        if channel_type not in TYPES:
            errors.add("type", f"One of {', '.join(TYPES)}")
        if name and self.store.one("SELECT 1 FROM alert_channels WHERE name = ? AND id != ?",
                                   (name, current["id"] if current else -1)):
            errors.add("name", "Another channel has this name")
        errors.raise_any("Channel not saved")
        same_type = current is not None and channel_type == current["type"]
        if "config" not in data:
            if not same_type:
                raise Invalid("Channel not saved: config is required", fields={"config": "Required"})
            return name, channel_type, current["config"]
        given = merge_secrets(channel_type, current["config"] if same_type else {}, data["config"])
        return name, channel_type, check_config(channel_type, given)

    def create(self, data):
        name, channel_type, config = self.check(data)
        now = self.clock()
        cursor = self.store.execute("INSERT INTO alert_channels(name, type, config, created_at, updated_at) "
                                    "VALUES(?, ?, ?, ?, ?)", (name, channel_type, json.dumps(config), now, now))
        return self.get(cursor.lastrowid)

    def update(self, channel_id, data):
        current = self.row(channel_id)
        if not data:
            raise Invalid("Nothing to change: send any of name, type, config")
        name, channel_type, config = self.check(data, current)
        self.store.execute("UPDATE alert_channels SET name = ?, type = ?, config = ?, updated_at = ? WHERE id = ?",
                           (name, channel_type, json.dumps(config), self.clock(), channel_id))
        return self.get(channel_id)

    def delete(self, channel_id):
        channel = self.get(channel_id)
        users = self.rules_using(channel_id)
        if users:
            names = ", ".join(r["name"] for r in users[:10]) + (" …" if len(users) > 10 else "")
            raise Conflict(f"Channel {channel['name']!r} is used by alert rule(s) {names}: "
                           "remove it from them first", rules=[dict(r) for r in users])
        self.store.execute("DELETE FROM alert_channels WHERE id = ?", (channel_id,))
        return channel

    def rules_using(self, channel_id):
        """Alert rules (the engine's `alert_rules`, `channels` a JSON list of ids) sending to the channel."""
        if not self.store.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_rules'"):
            return []
        return self.store.all("SELECT id, name FROM alert_rules WHERE EXISTS (SELECT 1 FROM json_each("
                              "CASE WHEN json_valid(alert_rules.channels) THEN alert_rules.channels ELSE '[]' END) "
                              "WHERE value = ?) ORDER BY name", (channel_id,))
