"""What a plugin's code gets from Toru: the context, its KV client and its logger."""

import itertools
import json
import sys
import threading
import time

from toru_plugin.protocol import envelope, timestamp

KV_TIMEOUT = 10.0
NOTIFY_TIMEOUT = 5.0  # how long notify waits for Toru's connection before giving up
SEVERITIES = ("info", "warning", "critical")


class KVError(Exception):
    """A KV call failed: Toru answered with an error, did not answer in time,
    or no connection to Toru was open."""


class KV:
    """The plugin's key-value store inside Toru (its own namespace; survives
    restarts). Values are strings; `get_json`/`set_json` encode for you.

    Each call sends a `kv` request over the connection Toru opened and waits
    for the reply with the same `request_id`; calls from several threads
    may be in flight at once.
    """

    def __init__(self, link, timeout=KV_TIMEOUT):
        self._link = link  # has .kv_request(payload, timeout) → reply message
        self.timeout = timeout

    def _call(self, action, **fields):
        payload = dict({"action": action}, **fields)
        reply = self._link.kv_request(payload, self.timeout)
        body = reply.get("payload") if isinstance(reply.get("payload"), dict) else reply
        if body.get("error"):
            raise KVError(f"kv {action} failed: {body['error']}")
        return body

    def get(self, key, default=None):
        value = self._call("get", key=_key(key)).get("value")
        return default if value is None else value

    def set(self, key, value):
        if not isinstance(value, str):
            raise TypeError(f"KV values are strings, not {type(value).__name__}: use set_json")
        self._call("set", key=_key(key), value=value)

    def delete(self, key):
        self._call("delete", key=_key(key))

    def list(self, prefix=""):
        """The keys starting with `prefix`, sorted."""
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        body = self._call("list", key=prefix, prefix=prefix)
        keys = body.get("keys")
        if keys is None and isinstance(body.get("value"), str):
            try:
                keys = json.loads(body["value"])
            except ValueError:
                raise KVError("kv list answered a value that is not a JSON list") from None
        if not isinstance(keys, list):
            raise KVError("kv list answered without a list of keys")
        return [str(k) for k in keys]

    def get_json(self, key, default=None):
        value = self.get(key)
        if value is None:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise KVError(f"the value of {key!r} is not JSON") from None

    def set_json(self, key, value):
        self.set(key, json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _key(key):
    if not isinstance(key, str) or not key:
        raise TypeError("a KV key is a non-empty string")
    return key


class Logger:
    """Structured logs: one JSON line per call on stderr, which Toru keeps
    in the plugin's log with its level (`GET /api/plugins/<id>/logs?level=`).

    `log.info("saved", key="k", size=3)` writes
    `{"timestamp": ..., "level": "info", "message": "saved key=k size=3", "key": "k", "size": 3}`:
    Toru keeps `level`, `message`, `error` and `timestamp`, so the fields are
    also spelled out in the message.
    """

    RESERVED = ("timestamp", "level", "message")

    def __init__(self, stream=None):
        self._stream = stream
        self._lock = threading.Lock()

    def log(self, level, message, **fields):
        message = str(message)
        shown = [f"{k}={_show(v)}" for k, v in fields.items() if k not in ("error", "pid")]
        record = {"timestamp": timestamp(), "level": level,
                  "message": " ".join([message] + shown) if shown else message}
        for k, v in fields.items():
            if k not in self.RESERVED:
                record[k] = v
        line = json.dumps(record, ensure_ascii=False, default=str)
        stream = self._stream or sys.stderr
        with self._lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed: nowhere left to log

    def trace(self, message, **fields):
        self.log("trace", message, **fields)

    def debug(self, message, **fields):
        self.log("debug", message, **fields)

    def info(self, message, **fields):
        self.log("info", message, **fields)

    def warn(self, message, **fields):
        self.log("warn", message, **fields)

    warning = warn

    def error(self, message, **fields):
        self.log("error", message, **fields)


def _show(value):
    if isinstance(value, str) and value and " " not in value and "=" not in value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class Context:
    """Given to `on_init`/`on_shutdown` hooks and to handlers as `request.ctx`.

    `instance_id`, `plugin_socket` and `log_path` come from Toru's `init`
    message (and, before it arrives, from the environment Toru sets).
    `config` is the plugin's config object as an admin set it in Toru
    (`{}` until then): from `init`, replaced whole when a `lifecycle`/`config`
    message brings a new one. Read it where you need it, not once: it is a
    new dict after each change (never mutated in place).
    """

    def __init__(self, plugin_id, environ, link, logger=None):
        self.plugin_id = environ.get("TORU_PLUGIN_ID") or plugin_id
        self.instance_id = environ.get("TORU_INSTANCE_ID")
        self.plugin_socket = environ.get("TORU_PLUGIN_SOCKET")
        self.log_path = environ.get("TORU_LOG_PATH")
        self.protocol_version = None
        self.config = {}
        self.kv = KV(link)
        self.log = logger or Logger()
        self._link = link

    def notify(self, title, message="", severity="warning"):
        """Raise an alert of the plugin's own: Toru routes it by its `plugin`
        alert rules with event `notify` (docs/alerts.md). Fire and forget: no
        reply comes; Toru passes on at most 6 a minute per plugin and drops
        the rest. True when sent, False when no connection to Toru was open
        within NOTIFY_TIMEOUT s."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        if not isinstance(title, str) or not title.strip():
            raise ValueError("title must be a non-empty string")
        payload = {"title": title, "message": str(message or ""), "severity": severity}
        return self._link.send(envelope("notify", payload, None), NOTIFY_TIMEOUT)

    def _apply_init(self, payload):
        for field, key in (("instance_id", "instance_id"), ("log_path", "log_path")):
            if isinstance(payload.get(key), str):
                setattr(self, field, payload[key])
        socket_path = payload.get("plugin_socket") or payload.get("socket_path")
        if isinstance(socket_path, str):
            self.plugin_socket = socket_path
        if isinstance(payload.get("protocol_version"), int):
            self.protocol_version = payload["protocol_version"]
        self._apply_config(payload)

    def _apply_config(self, payload):
        """True when the payload carried a config object (now `self.config`)."""
        if isinstance(payload.get("config"), dict):
            self.config = payload["config"]
            return True
        return False


class Link:
    """The connection KV calls go over: the one Toru opened most recently.

    Replies are matched by `request_id`; a call waits for its own reply while
    other threads' calls are in flight. `Plugin` feeds replies in through
    `deliver` and tells it about connections through `attach`/`detach`.
    """

    def __init__(self):
        self._lock = threading.Condition()
        self._connection = None
        self._waiting = {}  # request_id → [event, reply or None, connection]
        self._ids = itertools.count(1)

    def attach(self, connection):
        with self._lock:
            self._connection = connection
            self._lock.notify_all()

    def detach(self, connection):
        with self._lock:
            if self._connection is connection:
                self._connection = None
            for slot in self._waiting.values():
                if slot[2] is connection and slot[1] is None:
                    slot[1] = KVError("the connection to Toru closed before the kv reply")
                    slot[0].set()

    def send(self, message, timeout):
        """Send a message that wants no reply; False when not connected within `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._connection is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            connection = self._connection
        try:
            connection.send(message)
        except OSError:
            return False
        return True

    def kv_request(self, payload, timeout):
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._connection is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise KVError("not connected to Toru (KV works once Toru has connected)")
                self._lock.wait(remaining)
            connection = self._connection
            request_id = f"kv-{next(self._ids)}"
            slot = [threading.Event(), None, connection]
            self._waiting[request_id] = slot
        try:
            payload = dict(payload, type="kv", request_id=request_id)
            try:
                connection.send(envelope("kv", payload, request_id))
            except OSError as e:
                raise KVError(f"cannot send the kv request: {e}") from None
            if not slot[0].wait(max(0.0, deadline - time.monotonic())):
                raise KVError(f"Toru did not answer the kv {payload['action']} within {timeout:g} s")
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        if isinstance(slot[1], Exception):
            raise slot[1]
        return slot[1]

    def deliver(self, request_id, message):
        """A `kv` reply arrived; False when nobody waits for it."""
        with self._lock:
            if request_id is None and len(self._waiting) == 1:
                request_id = next(iter(self._waiting))  # a core that dropped the id
            slot = self._waiting.get(request_id)
            if slot is None or slot[1] is not None:
                return False
            slot[1] = message
            slot[0].set()
            return True
