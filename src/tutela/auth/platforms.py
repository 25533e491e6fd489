"""Platforms: the tenants of a provider node. Every API key belongs to one, and so does every
object its requests create (items, cases, webhooks, complaints, webhook deliveries); a key sees
and changes only its own platform's objects."""

from __future__ import annotations

import re

from tutela.errors import InvalidInput

# What rows written before platforms existed (migration 0008), and keys created without one that
# take their own name, belong to when nothing else is said.
DEFAULT_PLATFORM = "default"
PLATFORM_MAX = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_platform(name: str) -> str:
    """`name` if it is a valid platform name (as API key names: 1-64 letters, digits, _.-)."""
    if not _NAME.match(name):
        raise InvalidInput(f"platform name must be 1-{PLATFORM_MAX} letters, digits or _.-")
    return name
