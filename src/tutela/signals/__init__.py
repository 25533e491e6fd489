"""Engine layer: pixels and bytes → signals (PDQ, MD5, SHA-1, SHA-256), with stable names."""

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
