"""A fixture that makes argon2 cheap, for tests that sign in many times: the production
parameters cost about a quarter of a second per hash, by design."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from tutela.auth import passwords

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    yield
    passwords._dummy_hash.cache_clear()
