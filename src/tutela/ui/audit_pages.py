"""The audit log page, served by the provider's console and the centre's alike, to the roles that
may read the audit trail (`Permission.READ_AUDIT`): the hash chain's verification, then the
entries newest first, filtered by action, actor and subject, a page at a time. Reading the trail
is itself recorded in it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tutela.audit.log import Action, Subject, record, user_actor
from tutela.audit.search import AuditFilter, search_entries
from tutela.audit.verify import verify_chain
from tutela.auth.users import list_users
from tutela.ui.access import AuditDep, page

router = APIRouter(prefix="/ui", include_in_schema=False)
AUDIT_URL = "/ui/audit"
PAGE_SIZE = 100
FIELD_MAX = 256  # the longest stored field (subject_id)
SEQ_MAX = 2**63 - 1


@router.get("/audit")
def audit(
    viewer: AuditDep,
    action: str = "",
    actor: str = "",
    subject_type: str = "",
    subject_id: str = "",
    before: Annotated[int | None, Query(ge=0, le=SEQ_MAX)] = None,
    after: Annotated[int | None, Query(ge=0, le=SEQ_MAX)] = None,
) -> Response:
    """`actor` is a stored actor (`user:3`, `apikey:intake`, `system`) or a user's name."""
    database = viewer.services.database
    names = {user_actor(user.id): user.name for user in list_users(database)}
    by_name = {name: stored for stored, name in names.items()}
    # As typed (longer than any stored value is no use, and the reading is recorded with them).
    fields = {
        "action": action.strip()[:FIELD_MAX],
        "actor": actor.strip()[:FIELD_MAX],
        "subject_type": subject_type.strip()[:FIELD_MAX],
        "subject_id": subject_id.strip()[:FIELD_MAX],
    }
    wanted = AuditFilter(
        action=fields["action"],
        actor=by_name.get(fields["actor"], fields["actor"]),
        subject_type=fields["subject_type"],
        subject_id=fields["subject_id"],
    )
    with database.reader() as session:
        chain = verify_chain(session)
        shown = search_entries(session, wanted, size=PAGE_SIZE, before=before, after=after)
    filters = {k: v for k, v in fields.items() if v}
    with database.unit_of_work() as session:
        record(session, viewer.actor, Action.VIEW, Subject("audit_log", "-"), filters)
    newer = _url(filters, after=shown.newest_seq) if shown.has_newer else None
    older = _url(filters, before=shown.oldest_seq) if shown.has_older else None
    if not shown.entries and (newer or older):
        newer, older = _url(filters), None  # past an end of the matches: back to the head
    return page(
        "audit.html",
        viewer,
        chain=chain,
        entries=shown.entries,
        filters=fields,
        names=names,
        actions=sorted(a.value for a in Action),
        newer_url=newer,
        older_url=older,
    )


def _url(filters: dict[str, str], **position: int | None) -> str:
    query = filters | {k: str(v) for k, v in position.items() if v is not None}
    return f"{AUDIT_URL}?{urlencode(query)}" if query else AUDIT_URL
