"""Walking the audit chain from its start: the first broken link, or the count and the head hash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.audit.log import HEAD_ROW, entry_hash_of
from tutela.audit.models import GENESIS_HASH, AuditEntry, AuditHead

# Rows fetched per round trip while walking; the walk holds one entry at a time, not the log.
BATCH = 1000
# How far back a moved entry's predecessors are followed to find where it was written.
MAX_BACKTRACK = 1000


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The verdict on the chain. `head_hash` is what an operator records elsewhere as an anchor."""

    intact: bool
    count: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    problem: str | None = None
    anchor_found: bool | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "intact": self.intact,
            "count": self.count,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_at": self.broken_at,
            "problem": self.problem,
            "anchor_found": self.anchor_found,
        }


def verify_chain(session: Session, *, anchor: str | None = None) -> ChainReport:
    """Recompute every entry's hash and link in seq order; stop at the first that is wrong.

    `anchor` is a head hash recorded earlier: the chain must still contain it, which catches a
    rewrite of the whole tail (head row included) that the chain alone cannot show.
    """
    head = session.get(AuditHead, HEAD_ROW)
    if head is None:
        return ChainReport(False, 0, 0, GENESIS_HASH, 0, "the audit head row is missing")
    # Entries appended after the head was read belong to a later verification.
    head_seq, head_hash = head.seq, head.entry_hash
    anchor_found = None if anchor is None else anchor == GENESIS_HASH
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in _entries_up_to(session, head_seq):
        problem = _first_problem(session, entry, expected_seq, prev_hash)
        if problem is not None:
            broken_at, message = problem
            return ChainReport(False, count, head_seq, head_hash, broken_at, message, anchor_found)
        if anchor is not None and entry.entry_hash == anchor:
            anchor_found = True
        count += 1
        expected_seq, prev_hash = entry.seq + 1, entry.entry_hash
    if count < head_seq:
        return ChainReport(
            False, count, head_seq, head_hash, expected_seq,
            f"missing entries: the chain ends at seq {expected_seq - 1} but the head is at seq "
            f"{head_seq}",
            anchor_found,
        )  # fmt: skip
    if prev_hash != head_hash:
        return ChainReport(
            False, count, head_seq, head_hash, head_seq,
            f"the head hash does not match entry {head_seq}: the head row or the last entry was "
            "altered",
            anchor_found,
        )  # fmt: skip
    if anchor is not None and not anchor_found:
        return ChainReport(
            False, count, head_seq, head_hash, None,
            "the anchor hash is not in the chain: the log was rewritten after it was recorded",
            False,
        )  # fmt: skip
    return ChainReport(True, count, head_seq, head_hash, None, None, anchor_found)


def _entries_up_to(session: Session, head_seq: int) -> Iterator[AuditEntry]:
    """Entries in seq order, a batch per query (keyset pages: no cursor left open on early exit)."""
    after = None
    while True:
        query = select(AuditEntry).where(AuditEntry.seq <= head_seq)
        if after is not None:
            query = query.where(AuditEntry.seq > after)
        batch = session.scalars(query.order_by(AuditEntry.seq).limit(BATCH)).all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].seq
        # Walked entries are no longer needed; keep the session's identity map small.
        session.expunge_all()


def _first_problem(
    session: Session, entry: AuditEntry, expected_seq: int, prev_hash: str
) -> tuple[int, str] | None:
    """What is wrong at this point of the walk, as (seq, explanation), or None."""
    recomputed = entry_hash_of(entry)
    if recomputed != entry.entry_hash:
        moved_from = _true_position(session, entry)
        if moved_from is not None:
            return entry.seq, (
                f"reordered: the entry stored at seq {entry.seq} was written as seq {moved_from}"
            )
        return entry.seq, f"altered: entry {entry.seq} no longer matches its hash"
    if entry.seq != expected_seq:
        gap = (
            f"seq {expected_seq}"
            if entry.seq == expected_seq + 1
            else f"seq {expected_seq} to {entry.seq - 1}"
        )
        jump = f"the chain jumps from {expected_seq - 1} to {entry.seq}"
        return expected_seq, f"missing entry: {gap} ({jump})"
    if entry.prev_hash != prev_hash:
        return entry.seq, (
            f"broken link: entry {entry.seq} does not follow entry {entry.seq - 1}, which was "
            "altered or replaced"
        )
    return None


def _true_position(session: Session, entry: AuditEntry) -> int | None:
    """The seq an entry was written at, when its contents are intact but it now sits elsewhere:
    follow its predecessors back to one that is still where it was written, counting steps."""
    steps, prev_hash = 0, entry.prev_hash
    while steps < MAX_BACKTRACK:
        steps += 1
        if prev_hash == GENESIS_HASH:
            base = 0
            break
        predecessor = session.scalar(select(AuditEntry).where(AuditEntry.entry_hash == prev_hash))
        if predecessor is None:
            return None
        if entry_hash_of(predecessor) == predecessor.entry_hash:
            base = predecessor.seq
            break
        prev_hash = predecessor.prev_hash
    else:
        return None
    original = base + steps
    if original != entry.seq and entry_hash_of(entry, seq=original) == entry.entry_hash:
        return original
    return None
