"""Requests, responses and routes of a plugin's HTTP handlers."""

import base64
import binascii
import json
import re
from urllib.parse import parse_qsl

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
BYTES_TYPE = "application/octet-stream"


class HTTPError(Exception):
    """Raise in a handler to answer `status` with `{"error": message}`."""

    def __init__(self, status, message=None, headers=None):
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.message = message or f"HTTP {status}"
        self.headers = dict(headers or {})

    def response(self):
        return Response({"error": self.message}, status=self.status, headers=self.headers)


class Request:
    """One HTTP request forwarded by Toru.

    `path` is below the plugin's route, starts with `/`, has no query string
    and is percent-decoded (Toru decodes it); `query` maps each parameter to
    its last value (`query_list` keeps every pair); `headers` have lowercase
    names; `body` is a str, or bytes when Toru sent it base64-encoded (not
    UTF-8); `user` and `role` are the signed-in Toru user, from the
    `x-toru-user` / `x-toru-role` headers Toru sets (a browser cannot forge them).
    """

    def __init__(self, method, path, headers=None, body=None, params=None, ctx=None, request_id=None):
        self.method = (method or "GET").upper()
        path = path or "/"
        path, _, self.query_string = path.partition("?")
        self.path = path if path.startswith("/") else "/" + path
        self.query_list = parse_qsl(self.query_string, keep_blank_values=True)
        self.query = dict(self.query_list)
        self.headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        self.body = "" if body is None else body
        self.params = dict(params or {})
        self.ctx = ctx
        self.request_id = request_id

    @classmethod
    def from_payload(cls, payload, ctx=None, request_id=None):
        """From an `http` message's payload: the four fields flat in it, or
        nested in `payload.payload` (Toru sends both)."""
        fields = payload if isinstance(payload, dict) else {}
        if "method" not in fields and isinstance(fields.get("payload"), dict):
            fields = fields["payload"]
        body = fields.get("body")
        if isinstance(body, str) and fields.get("body_encoding") == "base64":
            try:
                body = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise HTTPError(400, "request body is not valid base64") from None
        elif body is not None and not isinstance(body, str):
            body = json.dumps(body)
        headers = fields.get("headers") if isinstance(fields.get("headers"), dict) else {}
        path = fields.get("path") if isinstance(fields.get("path"), str) else "/"
        method = fields.get("method") if isinstance(fields.get("method"), str) else "GET"
        return cls(method, path, headers, body, ctx=ctx, request_id=request_id)

    @property
    def user(self):
        return self.headers.get("x-toru-user")

    @property
    def role(self):
        return self.headers.get("x-toru-role")

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def text(self):
        """The body as text (bytes are decoded as UTF-8, invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else self.body

    def json(self):
        """The body parsed as JSON; None for an empty body; a 400 answer
        (HTTPError) when it is not JSON."""
        text = self.text()
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise HTTPError(400, "request body is not valid JSON") from None

    def __repr__(self):
        return f"<Request {self.method} {self.path}>"


class Response:
    """An answer with an explicit status or headers.

    `body` may be None, str (text/plain), bytes (application/octet-stream,
    sent base64-encoded), or anything JSON-serialisable (application/json).
    A `Content-Type` in `headers` overrides the default.
    """

    def __init__(self, body=None, status=200, headers=None):
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"status must be an integer from 100 to 599, not {status!r}")
        self.body = body
        self.status = status
        self.headers = {str(k): str(v) for k, v in (headers or {}).items()}

    @classmethod
    def json(cls, data, status=200, headers=None):
        return cls(json.dumps(data, ensure_ascii=False),
                   status, dict({"Content-Type": JSON_TYPE}, **(headers or {})))

    def payload(self):
        """The `payload` of the reply frame: status, headers, body[, body_encoding]."""
        headers = dict(self.headers)
        has_type = any(k.lower() == "content-type" for k in headers)
        body, encoding, default_type = self.body, None, None
        if body is None:
            body = ""
        elif isinstance(body, (bytes, bytearray, memoryview)):
            body, encoding, default_type = base64.b64encode(bytes(body)).decode("ascii"), "base64", BYTES_TYPE
        elif isinstance(body, str):
            default_type = TEXT_TYPE
        else:
            body, default_type = json.dumps(body, ensure_ascii=False), JSON_TYPE
        if default_type and not has_type:
            headers["Content-Type"] = default_type
        payload = {"status": self.status, "headers": headers, "body": body}
        if encoding:
            payload["body_encoding"] = encoding
        return payload

    def __repr__(self):
        return f"<Response {self.status}>"


def to_response(value):
    """A handler's return value as a Response."""
    if isinstance(value, Response):
        return value
    if value is None:
        return Response(None, status=204)
    if isinstance(value, (dict, list)):
        return Response.json(value)
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return Response(value)
    raise TypeError(f"a handler must return a dict, list, str, bytes, None or Response, not {type(value).__name__}")


_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::(path))?>")


def normalize_path(path):
    """`/a/b/` and `/a/b` are the same route; the root stays `/`."""
    path = "/" + path.lstrip("/")
    return path.rstrip("/") or "/"


class Route:
    def __init__(self, methods, pattern, handler):
        self.methods = methods  # a set of upper-case names, or None for any
        self.pattern = pattern
        self.handler = handler
        self.regex = compile_pattern(pattern)

    def match(self, path):
        found = self.regex.fullmatch(path)
        return found.groupdict() if found else None


def compile_pattern(pattern):
    """`/items/<name>` → a regex; `<name>` is one path segment, `<name:path>`
    the rest of the path (slashes included)."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ValueError(f"a route pattern starts with '/', not {pattern!r}")
    pattern = normalize_path(pattern)
    out, last, names = [], 0, set()
    for found in _PARAM.finditer(pattern):
        name = found.group(1)
        if name in names:
            raise ValueError(f"route {pattern!r} names <{name}> twice")
        names.add(name)
        out.append(re.escape(pattern[last:found.start()]))
        out.append(f"(?P<{name}>.+)" if found.group(2) else f"(?P<{name}>[^/]+)")
        last = found.end()
    rest = pattern[last:]
    if "<" in rest or ">" in rest:
        raise ValueError(f"route {pattern!r}: parameters look like <name> or <name:path>")
    out.append(re.escape(rest))
    return re.compile("".join(out))


class Router:
    def __init__(self):
        self.routes = []

    def add(self, methods, pattern, handler):
        if isinstance(methods, str):
            methods = [methods]
        methods = {m.upper() for m in methods}
        self.routes.append(Route(None if "*" in methods else methods, pattern, handler))

    def resolve(self, method, path):
        """(handler, params) for a request; HTTPError 404 or 405 when none fits.
        HEAD falls back to a GET route."""
        path = normalize_path(path)
        allowed = set()
        for wanted in (method, "GET") if method == "HEAD" else (method,):
            for route in self.routes:
                params = route.match(path)
                if params is None:
                    continue
                if route.methods is None or wanted in route.methods:
                    return route.handler, params
                allowed |= route.methods
        if allowed:
            raise HTTPError(405, "Method not allowed", {"Allow": ", ".join(sorted(allowed))})
        raise HTTPError(404, "Not found")
