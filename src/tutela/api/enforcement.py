"""`/v1/complaints` and `/v1/items/{id}/takedown-confirmation`: what the platform tells the node
after a decision — a user's complaint (DSA Art 20), and that an item was taken down. A key
reaches only its own platform's items and complaints."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import ItemsReadKey, ItemsWriteKey, ServicesDep, scope_doc
from tutela.api.schemas import FreeText, Identifier
from tutela.audit.log import api_key_actor
from tutela.detection.items import check_item_of
from tutela.enforcement.takedown import confirm_takedown
from tutela.reporting.report_updates import follow_ups_from
from tutela.review.complaints import get_complaint, lodge_complaint

router = APIRouter(tags=["enforcement"])


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complaint_id: Identifier = Field(
        min_length=1, max_length=256, description="The platform's own id."
    )
    item_id: Identifier = Field(
        min_length=1, max_length=256, description="The item the decision was on."
    )
    grounds: FreeText = Field(min_length=1, max_length=5000, description="The user's reasons.")


class ComplaintPublic(BaseModel):
    id: int
    complaint_id: str
    case_id: int
    state: str


class TakedownConfirmationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        "removed",
        pattern="^(removed|disabled)$",
        description="`removed`, or `disabled` (access disabled in every Member State).",
    )
    removed_at: AwareDatetime | None = Field(
        None, description="When the platform removed it, with its time zone (default: now)."
    )


class TakedownPublic(BaseModel):
    id: int
    case_id: int
    state: str
    sends: int


@router.post(
    "/v1/complaints",
    status_code=202,
    response_model=ComplaintPublic,
    responses={200: {"model": ComplaintPublic, "description": "Already received"}},
    openapi_extra=scope_doc("items:write"),
)
async def create_complaint(
    body: ComplaintCreate, response: Response, key: ItemsWriteKey, services: ServicesDep
) -> ComplaintPublic:
    """A user's complaint about a decision, forwarded by the platform; the outcome comes back by
    webhook (`complaint.decided`). 202 when new, 200 for a repeated `complaint_id`."""
    view, created = await run_in_threadpool(
        lodge_complaint,
        services.database,
        body.complaint_id,
        body.item_id,
        body.grounds,
        api_key_actor(key.name),
        services.settings.complaint_window_months,
        platform=key.platform,
    )
    response.status_code = 202 if created else 200
    return ComplaintPublic(
        id=view.id, complaint_id=view.complaint_ref, case_id=view.case_id, state=view.state
    )


@router.get(
    "/v1/complaints/{ident}",
    response_model=ComplaintPublic,
    openapi_extra=scope_doc("items:read"),
)
def read_complaint(ident: int, key: ItemsReadKey, services: ServicesDep) -> ComplaintPublic:
    """A complaint of the key's platform and its state."""
    view = get_complaint(services.database, ident, platform=key.platform)
    return ComplaintPublic(
        id=view.id, complaint_id=view.complaint_ref, case_id=view.case_id, state=view.state
    )


@router.post(
    "/v1/items/{ident}/takedown-confirmation",
    response_model=TakedownPublic,
    openapi_extra=scope_doc("items:write"),
)
def confirm_item_takedown(
    ident: int, body: TakedownConfirmationCreate, key: ItemsWriteKey, services: ServicesDep
) -> TakedownPublic:
    """The platform removed or disabled the item: the node stops asking (idempotent). 409 while
    an authority's hold on removal runs (Art 48(6)-(7), announced by a `takedown.held` webhook),
    unless `removed_at` is before the hold reached the node."""
    # Items never change platform, so checking before the service's own transaction is safe.
    check_item_of(services.database, ident, key.platform)
    view = confirm_takedown(
        services.database,
        ident,
        api_key_actor(key.name),
        removed_at=body.removed_at,
        action=body.action,
        follow_ups=follow_ups_from(services.settings),
    )
    return TakedownPublic(id=view.id, case_id=view.case_id, state=view.state, sends=view.sends)
