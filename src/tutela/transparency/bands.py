"""Distance bands the error rates are split by: a PDQ match at distance 0 is another thing than
one at 30 bits, and a rate over all of them would hide where the errors are. Exact hashes (MD5,
SHA-256) always match at distance 0."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, literal
from sqlalchemy.orm import InstrumentedAttribute

# (lowest, highest, label), in order; PDQ matches lie within 0-31 bits (the matcher's threshold),
# anything farther (a bank that sets a wider one) falls in the last band.
BANDS: tuple[tuple[int, int, str], ...] = ((0, 0, "0"), (1, 10, "1-10"), (11, 20, "11-20"))
LAST_BAND = "21-31"
OVER = "32+"
ORDER = (*(label for _, _, label in BANDS), LAST_BAND, OVER)


def band_of(distance: int) -> str:
    for low, high, label in BANDS:
        if low <= distance <= high:
            return label
    return LAST_BAND if distance <= 31 else OVER


def band_column(distance: InstrumentedAttribute[int]) -> ColumnElement[str]:
    """The band of a distance column, as SQL (the same on SQLite and PostgreSQL)."""
    return case(
        *((distance <= high, literal(label)) for _, high, label in BANDS),
        (distance <= 31, literal(LAST_BAND)),
        else_=literal(OVER),
    )
