"""Request and response bodies of the provider API (`XCreate` in, `XPublic` out)."""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ItemMetadata(BaseModel):
    """What the platform knows about an upload; kept for review and reports (Art 13, Annex III)."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=256, description="The platform's own id.")
    account_id: str | None = Field(None, max_length=256)
    username: str | None = Field(None, max_length=256)
    email: str | None = Field(None, max_length=320)
    upload_ip: IPv4Address | IPv6Address | None = None
    upload_port: int | None = Field(None, ge=0, le=65535)
    uploaded_at: AwareDatetime | None = None
    url: str | None = Field(None, max_length=2048)
    service: str | None = Field(None, max_length=128)
    content_created_at: AwareDatetime | None = None
    content_modified_at: AwareDatetime | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class ItemCreate(BaseModel):
    """A hash-only submission: the platform hashed the content itself."""

    model_config = ConfigDict(extra="forbid")

    metadata: ItemMetadata
    signals: dict[str, str] = Field(description='Signal type → hex value, e.g. {"pdq": "…"}.')


class ItemAcceptedPublic(BaseModel):
    id: int
    status: str


class ErrorPublic(BaseModel):
    code: str
    message: str


class MatchPublic(BaseModel):
    bank: str
    indicator_id: int
    signal_type: str
    distance: int
    variant: str | None = None
    outcome: str | None = None
    review: bool | None = None


class ItemPublic(BaseModel):
    id: int
    item_id: str
    status: Literal["queued", "processing", "done"]
    verdict: Literal["no_match", "review", "action", "error"] | None
    error: ErrorPublic | None
    matches: list[MatchPublic]
    case_id: int | None


class MatchQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_type: str
    value: str


class MatchesPublic(BaseModel):
    query: str
    matches: list[MatchPublic]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    secret: str | None = Field(None, min_length=16, max_length=128)


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
