"""Exact (cryptographic) hashes of the file bytes: MD5, SHA-1, SHA-256."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from tutela.signals.base import SignalType


class ExactSignal(SignalType):
    """A hash of the exact bytes: equal or not, nothing in between."""

    algorithm: ClassVar[str]

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else 1

    @classmethod
    def of_bytes(cls, data: bytes) -> str:
        return hashlib.new(cls.algorithm, data).hexdigest()


class Md5Signal(ExactSignal):
    name = "md5"
    algorithm = "md5"
    hex_length = 32


class Sha1Signal(ExactSignal):
    name = "sha1"
    algorithm = "sha1"
    hex_length = 40


class Sha256Signal(ExactSignal):
    name = "sha256"
    algorithm = "sha256"
    hex_length = 64


EXACT_SIGNALS: tuple[type[ExactSignal], ...] = (Md5Signal, Sha1Signal, Sha256Signal)
