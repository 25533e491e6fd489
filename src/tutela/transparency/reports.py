"""The yearly figures as a service: one reader's unit of work, the permission check when a
console account asks, and an audit entry for every document made (DESIGN ground rule 3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tutela.audit.log import Action, Subject, record
from tutela.auth.roles import Permission, Role, require_permission
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.transparency.centre_figures import centre_figures
from tutela.transparency.periods import Year
from tutela.transparency.provider_figures import provider_figures


def yearly_figures(
    database: Database,
    year: int,
    *,
    actor: str,
    centre: bool = False,
    roles: Iterable[Role | str] | None = None,
    purpose: str = "export",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The provider's (or, with `centre`, the centre's) figures for `year`. `roles` are the
    console account's, checked for the `read_figures` permission; the command line passes
    none (its operator holds the database already) and is audited under `cli:<user>`."""
    period = Year.of(year)
    if roles is not None:
        require_permission(roles, Permission.READ_FIGURES)
    now = now or utc_now()
    with database.unit_of_work() as session:
        figures = centre_figures(session, period) if centre else provider_figures(session, period)
        details = {"kind": figures["kind"], "year": period.year, "purpose": purpose}
        action = Action.EXPORT if purpose == "export" else Action.VIEW
        subject = Subject("transparency_report", str(period.year))
        record(session, actor, action, subject, details, now=now)
    return figures
