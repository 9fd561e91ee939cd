"""Typed errors raised inside Toru; the HTTP layer maps each to JSON.

Services raise these instead of touching HTTP; `web.py` turns them into
`{"error": message}` with the carried status.
"""


class ToruError(Exception):
    status = 500

    def __init__(self, message, status=None, headers=None, **extra):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra  # extra JSON fields of the error body


class Invalid(ToruError):
    status = 400


class Unauthorized(ToruError):
    status = 401


class Forbidden(ToruError):
    status = 403


class NotFound(ToruError):
    status = 404


class Conflict(ToruError):
    status = 409


class PayloadTooLarge(ToruError):
    status = 413


class UnsupportedMediaType(ToruError):
    status = 415


class RateLimited(ToruError):
    status = 429


class PluginTimeout(ToruError):
    status = 504


class ConfigError(Exception):
    """A bad setting at start-up: the CLI prints it as one line and exits 2."""


class StoreError(ConfigError):
    """The database cannot be used (corrupt, newer schema): refuse to start."""


def invalid_fields(fields, message="Check these fields"):
    """Invalid (400) naming every bad field at once: the body carries
    `fields` {name: message} for forms to show next to each field, and the
    error text repeats the first few for scripts and logs."""
    first = "; ".join(f"{name}: {text}" for name, text in list(fields.items())[:3])
    more = f" (and {len(fields) - 3} more)" if len(fields) > 3 else ""
    return Invalid(f"{message}: {first}{more}", fields=dict(fields))


class FieldErrors:
    """Collects the problems of a form's fields so one answer lists them all:

        errors = FieldErrors()
        name = errors.check("username", check_username, data.get("username"))
        errors.raise_any()          # Invalid with `fields`, if any check failed
    """

    def __init__(self):
        self.fields = {}

    def check(self, name, check, *args):
        try:
            return check(*args)
        except Invalid as e:
            self.fields[name] = e.message
            return None

    def add(self, name, message):
        self.fields[name] = message

    def raise_any(self, message="Check these fields"):
        if self.fields:
            raise invalid_fields(self.fields, message)
