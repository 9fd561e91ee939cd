"""Password policy and hashing.

Policy (NIST SP 800-63B, OWASP ASVS 5.0 — it deliberately replaces the
original design's upper/lower/digit/special rule): 12 to 256 characters, no
truncation, no composition rules; refused when it is one of the most common
passwords (Django's list, BSD, shipped in toru/data/), or contains the
username, "toru" or "admin".

Hashing is argon2id with argon2-cffi's defaults (they meet OWASP's minimum).
Both hashing and verifying run in a small thread pool of their own: argon2
releases the GIL, so the hub keeps serving. The pool is smaller than the
CPU count on purpose — each hash already runs 4 lanes in parallel, and with
gevent's default 10 threads, 50 concurrent logins starved the hub of CPU
(p99 of /api/health went from 4 ms to 570 ms, bench/login_bench.py).
"""

import gzip
import os
import secrets
from functools import lru_cache
from pathlib import Path

import argon2
from gevent.threadpool import ThreadPool

from toru.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 256
FORBIDDEN_WORDS = ("toru", "admin")
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"

_hasher = argon2.PasswordHasher()  # argon2id, library defaults
_pool = None
POOL_SIZE = max(1, (os.cpu_count() or 2) // 2)


@lru_cache(maxsize=1)
def common_passwords():
    # Only entries long enough to pass the length rule can matter.
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if len(line.strip()) >= MIN_LENGTH)


def policy_problem(password, username=""):
    """Why `password` is refused, or None when it is acceptable."""
    if not isinstance(password, str):
        return "Password must be a string"
    if len(password) < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters long"
    lowered = password.lower()
    if username and username.lower() in lowered:
        return "Password must not contain the username"
    for word in FORBIDDEN_WORDS:
        if word in lowered:
            return f'Password must not contain "{word}"'
    if lowered in common_passwords():
        return "This password is too common; choose another"
    return None


def check_policy(password, username=""):
    problem = policy_problem(password, username)
    if problem:
        raise Invalid(problem)


# The hash of a random password nobody knows, verified when a login names no
# real account so that it costs the same argon2 time as a wrong password.
# A constant: hashing one at every start would cost a start ~0.1-0.3 s.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$M0R44QM6xXt2StdbDr40gw$ZP0i5/9W6RTf0TFoGKttaJfmncGIKCY92Uw1jUa64/4"


def dummy_hash():
    global _DUMMY_HASH
    if needs_rehash(_DUMMY_HASH):  # the library's defaults moved: match them
        _DUMMY_HASH = hash_password(generate())
    return _DUMMY_HASH


def generate():
    """A strong random password for the generated admin account."""
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def _in_threadpool(fn, *args):
    global _pool
    if _pool is None:
        _pool = ThreadPool(POOL_SIZE)
    return _pool.apply(fn, args)


def hash_password(password):
    return _in_threadpool(_hasher.hash, password)


def verify(password_hash, password):
    """True when `password` matches; never raises for a wrong password."""
    def check():
        try:
            return _hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
    return _in_threadpool(check)


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)
