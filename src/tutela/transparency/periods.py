"""The calendar year a report covers, as the half-open UTC interval its figures are counted in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tutela.errors import InvalidInput

FIRST_YEAR = 2000
LAST_YEAR = 2200


@dataclass(frozen=True, slots=True)
class Year:
    year: int

    @classmethod
    def of(cls, year: int) -> Year:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidInput(f"a report year lies between {FIRST_YEAR} and {LAST_YEAR}")
        return cls(year)

    @property
    def start(self) -> datetime:
        return datetime(self.year, 1, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.year + 1, 1, 1, tzinfo=UTC)
