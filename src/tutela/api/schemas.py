"""Request and response bodies of the provider API (`XCreate` in, `XPublic` out)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from tutela.detection.item_metadata import (
    EXTRA_MAX_BYTES,
    ITEM_REF_MAX,
    check_extra,
    check_name,
    check_text,
)
from tutela.errors import InvalidInput


def _as_value_error(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A domain check as a pydantic validator: its InvalidInput becomes a field error (422)."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as error:
            raise ValueError(str(error)) from None

    return validate


# Ids and names (no control characters) and free text (tab and line breaks allowed).
Identifier = Annotated[str, AfterValidator(_as_value_error(lambda v: check_name(v, "value")))]
FreeText = Annotated[str, AfterValidator(_as_value_error(lambda v: check_text(v, "value")))]
Extra = Annotated[dict[str, Any], AfterValidator(_as_value_error(check_extra))]

# An upload as a platform should send it: what a report to the EU Centre needs (Art 13(1)(d)-(f)).
EXAMPLE_METADATA: dict[str, Any] = {
    "item_id": "photo-8812",
    "account_id": "account-7",
    "username": "uploader7",
    "email": "uploader7@example.com",
    "upload_ip": "192.0.2.7",
    "upload_port": 50123,
    "uploaded_at": "2025-03-01T10:00:00+01:00",
    "url": "https://photos.example.com/p/8812",
    "service": "photos",
    "content_created_at": "2025-02-28T18:30:00+01:00",
    "extra": {"phone": "+49 30 1234567"},
}


class ItemMetadata(BaseModel):
    """What the platform knows about an upload, kept for review and for the report to the EU
    Centre (Art 13(1), Annex III). Only `item_id` is required, but a report names the uploader
    and where and when the upload came from: send every field the platform holds. Unknown fields
    are refused (422), so a misspelt one is not silently dropped."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_METADATA]})

    item_id: Identifier = Field(
        min_length=1,
        max_length=ITEM_REF_MAX,
        description="The platform's own id of the upload. With the content it identifies the "
        "item: the same id and content again is a replay; the same id with other content is "
        "another item.",
    )
    account_id: Identifier | None = Field(
        None, max_length=256, description="The uploader's account on the platform (Art 13(1)(e))."
    )
    username: Identifier | None = Field(
        None, max_length=256, description="The uploader's user name (Art 13(1)(e))."
    )
    email: Identifier | None = Field(
        None, max_length=320, description="The uploader's e-mail address (Art 13(1)(e))."
    )
    upload_ip: IPv4Address | IPv6Address | None = Field(
        None, description="IP address the upload came from (Art 13(1)(f))."
    )
    upload_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Source port of the upload's connection, which tells apart users behind one "
        "shared (NAT) address (Art 13(1)(f)).",
    )
    uploaded_at: AwareDatetime | None = Field(
        None, description="When the upload was made, with its time zone (Art 13(1)(f))."
    )
    url: Identifier | None = Field(
        None, max_length=2048, description="Where the content was available on the platform."
    )
    service: Identifier | None = Field(
        None,
        max_length=128,
        description="Which of the provider's services it was uploaded to "
        "(one of TUTELA_PROVIDER_SERVICES).",
    )
    content_created_at: AwareDatetime | None = Field(
        None, description="When the content was made, if known (Art 13(1)(d))."
    )
    content_modified_at: AwareDatetime | None = Field(
        None, description="When the content was last changed, if known (Art 13(1)(d))."
    )
    extra: Extra = Field(
        default_factory=dict,
        description=f"Anything else the platform holds, as a JSON object of at most "
        f"{EXTRA_MAX_BYTES} bytes, nested at most 4 deep; `phone` (the uploader's telephone "
        f"number) goes into reports.",
    )


