"""`/v1/items`: platforms submit uploads (or their hashes) and read back the verdict; a key
sees only its own platform's items."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import (
    ItemsReadKey,
    ItemsWriteKey,
    Services,
    ServicesDep,
    scope_doc,
    services_of,
)
from tutela.api.schemas import (
    EXAMPLE_METADATA,
    ItemAcceptedPublic,
    ItemCreate,
    ItemMetadata,
    ItemPublic,
)
from tutela.api.spooled_uploads import discarded, read_capped, spool_upload
from tutela.api.uploads import is_multipart, multipart_body, parse_model
from tutela.detection.item_metadata import METADATA_MAX_BYTES
from tutela.detection.items import Submission, get_item, signals_submission, upload_submission
from tutela.detection.models import ItemStatus
from tutela.detection.video_items import video_submission
from tutela.detection.video_queue import keep_for_workers, remove_spooled
from tutela.errors import InvalidInput

router = APIRouter(prefix="/v1/items", tags=["items"])
# Longest metadata form field, and hash-only body, read before parsing (the fields' own limits
# then apply): a 20 MB string is refused unread.
METADATA_FIELD_MAX = METADATA_MAX_BYTES
JSON_BODY_MAX = METADATA_MAX_BYTES + 4096


def inline_schema(model: type[ItemCreate] | type[ItemMetadata]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place: the route's requestBody is
    hand-declared (the body is read by hand), so no component would hold them."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _body() -> dict[str, Any]:
    metadata = {
        **inline_schema(ItemMetadata),
        "description": "ItemMetadata, sent as a JSON text form field. "
        + (ItemMetadata.__doc__ or "").strip(),
    }
    file = {"type": "string", "format": "binary", "description": "The upload's bytes."}
    multipart = multipart_body(
        {"file": file, "metadata": metadata}, required=("metadata",), json_fields=("metadata",)
    )
    for media in multipart.values():
        media["examples"] = {
            "upload": {
                "summary": "An upload with the metadata a report to the EU Centre needs",
                "value": {"file": "(the image's bytes)", "metadata": EXAMPLE_METADATA},
            }
        }
    return {
        "required": True,
        "content": {**multipart, "application/json": {"schema": inline_schema(ItemCreate)}},
    }


@router.post(
    "",
    status_code=202,
    response_model=ItemAcceptedPublic,
    responses={
        200: {
            "model": ItemAcceptedPublic,
            "description": "A replay: this platform sent this item_id with this content before",
        }
    },
    openapi_extra={**scope_doc("items:write"), "requestBody": _body()},
)
async def create_item(
    request: Request, response: Response, key: ItemsWriteKey
) -> ItemAcceptedPublic:
    """Accept an upload (multipart/form-data: `file`, and `metadata` as JSON text) or a
    hash-only submission (JSON: `metadata` and `signals`).

    The item is stored, and decided if it was hashed here, before the answer (its batch
    committed, see tutela.api.intake). An item is identified by the key's platform, its
    `item_id` and the SHA-256 of its content (the upload's bytes; for a hash-only submission, its
    signals in canonical form): the same three again are a replay and answer 200 with the item
    stored first; the same `item_id` with other content is a new item, hashed and decided on its
    own (202), as is any new item.
    """
    services = services_of(request)
    submission: Submission
    if is_multipart(request):
        settings = services.settings
        spooled = await spool_upload(
            request,
            settings.spool_dir,
            max_bytes=settings.media.max_bytes,
            max_video_bytes=settings.media.max_video_bytes,
            max_field_bytes=METADATA_FIELD_MAX,
        )
        with discarded(spooled) as upload:
            if "metadata" not in upload.fields:
                raise InvalidInput("the form has no metadata field")
            metadata = parse_model(ItemMetadata, upload.fields["metadata"], "metadata")
            fields = metadata.model_dump(mode="json", exclude_none=True)
            if upload.path is not None:  # a video, on disk: queued for the workers
                spooled_at = await run_in_threadpool(
                    keep_for_workers, upload.path, settings.data_dir
                )
                submission = video_submission(
                    metadata.item_id,
                    fields,
                    sha256=upload.sha256,
                    platform=key.platform,
                    spool_path=spooled_at,
                )
                return await _accept_video(services, response, submission, spooled_at)
            submission = upload_submission(
                metadata.item_id, fields, upload.read(), platform=key.platform
            )
    else:
        body = await read_capped(request, JSON_BODY_MAX)
        if len(body) > JSON_BODY_MAX:
            raise InvalidInput(f"a hash-only submission must be at most {JSON_BODY_MAX} bytes")
        create = parse_model(ItemCreate, body, "body")
        submission = signals_submission(
            create.metadata.item_id,
            create.metadata.model_dump(mode="json", exclude_none=True),
            create.signals,
            platform=key.platform,
        )
    accepted = await services.intake.accept(submission)
    response.status_code = 202 if accepted.created else 200
    return ItemAcceptedPublic(id=accepted.id, status=accepted.status)


async def _accept_video(
    services: Services, response: Response, submission: Submission, spooled_at: str
) -> ItemAcceptedPublic:
    """Store a video's item with its job; its file stays only if a job now names it (not for a
    replay, or an item decided at once, under no order or basis)."""
    data_dir = services.settings.data_dir
    try:
        accepted = await services.intake.accept(submission)
    except BaseException:
        remove_spooled(data_dir, spooled_at)
        raise
    if not (accepted.created and accepted.status == ItemStatus.QUEUED):
        remove_spooled(data_dir, spooled_at)
    response.status_code = 202 if accepted.created else 200
    return ItemAcceptedPublic(id=accepted.id, status=accepted.status)


@router.get("/{ident}", response_model=ItemPublic, openapi_extra=scope_doc("items:read"))
def read_item(ident: int, key: ItemsReadKey, services: ServicesDep) -> ItemPublic:
    """The item's status, its one verdict once decided, its matches and its case (another
    platform's item is 404, as a missing one)."""
    view = get_item(services.database, ident, platform=key.platform)
    return ItemPublic.model_validate(view.as_dict())
