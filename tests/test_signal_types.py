"""Signal types: stable names from entry points, canonical hex forms, clear errors."""

from __future__ import annotations

import pytest

from tutela.errors import InvalidHash, InvalidInput
from tutela.signals import get_signal_type, signal_types
from tutela.signals.pdq import PdqSignal, pdq_bytes


def test_built_in_signal_types_register_under_their_stable_names() -> None:
    assert {"pdq", "md5", "sha1", "sha256"} <= set(signal_types())
    for name, cls in signal_types().items():
        assert cls.name == name


@pytest.mark.parametrize(
    ("name", "length"), [("pdq", 64), ("md5", 32), ("sha1", 40), ("sha256", 64)]
)
def test_values_are_canonical_lower_case_hex_of_the_fields_length(name: str, length: int) -> None:
    signal = get_signal_type(name)
    assert signal.validate(" " + "AB" * (length // 2) + "\n") == "ab" * (length // 2)
    with pytest.raises(InvalidHash, match=f"{length} hex characters"):
        signal.validate("ab" * (length // 2 - 1))
    with pytest.raises(InvalidHash, match="hexadecimal"):
        signal.validate("zz" * (length // 2))
    with pytest.raises(InvalidHash, match="hexadecimal"):
        signal.validate("ab" * (length // 2 - 1) + " a")


def test_pdq_distance_is_hamming_and_exact_distance_is_equality() -> None:
    a = "f" * 64
    b = "e" + "f" * 63
    assert PdqSignal.distance(a, b) == 1
    assert get_signal_type("md5").distance("a" * 32, "a" * 32) == 0
    assert get_signal_type("md5").distance("a" * 32, "b" * 32) == 1
    assert pdq_bytes(a) == b"\xff" * 32


def test_unknown_signal_type_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="known: md5, pdq, sha1, sha256"):
        get_signal_type("photodna")