class ItemCreate(BaseModel):
    """A hash-only submission: the platform hashed the content itself (send the upload as
    multipart/form-data instead to have it hashed here)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "metadata": EXAMPLE_METADATA,
                    "signals": {
                        "pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
                    },
                }
            ]
        },
    )

    metadata: ItemMetadata
    signals: dict[Identifier, Identifier] = Field(
        min_length=1,
        max_length=8,
        description="Signal type → hex value: `pdq` (64 hex), `md5` (32), `sha1` (40), `sha256` "
        "(64). Their canonical form identifies the item's content.",
    )


class ItemAcceptedPublic(BaseModel):
    id: int
    status: str


class ErrorPublic(BaseModel):
    code: str
    message: str


class FrameMatchPublic(BaseModel):
    time: float | None = Field(None, description="The query frame's time in the video (s).")
    distance: int
    banked_time: float | None = Field(
        None, description="The time (s) of the banked video's frame it matched."
    )


class VideoMatchPublic(BaseModel):
    """What a video's match found: vPDQ's shares (of a banked video) and the matched frames."""

    query_match_percent: float | None = None
    compared_match_percent: float | None = None
    matched_frames: int
    frames: list[FrameMatchPublic]


class MatchPublic(BaseModel):
    bank: str
    indicator_id: int
    signal_type: str
    distance: int
    variant: str | None = None
    outcome: str | None = None
    review: bool | None = None
    video: VideoMatchPublic | None = None
    basis_id: int | None = Field(
        None, description="The detection basis (order or voluntary) the match ran under."
    )


class BasisPublic(BaseModel):
    """What allowed detection on the item's service (Art 7-11)."""

    id: int
    source: Literal["order", "voluntary"]
    service: str = Field(description="The service part it covers; `*`: every service.")
    order_id: str | None = Field(None, description="The authority's id of the detection order.")
    authority: str | None = None
    set_by: str | None = Field(None, description="Who set a voluntary basis.")
    ends_at: str | None = None


class ItemPublic(BaseModel):
    id: int
    item_id: str
    status: Literal["queued", "processing", "done"]
    verdict: Literal["no_match", "review", "action", "error"] | None
    reason: Literal["not_under_order"] | None = Field(
        None,
        description="`not_under_order`: no detection order or voluntary basis covers the "
        "item's service (`metadata.service`), so it was neither hashed nor matched.",
    )
    basis: BasisPublic | None = Field(None, description="What its detection ran under.")
    error: ErrorPublic | None
    matches: list[MatchPublic]
    case_id: int | None


class MatchQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_type: Identifier = Field(
        description="`pdq`, `md5`, `sha1`, `sha256` or `vpdq` (a video's frames)."
    )
    value: Identifier = Field(
        description="The hash, in hex; a `vpdq` hash as python-threatexchange's JSON list of "
        '`"pdq_hex,quality,seconds"` strings, in its text form.'
    )


class MatchesPublic(BaseModel):
    query: str
    matches: list[MatchPublic]
    error: ErrorPublic | None = Field(
        None,
        description="Why a file had no perceptual hash (it could not be decoded), when its exact "
        "hashes matched all the same; with no match such a file is answered with the error.",
    )


MATCH_BATCH_MAX = 1000


class MatchBatchCreate(BaseModel):
    """Many hashes of one signal type, answered in one pass through the index."""

    model_config = ConfigDict(extra="forbid")

    signal_type: Identifier = Field(description="`pdq`, `md5`, `sha1` or `sha256`.")
    values: list[str] = Field(
        min_length=1,
        description=f"The hashes, in hex: 1 to {MATCH_BATCH_MAX} per request (more is refused "
        "with 413 `too_large`; one malformed hash refuses the request with 422 `invalid_hash`).",
    )


class MatchBatchPublic(BaseModel):
    results: list[MatchesPublic] = Field(
        description="One answer per hash, in the order of `values`."
    )


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Identifier = Field(
        max_length=2048,
        description="Absolute http(s) URL that receives the messages about the platform's items.",
    )
    secret: Identifier | None = Field(
        None,
        min_length=16,
        max_length=128,
        description="Key of the HMAC-SHA256 signature of each message (generated if not given).",
    )


class WebhookPublic(BaseModel):
    id: int
    url: str
    created_at: datetime
    secret: str | None = Field(None, description="Shown only in the answer that created it.")


class DeliveryPublic(BaseModel):
    delivery_id: int
    item_id: int
    state: str
    status_code: int | None
    error: str | None
    at: datetime
