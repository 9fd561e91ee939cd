"""HTTP requests to `/api/plugins/route/<segment>/<rest>` → `http` frames to
the plugin owning `/<segment>`, and its reply back (DESIGN §6, §6a).

The request a plugin sees: `method`, `path` (below its route, starting with
`/`, percent-decoded, plus `?query` exactly as sent), lowercase `headers`
without the session cookie, `Authorization`, hop-by-hop headers or any
client-sent `x-toru-*` — and with `x-toru-user` / `x-toru-role` added by the
core — and `body` (a string, or base64 with `body_encoding`). The reply's
hop-by-hop headers and `Set-Cookie` are dropped: a plugin cannot set cookies
on the core's origin.
"""

import base64
import binascii
import json
import logging

from toru.errors import NotFound
from toru.plugins.protocol import BadPluginReply

log = logging.getLogger("toru.plugins")

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
NOT_FORWARDED = HOP_BY_HOP | {"cookie", "authorization", "host", "content-length"}
NOT_RETURNED = HOP_BY_HOP | {"set-cookie", "content-length"}
# environ key → the header name a plugin sees, or None when it is not
# forwarded: worked out once per key, not per request. Bounded, since
# clients choose header names; keys past the bound are worked out each time.
FORWARDED_NAMES = {}
MAX_FORWARDED_NAMES = 2048


def forwarded_name(key):
    """The lowercase header name for an environ key, or None when the
    header is not a plugin's to see (or the key is not a header)."""
    if key.startswith("HTTP_"):
        name = key[5:].replace("_", "-").lower()
    elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        name = key.replace("_", "-").lower()
    else:
        return None
    return None if name in NOT_FORWARDED or name.startswith("x-toru-") else name


def request_headers(environ):
    headers = {}
    names = FORWARDED_NAMES
    for key, value in environ.items():
        try:
            name = names[key]
        except KeyError:
            name = forwarded_name(key)
            if len(names) < MAX_FORWARDED_NAMES:
                names[key] = name
        if name is None or not value:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def encode_body(data):
    """(body, encoding or None): text when the bytes are UTF-8, else base64."""
    if not data:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def http_payload(method, path, headers, data):
    """The `http` request payload in both shapes old plugins read: the four
    fields nested in `payload` and also directly in the payload."""
    body, encoding = encode_body(data)
    inner = {"method": method, "path": path, "headers": headers, "body": body}
    if encoding:
        inner["body_encoding"] = encoding
    return dict(inner, payload=dict(inner))


def valid_status(status):
    return not isinstance(status, bool) and isinstance(status, int) and 100 <= status <= 599


def legacy_reply(payload):
    """The reply inside a reply that plugins built with the original's Rust
    SDK send: its `http` message could only carry a request, so its example
    puts `{"status", "headers", "body"}` as a JSON string in the request's
    `body` (`payload.payload.body`, unwrapped to `payload.body` by now).
    That inner object, when the outer reply has no valid status and the
    string parses to an object with one; else None."""
    body = payload.get("body")
    if valid_status(payload.get("status")) or not isinstance(body, str) or not body.lstrip().startswith("{"):
        return None
    try:
        inner = json.loads(body)
    except ValueError:
        return None
    return inner if isinstance(inner, dict) and valid_status(inner.get("status")) else None


def parse_reply(plugin_id, message):
    """(status, headers, body bytes) from a plugin's `http` reply."""
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise BadPluginReply(f"Plugin {plugin_id} answered without a payload")
    if isinstance(payload.get("http"), dict):
        payload = payload["http"]
    elif "status" not in payload and isinstance(payload.get("payload"), dict):
        payload = payload["payload"]
    payload = legacy_reply(payload) or payload
    status = payload.get("status")
    if not valid_status(status):
        log.warning("plugin reply without a valid status", extra={"plugin": plugin_id, "status": repr(status)})
        raise BadPluginReply(f"Plugin {plugin_id} answered without a valid HTTP status")
    headers = payload.get("headers") or {}
    if not isinstance(headers, dict):
        raise BadPluginReply(f"Plugin {plugin_id} answered with headers that are not an object")
    headers = {str(k): str(v) for k, v in headers.items()
               if str(k).lower() not in NOT_RETURNED and "\n" not in str(v) and "\r" not in str(v)}
    body = payload.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        if payload.get("body_encoding") == "base64":
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise BadPluginReply(f"Plugin {plugin_id} sent a body that is not valid base64") from None
        else:
            data = body.encode("utf-8", "surrogatepass")
    else:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    return status, headers, data


def forward(manager, segment, method, path, headers, data, user, timeout):
    """Send one HTTP request to the plugin at `/<segment>`; (status, headers, body)."""
    process = manager.by_route(segment)
    if process is None or not manager.enabled.is_enabled(process.id):
        raise NotFound("Plugin not found")
    headers = dict(headers, **{"x-toru-user": user["username"], "x-toru-role": user["role"]})
    reply = process.request("http", http_payload(method, path, headers, data), timeout)
    return parse_reply(process.id, reply)


def bundle(manager, plugin_id, user, timeout):
    """The plugin's frontend bundle: `<data>/plugins/<id>/bundle.js` if there
    is one, else the plugin's own answer to `GET /bundle.js`."""
    directory = (manager.plugins_dir / plugin_id).resolve()
    path = directory / "bundle.js"
    if path.is_file() and path.resolve().parent == directory:
        return path.read_bytes()
    process = manager.processes.get(plugin_id)
    if process is None or not manager.enabled.is_enabled(plugin_id) or not process.running:
        raise NotFound("Plugin has no bundle.js (no file, and the plugin is not running)")
    status, _, body = forward(manager, process.plugin.metadata["route"][1:], "GET", "/bundle.js", {}, b"",
                              user, timeout)
    if status != 200:
        raise NotFound(f"Plugin {plugin_id} has no bundle.js (it answered {status})")
    return body
