"""Licence keys for plugins: HMAC-SHA256 over `instance_id:expiry`.

    key = base64(instance_id + ":" + expiry + ":" + base64(HMAC-SHA256(secret, instance_id + ":" + expiry)))

Both base64 layers are standard base64 with padding; `expiry` is
`YYYY-MM-DD` (valid through that day, UTC) or `never`. Validation reports the
first check that fails, in the order format → instance → expired → signature.

Limits, honestly: the secret that checks keys ships inside the plugin that
checks them, so anyone who has the plugin can extract it and mint keys. This
deters casual copying between servers; it is not DRM. A scheme where the
plugin holds only a public key needs asymmetric signatures (Ed25519), which
the standard library does not provide.
"""

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import re
from datetime import date, datetime, timezone

NEVER = "never"
MAX_KEY_CHARS = 1024
MAX_INSTANCE_ID = 256
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANCE = re.compile(r"[^\x00-\x20\x7f:]+")

REASONS = {
    "format": "not a licence key (bad base64 or not instance:expiry:signature)",
    "instance": "made for another instance",
    "expired": "expired",
    "signature": "signature does not match (wrong secret or altered key)",
}


@dataclasses.dataclass(frozen=True)
class LicenseResult:
    valid: bool
    reason: str | None = None          # None, "format", "instance", "expired" or "signature"
    expiry: str | None = None          # "YYYY-MM-DD" or "never"; None when the key did not parse
    instance_id: str | None = None     # as written in the key; None when it did not parse

    def __bool__(self):
        return self.valid

    @property
    def message(self):
        if self.valid:
            return "valid" + ("" if self.expiry == NEVER else f" until {self.expiry}")
        text = REASONS.get(self.reason, self.reason)
        return f"{text} ({self.expiry})" if self.reason == "expired" else text


def _secret_bytes(secret):
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)) or not secret:
        raise ValueError("the licence secret must be a non-empty string")
    return bytes(secret)


def _check_instance(instance_id):
    if not isinstance(instance_id, str) or len(instance_id) > MAX_INSTANCE_ID or not _INSTANCE.fullmatch(instance_id):
        raise ValueError(f"instance id must be 1-{MAX_INSTANCE_ID} characters without ':', spaces or control characters")
    return instance_id


def parse_expiry(expiry):
    """"never" or a real "YYYY-MM-DD" date → the text; ValueError otherwise."""
    if isinstance(expiry, datetime):
        expiry = expiry.date()
    if isinstance(expiry, date):
        return expiry.isoformat()
    if expiry == NEVER:
        return NEVER
    if isinstance(expiry, str) and _DATE.fullmatch(expiry):
        try:
            date.fromisoformat(expiry)
            return expiry
        except ValueError:
            pass
    raise ValueError(f"expiry must be YYYY-MM-DD or 'never', not {expiry!r}")


def signature(instance_id, expiry, secret):
    """base64(HMAC-SHA256(secret, "instance_id:expiry"))."""
    digest = hmac.new(_secret_bytes(secret), f"{instance_id}:{expiry}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def generate_license(instance_id, expiry, secret):
    """A key for `instance_id`, valid through `expiry` ("YYYY-MM-DD", a date, or "never")."""
    instance_id = _check_instance(instance_id)
    expiry = parse_expiry(expiry)
    text = f"{instance_id}:{expiry}:{signature(instance_id, expiry, secret)}"
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _today(today):
    if today is None:
        return datetime.now(timezone.utc).date()
    if isinstance(today, datetime):
        return today.astimezone(timezone.utc).date() if today.tzinfo else today.date()
    if isinstance(today, date):
        return today
    return date.fromisoformat(today)


def _parse(key):
    """(instance_id, expiry, signature bytes) or None when the key is malformed."""
    if isinstance(key, (bytes, bytearray)):
        try:
            key = bytes(key).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(key, str):
        return None
    key = key.strip(" \t\r\n")  # pasted keys often carry a newline; nothing else is forgiven
    if not key or len(key) > MAX_KEY_CHARS or not _BASE64.fullmatch(key):
        return None
    try:
        raw = base64.b64decode(key, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != key:
        return None  # non-canonical padding bits: not what a generator writes
    parts = text.split(":")
    if len(parts) != 3:
        return None
    instance_id, expiry, sig = parts
    if len(instance_id) > MAX_INSTANCE_ID or not _INSTANCE.fullmatch(instance_id):
        return None
    try:
        expiry = parse_expiry(expiry)
    except ValueError:
        return None
    if not _SIGNATURE.fullmatch(sig):
        return None
    digest = base64.b64decode(sig, validate=True)
    if base64.b64encode(digest).decode("ascii") != sig:
        return None
    return instance_id, expiry, digest


def validate_license(key, instance_id, secret, today=None):
    """Check `key` for this instance; a LicenseResult saying which check failed."""
    secret = _secret_bytes(secret)
    parsed = _parse(key)
    if parsed is None:
        return LicenseResult(False, "format")
    key_instance, expiry, digest = parsed
    if not isinstance(instance_id, str) or not hmac.compare_digest(key_instance.encode("utf-8"),
                                                                   instance_id.encode("utf-8")):
        return LicenseResult(False, "instance", expiry, key_instance)
    if expiry != NEVER and _today(today) > date.fromisoformat(expiry):
        return LicenseResult(False, "expired", expiry, key_instance)
    expected = hmac.new(secret, f"{key_instance}:{expiry}".encode("utf-8"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, digest):
        return LicenseResult(False, "signature", expiry, key_instance)
    return LicenseResult(True, None, expiry, key_instance)


def read_license(key, secret, today=None):
    """Check a key without knowing the instance (the original generator's
    `--validate KEY`): format, expiry and signature, for the instance the
    key itself names. The result carries that instance id and the expiry."""
    parsed = _parse(key)
    if parsed is None:
        return LicenseResult(False, "format")
    return validate_license(key, parsed[0], secret, today)


def license_key(ctx=None, environ=None):
    """The plugin's licence key: env TORU_LICENSE_KEY first, else the KV key
    "license_key" (through ctx.kv); None when neither has one."""
    environ = os.environ if environ is None else environ
    key = (environ.get("TORU_LICENSE_KEY") or "").strip()
    if key:
        return key
    if ctx is None:
        return None
    key = ctx.kv.get("license_key")
    return key.strip() or None if isinstance(key, str) else None
