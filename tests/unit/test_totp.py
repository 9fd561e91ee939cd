"""TOTP (toru/accounts/totp.py) against the RFCs' own test vectors, and the
±1 step window the sign-in accepts. Times are passed in: no clock, no sleep."""

import base64
import hashlib

import pytest

from toru.accounts import totp

# RFC 6238 Appendix B: the seed of each mode is "1234567890" repeated to the
# digest's size (20, 32 and 64 bytes), codes are 8 digits.
SEEDS = {"sha1": b"12345678901234567890", "sha256": b"12345678901234567890123456789012",
         "sha512": b"1234567890123456789012345678901234567890123456789012345678901234"}
RFC6238 = [
    (59, "94287082", "sha1"), (59, "46119246", "sha256"), (59, "90693936", "sha512"),
    (1111111109, "07081804", "sha1"), (1111111109, "68084774", "sha256"), (1111111109, "25091201", "sha512"),
    (1111111111, "14050471", "sha1"), (1111111111, "67062674", "sha256"), (1111111111, "99943326", "sha512"),
    (1234567890, "89005924", "sha1"), (1234567890, "91819424", "sha256"), (1234567890, "93441116", "sha512"),
    (2000000000, "69279037", "sha1"), (2000000000, "90698825", "sha256"), (2000000000, "38618901", "sha512"),
    (20000000000, "65353130", "sha1"), (20000000000, "77737706", "sha256"), (20000000000, "47863826", "sha512"),
]
# RFC 4226 Appendix D: HOTP of the SHA-1 seed for counters 0..9, 6 digits.
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
KEY = SEEDS["sha1"]


@pytest.mark.parametrize("when, code, mode", RFC6238)
def test_rfc6238_vectors_with_8_digits(when, code, mode):
    assert totp.totp(SEEDS[mode], when, digits=8, digest=getattr(hashlib, mode)) == code


@pytest.mark.parametrize("when, code", [(w, c) for w, c, m in RFC6238 if m == "sha1"])
def test_the_6_digit_code_is_the_last_6_of_the_8(when, code):
    """What the sign-in uses: SHA-1, 6 digits (the truncation keeps the low digits)."""
    assert totp.totp(KEY, when) == code[-6:]


@pytest.mark.parametrize("counter, code", list(enumerate(RFC4226)))
def test_rfc4226_hotp_vectors(counter, code):
    assert totp.hotp(KEY, counter) == code


def test_steps_are_30_seconds_from_the_epoch():
    assert [totp.step_at(t) for t in (0, 29.999, 30, 59, 60)] == [0, 0, 1, 1, 2]
    assert totp.totp(KEY, 30) == totp.totp(KEY, 59.9) != totp.totp(KEY, 60)


def test_one_step_either_side_is_accepted_and_no_further():
    now = 1111111111  # step 37037037
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.hotp(KEY, step + offset)
        assert totp.matching_step(KEY, code, now) == step + offset
    for offset in (-3, -2, 2, 3):
        assert totp.matching_step(KEY, totp.hotp(KEY, step + offset), now) is None
    assert totp.matching_step(KEY, "000000" if totp.hotp(KEY, step) != "000000" else "111111", now) is None


def test_a_code_stays_valid_from_its_step_to_the_end_of_the_next():
    code = totp.totp(KEY, 90)  # step 3: 90..119
    assert [totp.matching_step(KEY, code, t) for t in (59.9, 60, 149.9, 150)] == [None, 3, 3, None]


def test_secrets_are_160_random_bits_in_base32():
    secret = totp.new_secret()
    assert len(secret) == 32 and secret == secret.upper() and "=" not in secret
    assert totp.secret_key(secret) == base64.b32decode(secret)
    assert len(totp.secret_key(secret)) == 20
    assert totp.new_secret() != secret
    # Typed by hand: lower case, spaces, no padding.
    spaced = " ".join(secret[i:i + 4] for i in range(0, 32, 4)).lower()
    assert totp.secret_key(spaced) == totp.secret_key(secret)


def test_otpauth_uri():
    uri = totp.otpauth_uri("JBSWY3DPEHPK3PXP", "ann@example.org", "Toru")
    assert uri == "otpauth://totp/Toru:ann@example.org?secret=JBSWY3DPEHPK3PXP&issuer=Toru"
    assert totp.otpauth_uri("JBSWY3DPEHPK3PXP", "a b/c", "Toru").startswith("otpauth://totp/Toru:a%20b%2Fc?")
