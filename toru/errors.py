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
