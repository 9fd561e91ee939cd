"""The HTTP layer's conventions, in one place.

- `App` is a Bottle whose every error, from the router's 404/405 to an
  unexpected exception, is JSON `{"error": message}`; tracebacks go only to
  the log.
- `ErrorsPlugin` maps typed errors from `toru.errors` to their status and
  caps request bodies before a handler reads them.
- Every response carries the security headers (added at the WSGI edge so
  nothing, not even a 500, leaves without them); the same spot counts
  responses by status class for `/metrics`.
- `json_body()` is the one way a handler reads a JSON request, `paging()`
  and `limit()` the one way a list endpoint reads its window.
"""

import collections
import json
import logging

import bottle

from toru.errors import Invalid, PayloadTooLarge, ToruError, UnsupportedMediaType

log = logging.getLogger("toru.http")

SECURITY_HEADERS = [
    # xterm.js injects <style> elements, hence 'unsafe-inline' for styles only.
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; "
     "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
     "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
]
SECURITY_HEADER_NAMES = frozenset(name.lower() for name, _ in SECURITY_HEADERS)
# The methods that change state: they may carry a body (capped here) and
# must come from the same origin (web/security.py).
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class App(bottle.Bottle):
    """Bottle with JSON errors and security headers. `services` holds what
    `create_app` built, for the server and for tests."""

    def __init__(self, services=None):
        super().__init__(catchall=True)
        self.services = services
        # Responses by the first digit of their status ("2" → 2xx), for /metrics.
        self.status_counts = collections.Counter()

    def default_error_handler(self, res):
        if res.status_code >= 500 and res.traceback:
            log.error("unhandled error", extra={"path": bottle.request.path, "traceback": res.traceback})
        bottle.response.content_type = "application/json"
        message = res.body if isinstance(res.body, str) and res.body else res.status_line[4:]
        body = {"error": message}
        body.update(getattr(res, "extra", None) or {})
        return json.dumps(body)

    def wsgi(self, environ, start_response):
        def with_headers(status, headers, exc_info=None):
            self.status_counts[status[:1]] += 1
            present = [name.lower() for name, _ in headers if name.lower() in SECURITY_HEADER_NAMES]
            if present:  # a response that sets one of its own (a plugin's page) keeps it
                headers.extend(h for h in SECURITY_HEADERS if h[0].lower() not in present)
            else:
                headers.extend(SECURITY_HEADERS)
            return start_response(status, headers, exc_info)
        return super().wsgi(environ, with_headers)


class ErrorsPlugin:
    """Turns `ToruError` into an HTTPError with its status, logs anything else
    with its traceback and answers a bare 500, and refuses oversized bodies."""

    name = "toru_errors"
    api = 2

    def __init__(self, max_body_bytes):
        self.max_body_bytes = max_body_bytes

    def apply(self, callback, route):
        def wrapper(*args, **kwargs):
            try:
                self.check_body_size()
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except ToruError as e:
                raise http_error(e.status, e.message, e.headers, e.extra) from None
            except Exception:
                log.exception("unhandled error in %s %s", bottle.request.method, bottle.request.path)
                raise http_error(500, "Internal server error") from None
        return wrapper

    def check_body_size(self):
        if bottle.request.method not in STATE_CHANGING:
            return
        if "chunked" in bottle.request.get_header("Transfer-Encoding", "").lower():
            # Bottle would buffer a chunked body of any size: ask for a length.
            raise ToruError("Chunked request bodies are not accepted; send Content-Length", status=411)
        if bottle.request.content_length > self.max_body_bytes:
            raise PayloadTooLarge(f"Request body is larger than {self.max_body_bytes} bytes")


def http_error(status, message, headers=None, extra=None):
    error = bottle.HTTPError(status, message)
    for name, value in (headers or {}).items():
        error.set_header(name, str(value))
    error.extra = extra or {}
    return error


def decode_json(raw, what="message"):
    """json.loads with one error for everything a client can send wrong:
    Invalid (400) for bad UTF-8, malformed JSON and nesting too deep for the
    parser (a RecursionError otherwise, i.e. a 500)."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as e:
        raise Invalid(f"Malformed JSON {what}: {e}") from None
    except RecursionError:
        raise Invalid(f"Malformed JSON {what}: nested too deeply") from None


def json_body(required=True):
    """The request's JSON object. 415 for a non-JSON content type (this also
    stops `text/plain` cross-site form posts), 400 for malformed JSON or a
    body that is not an object."""
    request = bottle.request
    raw = request.body.read()
    if not raw:
        if required:
            raise Invalid("A JSON body is required")
        return {}
    ctype = request.content_type.split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")
    data = decode_json(raw, "body")
    if not isinstance(data, dict):
        raise Invalid("The JSON body must be an object")
    return data


def int_param(query, name, default):
    value = query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{name} must be an integer") from None


def paging(query, default_size=50, max_size=200):
    """(page, page_size) of a list endpoint, one rule for all: `page` counts
    from 0; `page_size` defaults per endpoint and is capped at `max_size`
    (DESIGN §6a: capped, not refused); a non-integer, a negative page or a
    page_size below 1 answers 400."""
    page = int_param(query, "page", 0)
    size = int_param(query, "page_size", default_size)
    if page < 0:
        raise Invalid("page must be 0 or more")
    if size < 1:
        raise Invalid("page_size must be 1 or more")
    return page, min(size, max_size)


def limit(query, default=100, maximum=500):
    """`limit` of a "most recent N" endpoint, with the same rule as page_size."""
    value = int_param(query, "limit", default)
    if value < 1:
        raise Invalid("limit must be 1 or more")
    return min(value, maximum)
