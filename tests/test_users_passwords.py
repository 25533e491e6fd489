"""Passwords: argon2id with the RFC 9106 parameters argon2-cffi ships, verified safely."""

from __future__ import annotations

from tutela.auth.passwords import hash_password, verify_password

PASSWORD = "correct horse battery"


def test_passwords_are_hashed_with_argon2id_at_full_cost() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, PASSWORD)


def test_a_wrong_password_or_a_missing_account_does_not_verify() -> None:
    stored = hash_password(PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not a hash", PASSWORD)
