"""`/v1/items`: platforms submit uploads (or their hashes) and read back the verdict."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tutela.api.deps import ItemsReadKey, ItemsWriteKey, ServicesDep, scope_doc, services_of
from tutela.api.schemas import ItemAcceptedPublic, ItemCreate, ItemMetadata, ItemPublic
from tutela.api.uploads import is_multipart, multipart_body, parse_model, read_upload
from tutela.detection.items import Submission, get_item, signals_submission, upload_submission
from tutela.errors import InvalidInput

router = APIRouter(prefix="/v1/items", tags=["items"])

_BODY = {
    "content": {
        **multipart_body(
            {"metadata": {"type": "string", "description": "ItemMetadata as a JSON string"}}
        ),
        "application/json": {"schema": {"$ref": "#/components/schemas/ItemCreate"}},
    }
}


@router.post(
    "",
    status_code=202,
    response_model=ItemAcceptedPublic,
    responses={200: {"model": ItemAcceptedPublic, "description": "Already submitted"}},
    openapi_extra={**scope_doc("items:write"), "requestBody": _BODY},
)
async def create_item(
    request: Request, response: Response, _key: ItemsWriteKey
) -> ItemAcceptedPublic:
    """Accept an upload (multipart `file` + `metadata`) or a hash-only submission (JSON).

    The item is stored, and decided if it was hashed here, before the answer (its batch
    committed, see tutela.api.intake); 202 for a new item, 200 when `item_id` was seen before.
    """
    services = services_of(request)
    submission: Submission
    if is_multipart(request):
        upload = await read_upload(request, services.settings.media.max_bytes)
        if "metadata" not in upload.fields:
            raise InvalidInput("the form has no metadata field")
        metadata = parse_model(ItemMetadata, upload.fields["metadata"], "metadata")
        submission = upload_submission(
            metadata.item_id, metadata.model_dump(mode="json", exclude_none=True), upload.data
        )
    else:
        create = parse_model(ItemCreate, await request.body(), "body")
        submission = signals_submission(
            create.metadata.item_id,
            create.metadata.model_dump(mode="json", exclude_none=True),
            create.signals,
        )
    accepted = await services.intake.accept(submission)
    response.status_code = 202 if accepted.created else 200
    return ItemAcceptedPublic(id=accepted.id, status=accepted.status)


@router.get("/{ident}", response_model=ItemPublic, openapi_extra=scope_doc("items:read"))
def read_item(ident: int, _key: ItemsReadKey, services: ServicesDep) -> ItemPublic:
    """The item's status, its one verdict once decided, its matches and its case."""
    return ItemPublic.model_validate(get_item(services.database, ident).as_dict())
