"""CHECK constraints that keep a state column to the values of its StrEnum."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import CheckConstraint


def allowed_values(column: str, values: Iterable[str]) -> str:
    """The SQL condition `column IN ('a', 'b', ...)` (values are enum members: no quoting)."""
    listed = ", ".join(f"'{value}'" for value in sorted(str(v) for v in values))
    return f"{column} IN ({listed})"


def state_check(column: str, states: type[StrEnum]) -> CheckConstraint:
    """The table's check that `column` holds one of `states`, named ck_<table>_<column>."""
    return CheckConstraint(allowed_values(column, states), name=column)
