"""ExactIndex: ids by exact digest (MD5, SHA-1, SHA-256), compact at 10 M, with snapshots.

Digests are uniformly random, so their first 8 bytes already tell almost all apart: a sorted
uint64 key array is searched and the full digest compared only on the (nearly always single) hit.
Recent adds wait in a small dict until they are folded into the sorted arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from tutela.errors import InvalidInput
from tutela.matching.arguments import check_ids
from tutela.matching.snapshot import read_snapshot, write_snapshot

_KEY_BYTES: Final = 8
# Batches this big go straight into the sorted arrays, and the dict is folded in once it holds
# this many digests: a fold re-sorts everything (~1 s at 10 M), the dict costs ~150 B a digest.
_FOLD_AT: Final = 65536
_MAGIC: Final = b"TUTEXIDX"
_VERSION: Final = 1


class ExactIndex:
    """Exact digest → ids lookup. An id may carry several digests and a digest several ids."""

    def __init__(self, digest_size: int) -> None:
        if isinstance(digest_size, bool) or not isinstance(digest_size, int):
            raise InvalidInput("digest_size must be an integer")
        if not 1 <= digest_size <= 64:
            raise InvalidInput(f"digest_size must be between 1 and 64 bytes, got {digest_size}")
        self.digest_size = digest_size
        # Sorted by key; rows removed are masked, not moved.
        self._keys = np.zeros(0, np.uint64)
        self._digests = np.zeros((0, digest_size), np.uint8)
        self._ids = np.zeros(0, np.int64)
        self._alive = np.zeros(0, np.uint8)
        self._recent: dict[bytes, list[int]] = {}
        self._recent_by_id: dict[int, list[bytes]] = {}  # so remove() need not walk _recent
        self._recent_count = 0
        self._perm: np.ndarray | None = None  # argsort of _ids, built on first remove
        # The alive mask and the recent dicts are another index's too (see fork).
        self._shared = False

    def __len__(self) -> int:
        return int(np.count_nonzero(self._alive)) + self._recent_count

    def memory_bytes(self) -> int:
        total = self._keys.nbytes + self._digests.nbytes + self._ids.nbytes + self._alive.nbytes
        if self._perm is not None:
            total += self._perm.nbytes
        # A dict entry costs roughly a key object, a list and its int objects.
        return int(total + self._recent_count * (150 + self.digest_size))

    def fork(self) -> ExactIndex:
        """An index equal to this one that may change while this one is queried, as long as this
        one no longer changes: it shares the arrays (a fold replaces them) and copies the alive
        mask and the recent digests before it first changes them."""
        twin = ExactIndex.__new__(ExactIndex)
        twin.__dict__.update(self.__dict__)
        twin._shared = True
        return twin

    def add(self, ids: Any, digests: Any) -> None:
        id_array = check_ids(ids)
        rows = self._check_digests(digests)
        if len(id_array) != len(rows):
            raise InvalidInput(f"got {len(id_array)} ids for {len(rows)} digests")
        if len(rows) >= _FOLD_AT:
            self._fold(rows, id_array)
            return
        self._unshare()
        for digest, id_ in zip(_as_bytes(rows), id_array.tolist(), strict=True):
            self._recent.setdefault(digest, []).append(id_)
            self._recent_by_id.setdefault(id_, []).append(digest)
        self._recent_count += len(rows)
        if self._recent_count >= _FOLD_AT:
            self._fold(np.zeros((0, self.digest_size), np.uint8), np.zeros(0, np.int64))

    def remove(self, ids: Any) -> int:
        """Forget every digest of these ids; return how many (digest, id) pairs were live."""
        targets = np.unique(check_ids(ids))
        removed = 0
        self._unshare()
        if len(targets) and len(self._ids):
            if self._perm is None:
                self._perm = np.argsort(self._ids, kind="stable")
            lo = np.searchsorted(self._ids, targets, side="left", sorter=self._perm)
            hi = np.searchsorted(self._ids, targets, side="right", sorter=self._perm)
            counts = hi - lo
            starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
            rows = self._perm[starts + np.arange(int(counts.sum()))]
            rows = rows[self._alive[rows] != 0]
            self._alive[rows] = 0
            removed += len(rows)
        for id_ in targets.tolist():
            for digest in self._recent_by_id.pop(id_, ()):
                carriers = self._recent[digest]
                carriers.remove(id_)
                if not carriers:
                    del self._recent[digest]
                removed += 1
                self._recent_count -= 1
        return removed

    def query(self, digests: Any) -> list[list[int]]:
        """For each digest, the sorted ids that carry it (empty when none)."""
        rows = self._check_digests(digests)
        keys = _keys_of(rows)
        lo = np.searchsorted(self._keys, keys, side="left").tolist()
        hi = np.searchsorted(self._keys, keys, side="right").tolist()
        results: list[list[int]] = []
        for i, digest in enumerate(_as_bytes(rows)):
            found = set(self._recent.get(digest, ()))
            for row in range(lo[i], hi[i]):
                # Equal 8-byte keys still need the whole digest compared.
                if self._alive[row] and self._digests[row].tobytes() == digest:
                    found.add(int(self._ids[row]))
            results.append(sorted(found))
        return results

    def save(self, path: Path) -> None:
        self._fold(np.zeros((0, self.digest_size), np.uint8), np.zeros(0, np.int64))
        write_snapshot(
            Path(path),
            _MAGIC,
            _VERSION,
            {"digest_size": self.digest_size, "count": len(self._keys)},
            {"digests": self._digests, "ids": self._ids},
        )

    @classmethod
    def load(cls, path: Path) -> ExactIndex:
        path = Path(path)
        meta, arrays = read_snapshot(path, _MAGIC, _VERSION, mmap=False)
        try:
            size, count = meta["digest_size"], meta["count"]
            index = cls(size)
            digests, ids = arrays["digests"], arrays["ids"]
            if digests.shape != (count, size) or ids.shape != (count,):
                raise ValueError("arrays disagree with the header")
            if digests.dtype != np.uint8 or ids.dtype != np.int64:
                raise ValueError("arrays have the wrong dtype")
        except (KeyError, TypeError, ValueError, InvalidInput) as exc:
            raise InvalidInput(f"{path.name}: snapshot is inconsistent ({exc})") from None
        keys = _keys_of(digests)
        if np.any(keys[1:] < keys[:-1]):
            raise InvalidInput(f"{path.name}: snapshot is inconsistent (digests are not sorted)")
        index._keys, index._digests, index._ids = keys, digests, ids
        index._alive = np.ones(count, np.uint8)
        return index

    # -- internals ------------------------------------------------------------------------------

    def _check_digests(self, digests: Any) -> np.ndarray:
        """Accept a uint8 (n, digest_size) array or a sequence of bytes; return the array."""
        k = self.digest_size
        if isinstance(digests, np.ndarray):
            if digests.dtype != np.uint8 or digests.ndim != 2 or digests.shape[1] != k:
                raise InvalidInput(f"digests must be a uint8 array of shape (n, {k})")
            return np.ascontiguousarray(digests)
        if isinstance(digests, bytes | str) or not isinstance(digests, Sequence | Iterable):
            raise InvalidInput("digests must be a sequence of bytes or a uint8 array")
        items = list(digests)
        for item in items:
            if not isinstance(item, bytes | bytearray) or len(item) != k:
                raise InvalidInput(f"each digest must be {k} bytes")
        if not items:
            return np.zeros((0, k), np.uint8)
        return np.frombuffer(b"".join(items), np.uint8).reshape(len(items), k).copy()

    def _fold(self, rows: np.ndarray, ids: np.ndarray) -> None:
        """Merge the recent dict and (rows, ids) into the sorted arrays, dropping removed rows."""
        recent_rows, recent_ids = self._recent_arrays()
        live = self._alive != 0
        digests = np.concatenate([self._digests[live], recent_rows, rows])
        all_ids = np.concatenate([self._ids[live], recent_ids, ids])
        keys = _keys_of(digests)
        order = np.argsort(keys, kind="stable")
        self._keys, self._digests, self._ids = keys[order], digests[order], all_ids[order]
        self._alive = np.ones(len(keys), np.uint8)
        self._recent, self._recent_by_id, self._recent_count, self._perm = {}, {}, 0, None
        self._shared = False

    def _unshare(self) -> None:
        """Copies of what add() and remove() change in place, when another index shares them."""
        if not self._shared:
            return
        self._alive = self._alive.copy()
        self._recent = {digest: list(ids) for digest, ids in self._recent.items()}
        self._recent_by_id = {id_: list(ds) for id_, ds in self._recent_by_id.items()}
        self._shared = False

    def _recent_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(digest, id_) for digest, ids in self._recent.items() for id_ in ids]
        if not pairs:
            return np.zeros((0, self.digest_size), np.uint8), np.zeros(0, np.int64)
        raw = b"".join(digest for digest, _ in pairs)
        rows = np.frombuffer(raw, np.uint8).reshape(len(pairs), self.digest_size)
        return rows, np.array([id_ for _, id_ in pairs], np.int64)


def _keys_of(rows: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each digest (zero-padded) as a big-endian uint64 sort key."""
    padded = np.zeros((len(rows), _KEY_BYTES), np.uint8)
    width = min(_KEY_BYTES, rows.shape[1])
    padded[:, :width] = rows[:, :width]
    return padded.view(">u8").ravel().astype(np.uint64)


def _as_bytes(rows: np.ndarray) -> list[bytes]:
    raw = rows.tobytes()
    k = rows.shape[1]
    return [raw[i : i + k] for i in range(0, len(raw), k)]
