"""A signal value is parsed by its signal type and nowhere else (tutela.signals): the centre's
report intake and victims' requests, the items of an order, the HMA comparison and vPDQ frames
all come to the same answer as the type's own `validate`, `check_canonical` and `distance`."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
import pytest

from tutela.api.hma import compare_pair
from tutela.centre.intake import _hashes as report_hashes
from tutela.centre.victims import _hashes as victim_hashes
from tutela.errors import InvalidHash, InvalidInput
from tutela.orders.documents import _item as ordered_item
from tutela.signals.base import SignalType, hex_rows
from tutela.signals.exact import Md5Signal, Sha256Signal
from tutela.signals.pdq import PdqSignal
from tutela.signals.vpdq import parse_vpdq

PDQ = "f" * 32 + "0" * 32
NEAR = "f" * 31 + "e" + "0" * 32
SHA256 = "ab" * 32


def test_check_canonical_takes_the_canonical_form_only() -> None:
    assert PdqSignal.check_canonical(PDQ) == PDQ
    for written in (PDQ.upper(), f" {PDQ}", PDQ[:-1], PDQ[:-1] + "g"):
        with pytest.raises(InvalidHash):
            PdqSignal.check_canonical(written)


def report(kind: str, value: str) -> dict[str, Any]:
    return {"content": {"hashes": [{"signal_type": kind, "value": value}]}}


@pytest.mark.parametrize("kind", ["pdq", "sha256"])
def test_a_report_carries_known_hashes_in_canonical_form(kind: str) -> None:
    value = PDQ if kind == "pdq" else SHA256
    assert report_hashes(report(kind, value)) == [(kind, value)]
    assert report_hashes(report(kind, value.upper())) == [(kind, value)]  # hex in either case
    for written in (f" {value}", value[:-2], value[:-1] + "g"):
        with pytest.raises(InvalidInput):
            report_hashes(report(kind, written))


def test_a_victims_request_takes_hashes_as_their_types_read_them() -> None:
    hashes = [
        {"signal_type": "pdq", "value": PDQ.upper()},
        {"signal_type": "sha256", "value": SHA256},
    ]
    assert victim_hashes(hashes) == [("pdq", PDQ), ("sha256", SHA256)]
    with pytest.raises(InvalidHash):
        victim_hashes([{"signal_type": "md5", "value": SHA256}])
    with pytest.raises(InvalidInput, match="signal_type is one of"):
        victim_hashes([{"signal_type": "tmk", "value": SHA256}])


def test_an_ordered_item_names_a_sha256_in_canonical_form() -> None:
    assert ordered_item({"sha256": SHA256}, 0).sha256 == SHA256
    with pytest.raises(InvalidInput, match="item 1: sha256"):
        ordered_item({"sha256": SHA256.upper()}, 1)


def test_the_hma_comparison_is_the_types_distance() -> None:
    assert compare_pair("pdq", [PDQ, NEAR]) == [True, {"distance": PdqSignal.distance(PDQ, NEAR)}]
    assert compare_pair("sha256", [SHA256, SHA256]) == [True, {"distance": 0}]
    assert compare_pair("sha256", [SHA256, "cd" * 32]) == [False, {"distance": 1}]


def test_a_vpdq_frame_holds_a_pdq_value_as_pdq_reads_it() -> None:
    (frame,) = parse_vpdq(f"0,100,{PDQ.upper()},0.000\n")
    assert frame.hash == PDQ
    with pytest.raises(InvalidHash, match="frame 1: the PDQ hash is not 64 hex digits"):
        parse_vpdq(f"0,100,{PDQ[:-1]}x,0.000\n")


@pytest.mark.parametrize("kind", [PdqSignal, Md5Signal, Sha256Signal])
def test_a_batch_of_bare_hex_values_decodes_to_the_bytes_each_value_validates_to(
    kind: type[SignalType],
) -> None:
    values = [secrets.token_hex(kind.hex_length // 2) for _ in range(50)]
    values[7] = values[7].upper()
    rows = hex_rows(values, kind.hex_length)
    assert rows is not None and rows.dtype == np.uint8
    assert [row.tobytes() for row in rows] == [bytes.fromhex(kind.validate(v)) for v in values]


def test_a_batch_with_any_value_not_bare_hex_of_the_length_is_left_to_validate() -> None:
    # None: the caller validates one by one, which names the bad value or strips a good one.
    for odd in (f" {PDQ[1:]}", PDQ[:-1], PDQ + "0", PDQ[:-1] + "g", PDQ[:-2] + " 0", "é" * 64):
        assert hex_rows([PDQ, odd], 64) is None
    assert hex_rows([], 64) is not None and hex_rows([], 64).shape == (0, 32)  # type: ignore[union-attr]
