"""Password rules and hashing: argon2id, with a minimum length and no other composition rules."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tutela.errors import InvalidInput

MIN_LENGTH = 12
# Bounded so that hashing a hostile multi-megabyte "password" cannot tie up a worker.
MAX_LENGTH = 1024


def check_password_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such account) a dummy is checked instead, so
    that the time taken does not tell which account names exist."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password[:MAX_LENGTH]) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher().hash("tutela-dummy-password-for-constant-time")
