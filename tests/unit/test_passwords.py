"""Password hashing helpers (the policy is tested through the API)."""

import argon2

from toru.accounts import passwords


def test_the_dummy_hash_costs_what_a_real_one_costs():
    # Same algorithm and parameters as a fresh hash, so verifying it for an
    # unknown user takes as long as verifying a real user's password.
    assert not passwords.needs_rehash(passwords.dummy_hash())
    assert passwords.dummy_hash().split("$")[1:4] == argon2.PasswordHasher().hash("x").split("$")[1:4]


def test_hash_and_verify_round_trip():
    stored = passwords.hash_password("a long enough secret")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "a long enough secret")
    assert not passwords.verify(stored, "a long enough secreT")
    assert not passwords.verify("not a hash", "anything")


def test_common_list_keeps_only_entries_the_length_rule_lets_through():
    common = passwords.common_passwords()
    assert common and all(len(p) >= passwords.MIN_LENGTH for p in common)
    assert "1q2w3e4r5t6y" in common
