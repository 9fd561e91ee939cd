"""Licence keys: vectors computed here with hmac/hashlib/base64 directly
(the original design's generator), and the parser's strictness."""

import base64
import hashlib
import hmac
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk_py"))

from toru_plugin.license import (LicenseResult, generate_license, license_key,  # noqa: E402
                                 validate_license)

INSTANCE = "0f8fad5b-d9cb-469f-a165-70867728950e"
SECRET = "s3cret"
# Made with: printf '%s' "$I:$E" | openssl dgst -sha256 -hmac s3cret -binary | base64, then base64 -w0 of "$I:$E:$SIG".
OPENSSL_2030 = ("MGY4ZmFkNWItZDljYi00NjlmLWExNjUtNzA4Njc3Mjg5NTBlOjIwMzAtMTItMzE6L25CUUN0MlBoRmwwWWlXbFlZQzZjdEx4TG5yVV"
                "NMNEpKZ0xEbnNIYzdqQT0=")
OPENSSL_NEVER = ("MGY4ZmFkNWItZDljYi00NjlmLWExNjUtNzA4Njc3Mjg5NTBlOm5ldmVyOlg3VVJvT0tQV0ZVNWhDZHE0c0k5NDZ5WWtDR2lhdERW"
                 "YkoxeEVwVGVkWG89")


