"""Indicator variants in the Matcher: an indicator's further PDQs (tutela.indicators.variants)
are codes of the one PDQ index under the indicator's id, so a query near any of them finds the
indicator at its nearest code (the index reports each id once). Only for a hit on an indicator
that has variants is the query compared with that indicator's few codes again, to name the
variant that matched: the path of a query with no candidate is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tutela.errors import InvalidInput
from tutela.signals.pdq import DIHEDRAL_NAMES

CODE_BYTES = 32
# What a match names when the query's own hash (not a query variant) matched.
ORIGINAL = DIHEDRAL_NAMES[0]


@dataclass(frozen=True, slots=True)
class VariantSet:
    """An indicator's own PDQ (row 0, named "") and its variants' (rows 1…), (n, 32) uint8."""

    names: tuple[str, ...]
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, query: np.ndarray) -> str:
        """The name of the code nearest to one query code ("" for the indicator's own hash;
        ties go to it, then to the first variant)."""
        q = np.ascontiguousarray(query, np.uint8).view(np.uint64)
        d = np.bitwise_count(self.codes.view(np.uint64) ^ q).sum(axis=1)
        return self.names[int(np.argmin(d))]


def variant_set(value: str, variants: tuple[tuple[str, str], ...]) -> VariantSet:
    """An indicator's set from its own PDQ hex and its (name, hex) variants."""
    joined = value + "".join(v for _, v in variants)
    codes = np.frombuffer(bytes.fromhex(joined), np.uint8).reshape(-1, CODE_BYTES).copy()
    return VariantSet(("", *(name for name, _ in variants)), codes)


def match_variant(query_variant: str | None, indicator_variant: str) -> str | None:
    """What a match names: the query's variant (None: its own hash), and after a "/" the
    indicator's variant when one of those, not its own hash, was nearest."""
    if not indicator_variant:
        return query_variant
    if query_variant is None or query_variant == ORIGINAL:
        return indicator_variant
    return f"{query_variant}/{indicator_variant}"


# -- snapshots ----------------------------------------------------------------------------------


def pack(sets: Mapping[int, VariantSet]) -> tuple[list[str], dict[str, np.ndarray]]:
    """(name table, arrays) for the snapshot: per code its id, name (index into the table) and
    code, sets in id order, each its own hash first."""
    names: dict[str, int] = {}
    ids, name_codes, codes = [], [], []
    for ident in sorted(sets):
        found = sets[ident]
        ids.append(np.full(len(found), ident, np.int64))
        name_codes.append(
            np.array([names.setdefault(n, len(names)) for n in found.names], np.int32)
        )
        codes.append(found.codes)
    if not ids:
        return [], {
            "variant_ids": np.zeros(0, np.int64),
            "variant_names": np.zeros(0, np.int32),
            "variant_codes": np.zeros((0, CODE_BYTES), np.uint8),
        }
    return list(names), {
        "variant_ids": np.concatenate(ids),
        "variant_names": np.concatenate(name_codes),
        "variant_codes": np.concatenate(codes),
    }


def unpack(table: list[str], arrays: Mapping[str, np.ndarray]) -> dict[int, VariantSet]:
    """The sets `pack` stored; InvalidInput when the arrays cannot be them."""
    ids = arrays.get("variant_ids")
    name_codes = arrays.get("variant_names")
    codes = arrays.get("variant_codes")
    if ids is None or name_codes is None or codes is None:
        return {}  # a snapshot written before variants existed held none
    if (
        ids.dtype != np.int64
        or name_codes.dtype != np.int32
        or codes.dtype != np.uint8
        or codes.shape != (len(ids), CODE_BYTES)
        or name_codes.shape != ids.shape
        or (
            len(name_codes) and not 0 <= int(name_codes.min()) <= int(name_codes.max()) < len(table)
        )
    ):
        raise InvalidInput("its indicator variants are damaged")
    out: dict[int, VariantSet] = {}
    if not len(ids):
        return out
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        ident = int(ids[lo])
        if ident in out or table[int(name_codes[lo])] != "":
            raise InvalidInput("its indicator variants are damaged")
        names = tuple(table[int(c)] for c in name_codes[lo:hi])
        out[ident] = VariantSet(names, np.array(codes[lo:hi], np.uint8))
    return out
