"""The SignalType interface: how one kind of hash is named, written as text, validated and compared."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from tutela.errors import InvalidHash

# Hex digits only: bytes.fromhex would skip inner whitespace, and a hash has none.
_HEX = re.compile(r"[0-9a-f]*")
# Each byte's value as a hex digit (either case), 16 for a byte that is not one.
_NIBBLES = np.full(256, 16, np.uint8)
for _value, _digit in enumerate(b"0123456789abcdef"):
    _NIBBLES[_digit] = _value
for _value, _digit in enumerate(b"ABCDEF", start=10):
    _NIBBLES[_digit] = _value


class SignalType(ABC):
    """One kind of signal (hash). Subclasses carry a stable `name` used as a storage key.

    Values are canonical lower-case hex strings in the field's usual text form, so lists exchanged
    with HMA, NCMEC, StopNCII and ThreatExchange load unchanged.
    """

    name: ClassVar[str]
    hex_length: ClassVar[int]
    # Largest distance at which two values are treated as a match by default.
    default_threshold: ClassVar[int] = 0
    # True when nearby values (not only equal ones) mean the same content.
    perceptual: ClassVar[bool] = False

    @classmethod
    def validate(cls, text: str) -> str:
        """Return the canonical form of `text`, or raise InvalidHash saying what is wrong."""
        value = text.strip().lower()
        if len(value) != cls.hex_length:
            raise InvalidHash(
                f"{cls.name} hash must be {cls.hex_length} hex characters, got {len(value)}"
            )
        if _HEX.fullmatch(value) is None:
            raise InvalidHash(f"{cls.name} hash must be hexadecimal")
        return value

    @classmethod
    def check_canonical(cls, text: str) -> str:
        """`text` if it is already in canonical form (as a signed document carries it: lower-case
        hex, nothing around it), else InvalidHash: a value that is not its own canonical form
        would be stored as other bytes than were signed."""
        value = cls.validate(text)
        if value != text:
            raise InvalidHash(f"{cls.name} hash must be written in lower-case hex")
        return value

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance between two canonical values; 0 means equal."""


def hex_rows(values: Sequence[str], hex_length: int) -> np.ndarray | None:
    """Values of exactly `hex_length` hex digits each (either case, nothing around them) as rows
    of uint8 bytes, decoded in one pass for a batch; None when any value is not of that form, for
    the caller to validate them one by one (naming the bad one, or stripping what surrounds a
    good one, as `SignalType.validate` does)."""
    if not values:
        return np.zeros((0, hex_length // 2), np.uint8)
    if set(map(len, values)) != {hex_length}:
        return None
    try:
        digits = "".join(values).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    nibbles = _NIBBLES[np.frombuffer(digits, np.uint8)]
    if int(nibbles.max()) > 15:
        return None
    pairs = nibbles.reshape(len(values), hex_length // 2, 2)
    rows: np.ndarray = (pairs[:, :, 0] << 4) | pairs[:, :, 1]
    return rows


def hamming_hex(a: str, b: str) -> int:
    """Number of differing bits between two hex strings of equal length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