def original_key(instance_id, expiry, secret):
    """The original generator, written out from the formula."""
    message = f"{instance_id}:{expiry}".encode()
    sig = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return base64.b64encode(f"{instance_id}:{expiry}:{sig}".encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_keys_match_the_original_generator_byte_for_byte():
    assert original_key(INSTANCE, "2030-12-31", SECRET) == OPENSSL_2030
    assert generate_license(INSTANCE, "2030-12-31", SECRET) == OPENSSL_2030
    assert generate_license(INSTANCE, "never", SECRET) == OPENSSL_NEVER
    assert generate_license(INSTANCE, date(2030, 12, 31), SECRET) == OPENSSL_2030
    for instance, expiry, secret in (("a", "never", "x"), ("host-1.example", "2024-02-29", "päss wörd"),
                                     ("A" * 256, "9999-12-31", "k" * 100)):
        assert generate_license(instance, expiry, secret) == original_key(instance, expiry, secret)


def test_valid_keys():
    today = date(2026, 6, 1)
    result = validate_license(OPENSSL_2030, INSTANCE, SECRET, today=today)
    assert result == LicenseResult(True, None, "2030-12-31", INSTANCE) and result
    assert validate_license(OPENSSL_NEVER, INSTANCE, SECRET, today=date(9999, 12, 31)).valid
    assert validate_license(OPENSSL_NEVER, INSTANCE, SECRET.encode()).valid  # secret as bytes
    assert validate_license(OPENSSL_2030 + "\n", INSTANCE, SECRET, today=today).valid  # a pasted newline
    assert validate_license(OPENSSL_2030.encode(), INSTANCE, SECRET, today=today).valid


def test_expiry_is_inclusive_in_utc():
    key = original_key(INSTANCE, "2026-03-10", SECRET)
    assert validate_license(key, INSTANCE, SECRET, today=date(2026, 3, 10)).valid
    assert validate_license(key, INSTANCE, SECRET, today="2026-03-10").valid
    late = datetime(2026, 3, 11, 0, 30, tzinfo=timezone.utc)
    expired = validate_license(key, INSTANCE, SECRET, today=late)
    assert expired == LicenseResult(False, "expired", "2026-03-10", INSTANCE) and not expired
    assert "2026-03-10" in expired.message
    future = original_key(INSTANCE, "2999-01-01", SECRET)
    assert validate_license(future, INSTANCE, SECRET).valid  # today defaults to now (UTC)
    assert validate_license(original_key(INSTANCE, "2001-01-01", SECRET), INSTANCE, SECRET).reason == "expired"


def test_wrong_instance_and_wrong_secret():
    assert validate_license(OPENSSL_NEVER, "another-instance", SECRET).reason == "instance"
    assert validate_license(OPENSSL_NEVER, INSTANCE, "not-the-secret").reason == "signature"
    # A key altered to extend its expiry keeps its old signature: caught.
    instance, expiry, sig = base64.b64decode(OPENSSL_2030).decode().split(":")
    assert validate_license(b64(f"{instance}:never:{sig}"), INSTANCE, SECRET).reason == "signature"


def test_the_order_is_format_instance_expiry_signature():
    old_other = original_key("other", "2001-01-01", "wrong")
    assert validate_license(old_other, INSTANCE, SECRET).reason == "instance"
    old_mine_wrong_secret = original_key(INSTANCE, "2001-01-01", "wrong")
    assert validate_license(old_mine_wrong_secret, INSTANCE, SECRET).reason == "expired"


GOOD_SIG = base64.b64encode(b"\x01" * 32).decode()
URLSAFE_SIG = base64.urlsafe_b64encode(b"\xff" * 32).decode()


@pytest.mark.parametrize("key", [
    "", "   ", "not base64 at all!", OPENSSL_2030[:-1], OPENSSL_2030.rstrip("="),     # padding gone
    OPENSSL_2030[:10] + "-" + OPENSSL_2030[11:],                                        # urlsafe char
    OPENSSL_2030[:40] + " " + OPENSSL_2030[40:],                                        # inner space
    "QQ==", "QR==",                                                                     # non-canonical bits
    b64(f"{INSTANCE}:never"), b64(INSTANCE), b64(f"{INSTANCE}:never:{GOOD_SIG}:x"),      # missing/extra parts
    b64(f":never:{GOOD_SIG}"), b64(f"{INSTANCE}::{GOOD_SIG}"), b64(f"{INSTANCE}:never:"),
    b64(f"{INSTANCE}:2030-02-30:{GOOD_SIG}"), b64(f"{INSTANCE}:2030-1-01:{GOOD_SIG}"),   # not a date
    b64(f"{INSTANCE}:Never:{GOOD_SIG}"), b64(f"{INSTANCE}:+2030-01-01:{GOOD_SIG}"),
    b64(f"{INSTANCE}:never:{GOOD_SIG.rstrip('=')}"),                                     # inner padding
    b64(f"{INSTANCE}:never:{base64.b64encode(b'x' * 31).decode()}"),                     # short digest
    b64(f"{INSTANCE}:never:{URLSAFE_SIG}"),
    base64.b64encode(b"\xff\xfe:never:" + GOOD_SIG.encode()).decode(),                   # not UTF-8
    b64(f"in stance:never:{GOOD_SIG}"), b64(f"in\x00stance:never:{GOOD_SIG}"),
    "A" * 2048, b64("A" * 300 + f":never:{GOOD_SIG}"),                                   # overlong
    None, 12345,
])
def test_malformed_keys_are_format_errors(key):
    result = validate_license(key, INSTANCE, SECRET)
    assert result == LicenseResult(False, "format") and result.message.startswith("not a licence key")


def test_generation_refuses_what_could_not_validate():
    for instance in ("", "a:b", "with space", "x" * 257):
        with pytest.raises(ValueError):
            generate_license(instance, "never", SECRET)
    for expiry in ("2030-02-30", "tomorrow", "2030/01/01", ""):
        with pytest.raises(ValueError):
            generate_license(INSTANCE, expiry, SECRET)
    with pytest.raises(ValueError):
        generate_license(INSTANCE, "never", "")
    with pytest.raises(ValueError):
        validate_license(OPENSSL_NEVER, INSTANCE, "")


class FakeKV:
    def __init__(self, data):
        self.data = data

    def get(self, key):
        return self.data.get(key)


class FakeCtx:
    def __init__(self, data):
        self.kv = FakeKV(data)


def test_license_key_reads_the_environment_first_then_kv():
    ctx = FakeCtx({"license_key": " from-kv \n"})
    assert license_key(ctx, {"TORU_LICENSE_KEY": "from-env"}) == "from-env"
    assert license_key(ctx, {"TORU_LICENSE_KEY": "  "}) == "from-kv"
    assert license_key(ctx, {}) == "from-kv"
    assert license_key(FakeCtx({}), {}) is None
    assert license_key(None, {}) is None
