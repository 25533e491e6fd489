"""Roles people hold in the console, and what each role may do; a person may hold several."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from tutela.errors import Forbidden, InvalidInput


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    AUDITOR = "auditor"
    COMPLIANCE_OFFICER = "compliance_officer"
    # The EU Centre's people (its own node and database): triage of received reports.
    ANALYST = "analyst"
    SENIOR_ANALYST = "senior_analyst"
    # A Coordinating Authority's people (the authority node): orders and their supervision.
    CASE_OFFICER = "case_officer"
    SUPERVISOR = "supervisor"


class Permission(StrEnum):
    REVIEW = "review"  # see the queue, decide cases
    REVEAL = "reveal"  # look at content unblurred
    DECIDE_ESCALATED = "decide_escalated"  # second opinions, appeals (DSA Art 20)
    OPEN_EVIDENCE = "open_evidence"  # decrypt preserved evidence (Art 22)
    EXTEND_RETENTION = "extend_retention"  # on an authority's request (Art 22(2))
    EXPORT = "export"  # reports, statements of reasons, yearly figures
    READ_AUDIT = "read_audit"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    TRIAGE = "triage"  # centre: assess reports, set aside as unfounded, forward (Art 48)
    CONFIRM_INDICATOR = "confirm_indicator"  # centre: make indicators of a report (Art 44(3))
    ISSUE_ORDER = "issue_order"  # authority: issue removal orders (Art 14)
    SUPERVISE_ORDERS = "supervise_orders"  # authority: read orders and their execution
    ASSESS_RISK = "assess_risk"  # the risk assessment and mitigation register (Art 3-5)
    READ_FIGURES = "read_figures"  # yearly figures and error rates (Art 83)


# Administrators run the node but do not look at content: separation of duties.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(
        {Permission.MANAGE_USERS, Permission.MANAGE_SETTINGS, Permission.READ_AUDIT}
    ),
    Role.REVIEWER: frozenset({Permission.REVIEW, Permission.REVEAL}),
    Role.SENIOR_REVIEWER: frozenset(
        {Permission.REVIEW, Permission.REVEAL, Permission.DECIDE_ESCALATED}
    ),
    Role.AUDITOR: frozenset({Permission.READ_AUDIT, Permission.READ_FIGURES}),
    Role.COMPLIANCE_OFFICER: frozenset(
        {
            Permission.OPEN_EVIDENCE,
            Permission.EXTEND_RETENTION,
            Permission.EXPORT,
            Permission.READ_AUDIT,
            Permission.ASSESS_RISK,
            Permission.READ_FIGURES,
        }
    ),
    Role.ANALYST: frozenset({Permission.TRIAGE}),
    Role.SENIOR_ANALYST: frozenset({Permission.TRIAGE, Permission.CONFIRM_INDICATOR}),
    Role.CASE_OFFICER: frozenset({Permission.ISSUE_ORDER, Permission.SUPERVISE_ORDERS}),
    Role.SUPERVISOR: frozenset({Permission.SUPERVISE_ORDERS}),
}


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Role names as typed by an operator; at least one, each known."""
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {name!r}; roles are {allowed}") from None
    if not roles:
        raise InvalidInput("give at least one role")
    return frozenset(roles)


def permissions_of(roles: Iterable[Role | str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(granted)


def require_permission(roles: Iterable[Role | str], permission: Permission) -> None:
    """Forbidden unless one of `roles` grants `permission`."""
    if permission not in permissions_of(roles):
        raise Forbidden(f"this needs the {permission.value!r} permission, which your roles lack")
