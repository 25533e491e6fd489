"""What the Matcher keeps beside its indices: each bank's rule, and which bank and signal type
every indexed indicator belongs to (so that an index hit becomes a MatchResult)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tutela.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class BankRule:
    name: str
    pdq_threshold: int
    review_distance: int | None
    # Also matched with the query's robust variants (trimmed frames, small rotations undone).
    robust: bool = False
    # vPDQ: shares (percent) of the query's and of the banked video's frames that must match.
    vpdq_query_match: float = 80.0
    vpdq_compared_match: float = 0.0

    @property
    def radius(self) -> int:
        return max(self.pdq_threshold, self.review_distance or 0)


class EntryTable:
    """Indicator id → (bank id, signal type) in two flat arrays indexed by id.

    Indicator ids are dense and never reused, so arrays cost ~5 bytes per id ever issued, where a
    dict of tuples costs ~150 bytes per entry: 50 MB rather than 1.5 GB at 10 M indicators.
    """

    def __init__(self) -> None:
        self._banks = np.zeros(0, dtype=np.int32)  # 0: not indexed (bank ids start at 1)
        self._types = np.zeros(0, dtype=np.int8)
        self._type_names: list[str] = []
        self._count = 0
        # The arrays are another table's too (see fork).
        self._shared = False

    def __len__(self) -> int:
        return self._count

    def __contains__(self, ident: int) -> bool:
        return 0 <= ident < len(self._banks) and self._banks[ident] != 0

    def bank_of(self, ident: int) -> int:
        return int(self._banks[ident]) if ident in self else 0

    def signal_type_of(self, ident: int) -> str | None:
        return self._type_names[int(self._types[ident])] if ident in self else None

    def ids_of_type(self, signal_type: str) -> list[int]:
        if signal_type not in self._type_names:
            return []
        code = self._type_names.index(signal_type)
        return [int(i) for i in np.flatnonzero((self._banks != 0) & (self._types == code))]

    def fork(self) -> EntryTable:
        """A table equal to this one that may change while this one is read, as long as this one
        no longer changes. It shares the arrays while it only fills ids this table does not hold
        (the ones its readers never ask about) and copies them before it changes any other."""
        twin = EntryTable()
        twin._banks, twin._types, twin._count = self._banks, self._types, self._count
        twin._type_names = list(self._type_names)
        twin._shared = True
        return twin

    def put_many(self, ids: np.ndarray, bank_ids: np.ndarray, signal_type: str) -> None:
        """Record distinct ids, all of one signal type, each with its bank."""
        if len(ids) == 0:
            return
        top = int(ids.max())
        if top >= len(self._banks):
            size = max(top + 1, len(self._banks) * 3 // 2, 1024)
            self._banks = _grown(self._banks, size)
            self._types = _grown(self._types, size)
            self._shared = False
        elif self._shared and np.any(self._banks[ids] != 0):
            self._unshare()
        self._count += int(np.count_nonzero(self._banks[ids] == 0))
        self._banks[ids] = bank_ids
        self._types[ids] = self._type_code(signal_type)

    def pop(self, ident: int) -> str | None:
        """Forget an id; return its signal type, or None when it was not indexed."""
        if ident not in self:
            return None
        if self._shared:
            self._unshare()
        self._banks[ident] = 0
        self._count -= 1
        return self._type_names[int(self._types[ident])]

    def ids_of_bank(self, bank_id: int) -> list[int]:
        return [int(i) for i in np.flatnonzero(self._banks == bank_id)]

    def bank_ids(self) -> set[int]:
        # Counting, not np.unique: bank ids are small, and sorting 10 M ids took ~0.6 s of start-up.
        if len(self._banks) == 0:
            return set()
        return {int(b) for b in np.flatnonzero(np.bincount(self._banks))} - {0}

    def counts_by_type(self) -> dict[str, int]:
        """How many indexed ids carry each signal type."""
        codes = self._types[self._banks != 0]
        counted = np.bincount(codes.astype(np.int64), minlength=len(self._type_names))
        return {name: int(counted[code]) for code, name in enumerate(self._type_names)}

    # -- snapshots ------------------------------------------------------------------------------

    @property
    def type_names(self) -> list[str]:
        return list(self._type_names)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(banks, types) up to the highest indexed id: what a snapshot stores."""
        used = np.flatnonzero(self._banks)
        end = int(used[-1]) + 1 if len(used) else 0
        return self._banks[:end], self._types[:end]

    @classmethod
    def from_arrays(cls, banks: np.ndarray, types: np.ndarray, type_names: list[str]) -> EntryTable:
        """The table a snapshot stored; InvalidInput when its arrays cannot be one."""
        if banks.dtype != np.int32 or types.dtype != np.int8 or banks.shape != types.shape:
            raise InvalidInput("entry arrays have the wrong type or shape")
        if banks.ndim != 1 or len(set(type_names)) != len(type_names):
            raise InvalidInput("entry arrays are not a table")
        indexed = banks != 0
        if np.any(banks < 0) or np.any(indexed & ((types < 0) | (types >= len(type_names)))):
            raise InvalidInput("entry arrays hold an unknown bank or signal type")
        table = cls()
        table._banks = np.array(banks, np.int32)  # a private, writable copy
        table._types = np.array(types, np.int8)
        table._type_names = list(type_names)
        table._count = int(np.count_nonzero(indexed))
        return table

    def _unshare(self) -> None:
        self._banks, self._types = self._banks.copy(), self._types.copy()
        self._shared = False

    def _type_code(self, signal_type: str) -> int:
        if signal_type not in self._type_names:
            if len(self._type_names) >= np.iinfo(np.int8).max:
                raise InvalidInput("too many signal types for the matcher's entry table")
            self._type_names.append(signal_type)
        return self._type_names.index(signal_type)


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=array.dtype)
    out[: len(array)] = array
    return out
