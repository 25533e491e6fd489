"""Indicator variants: a small set of further PDQs stored with a PDQ indicator (the standard crops
of the image it was made from, tutela.signals.crops), so that crops of that image match it.

They are written in the transaction that writes the indicator (or, for one already banked, with
an `update` change row), so a matcher that follows the change finds them; they travel with the
indicator in exports (JSON Lines' `variants`; CSV's and HMA's `variants` column) and in the
centre's feed. Each variant is one more code in the PDQ index, under the indicator's id: every one counts in the false-match
budget, which is why a set is small (MAX_VARIANTS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.errors import InvalidInput
from tutela.indicators.changes import ChangeOp, record_indicator_changes
from tutela.indicators.models import Bank, Indicator
from tutela.indicators.variant_models import IndicatorVariants
from tutela.signals.pdq import PdqSignal

# At most this many variants per indicator (the standard crops are 14).
MAX_VARIANTS = 16
# Short enough that a match's variant (the query's, "/", the indicator's) fits 32 characters.
_NAME = re.compile(r"^[a-z0-9][a-z0-9+-]{0,11}$")
PDQ = PdqSignal.name
ID_BATCH = 900  # under SQLite's historical 999-parameter limit

Variants = tuple[tuple[str, str], ...]


def check_variants(raw: Any) -> Variants:
    """Variants as (name, canonical PDQ hex) pairs, from [[name, hex], …] or [{"name", "value"},
    …]; InvalidInput when they are not (too many, a bad name or hash, a name twice)."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise InvalidInput("variants are a list of [name, pdq hash] pairs")
    if len(raw) > MAX_VARIANTS:
        raise InvalidInput(f"an indicator has at most {MAX_VARIANTS} variants, not {len(raw)}")
    out: list[tuple[str, str]] = []
    for item in raw:
        if isinstance(item, Mapping):
            name, value = item.get("name"), item.get("value")
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, value = item
        else:
            raise InvalidInput("a variant is a [name, pdq hash] pair")
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput(
                f"variant name {name!r}: 1-12 lower-case letters, digits, '+' or '-'"
            )
        if not isinstance(value, str):
            raise InvalidInput(f"variant {name}: its PDQ hash is text")
        out.append((name, PdqSignal.validate(value)))
    if len({name for name, _ in out}) != len(out):
        raise InvalidInput("a variant name appears twice")
    return tuple(out)


def as_json(variants: Variants) -> list[dict[str, str]]:
    """The form exports and the centre's feed carry: [{"name": …, "value": …}, …]."""
    return [{"name": name, "value": value} for name, value in variants]


def as_cell(variants: Variants) -> str:
    """The form a CSV cell carries: `name:hex` pairs, space-separated ("" for none)."""
    return " ".join(f"{name}:{value}" for name, value in variants)


def from_cell(cell: str) -> Variants:
    """Variants from a CSV cell (as_cell's form); InvalidInput when it is not that form."""
    pairs = []
    for item in cell.split():
        name, colon, value = item.partition(":")
        if not colon:
            raise InvalidInput("a variant in a CSV cell is name:pdq-hash")
        pairs.append((name, value))
    return check_variants(pairs)


def store_variants(session: Session, bank_id: int, by_value: Mapping[str, Variants]) -> int:
    """Give the bank's PDQ indicators with these values these variants (an empty set removes
    them), in the caller's transaction; an `update` change row for each one changed, so that
    matchers re-read it. Returns how many indicators changed."""
    if not by_value:
        return 0
    values = sorted(by_value)
    changed: list[int] = []
    for start in range(0, len(values), ID_BATCH):
        batch = values[start : start + ID_BATCH]
        rows = session.execute(
            select(Indicator.id, Indicator.value, IndicatorVariants)
            .outerjoin(IndicatorVariants, IndicatorVariants.indicator_id == Indicator.id)
            .where(
                Indicator.bank_id == bank_id,
                Indicator.signal_type == PDQ,
                Indicator.value.in_(batch),
            )
        ).all()
        for ident, value, found in rows:
            stored: IndicatorVariants | None = found  # None: an outer join's missing row
            wanted = [list(pair) for pair in by_value[value]]
            if stored is None:
                if wanted:
                    session.add(IndicatorVariants(indicator_id=ident, variants=wanted))
                    changed.append(ident)
            elif not wanted:
                session.delete(stored)
                changed.append(ident)
            elif stored.variants != wanted:
                stored.variants = wanted
                changed.append(ident)
    session.flush()
    record_indicator_changes(session, bank_id, ChangeOp.UPDATE, changed)
    return len(changed)


def variants_of(session: Session, ids: Iterable[int]) -> dict[int, Variants]:
    """The stored variants of these indicators (those that have some)."""
    wanted = sorted(set(ids))
    out: dict[int, Variants] = {}
    for start in range(0, len(wanted), ID_BATCH):
        rows = session.execute(
            select(IndicatorVariants.indicator_id, IndicatorVariants.variants).where(
                IndicatorVariants.indicator_id.in_(wanted[start : start + ID_BATCH])
            )
        )
        out.update({ident: _stored(variants) for ident, variants in rows})
    return out


def _stored(raw: Sequence[Sequence[str]]) -> Variants:
    return tuple((str(name), str(value)) for name, value in raw)


def indexed_variants(
    session: Session, ids: Sequence[int] | None = None
) -> dict[int, tuple[str, Variants]]:
    """Indicator id → (its own PDQ, its variants) for the PDQ indicators that have variants:
    among `ids`, or (None) in every enabled bank (what a matcher's full load reads)."""
    query = (
        select(Indicator.id, Indicator.value, IndicatorVariants.variants)
        .join(IndicatorVariants, IndicatorVariants.indicator_id == Indicator.id)
        .where(Indicator.signal_type == PDQ)
    )
    if ids is None:
        query = query.join(Bank, Bank.id == Indicator.bank_id).where(Bank.enabled.is_(True))
        return {
            ident: (value, _stored(variants)) for ident, value, variants in session.execute(query)
        }
    wanted = sorted(set(ids))
    out: dict[int, tuple[str, Variants]] = {}
    for start in range(0, len(wanted), ID_BATCH):
        rows = session.execute(query.where(Indicator.id.in_(wanted[start : start + ID_BATCH])))
        out.update({ident: (value, _stored(variants)) for ident, value, variants in rows})
    return out
