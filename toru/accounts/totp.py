"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), the codes
of Google Authenticator, Aegis, 1Password and the like: HMAC-SHA-1, 6
digits, 30-second steps counted from the Unix epoch. Those are the
defaults every authenticator app assumes when the `otpauth://` URI names
no others, so the URI below names none of them.

Pure functions of a key and a time: the caller passes the clock, so tests
step through time without sleeping.
"""

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP = 30        # seconds per code
DIGITS = 6
WINDOW = 1       # steps accepted either side of now: clocks drift, people type slowly
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended key length for SHA-1


def hotp(key, counter, digits=DIGITS, digest=hashlib.sha1):
    """RFC 4226 §5.3: HMAC the 8-byte big-endian counter, take 31 bits at
    the offset named by the last nibble, keep the last `digits` decimals."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** digits).zfill(digits)


def step_at(when, step=STEP):
    """The time step (RFC 6238's T) that Unix time `when` falls in."""
    return int(when // step)


def totp(key, when, digits=DIGITS, digest=hashlib.sha1, step=STEP):
    return hotp(key, step_at(when, step), digits, digest)


def matching_step(key, code, when, window=WINDOW):
    """The step within `window` steps of `when` whose code is `code`, or
    None. Every candidate is computed and compared in constant time, so the
    answer's timing says nothing about which one (if any) matched."""
    now = step_at(when)
    found = None
    for candidate in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, candidate).encode(), code.encode()) and found is None:
            found = candidate
    return found


def new_secret():
    """A random key as authenticator apps take it: base32, no padding."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def secret_key(secret):
    """The key bytes of a base32 secret (any case, spaces and padding optional)."""
    clean = secret.replace(" ", "").upper().rstrip("=")
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def otpauth_uri(secret, account, issuer):
    """The `otpauth://totp/…` URI a QR code carries (Google's Key Uri Format):
    the label is `issuer:account`, and `issuer` is repeated as a parameter
    because some apps read only one of the two."""
    label = quote(f"{issuer}:{account}", safe=":@")
    return f"otpauth://totp/{label}?" + urlencode({"secret": secret, "issuer": issuer})
