"""Engine layer: pixels and bytes → signals (PDQ, MD5, SHA-1, SHA-256), with stable names.

The names below load their module on first use: a decoding worker that imports
`tutela.signals.hashing` does not also load the plug-in registry (importlib.metadata).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tutela.signals.base import SignalType
    from tutela.signals.hashing import MediaSignals, hash_file, hash_media, pdq_of_bytes
    from tutela.signals.pdq import PdqHash, PdqMode, PdqSignal, pdq_of_pixels
    from tutela.signals.registry import get_signal_type, signal_types

__all__ = [
    "MediaSignals",
    "PdqHash",
    "PdqMode",
    "PdqSignal",
    "SignalType",
    "get_signal_type",
    "hash_file",
    "hash_media",
    "pdq_of_bytes",
    "pdq_of_pixels",
    "signal_types",
]

_HOMES = {
    "SignalType": "base",
    "MediaSignals": "hashing",
    "hash_file": "hashing",
    "hash_media": "hashing",
    "pdq_of_bytes": "hashing",
    "PdqHash": "pdq",
    "PdqMode": "pdq",
    "PdqSignal": "pdq",
    "pdq_of_pixels": "pdq",
    "get_signal_type": "registry",
    "signal_types": "registry",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
