"""What a report is made from: the provider's identity and one decided case (Art 13, Annex III)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tutela.settings import Settings


class Kind(StrEnum):
    """Art 13(1)(e): which detection duty the report comes from."""

    KNOWN = "known"
    NEW = "new"
    SOLICITATION = "solicitation"


class Awareness(StrEnum):
    """Annex III: how the provider became aware of the potential abuse."""

    DETECTION_ORDER = "detection_order"
    PUBLIC_AUTHORITY = "public_authority"
    HOTLINE_OR_TRUSTED_FLAGGER = "hotline_or_trusted_flagger"
    USER_NOTICE = "user_notice"
    OWN_INITIATIVE = "own_initiative"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Art 13(1)(a): who reports, and whom authorities contact about it."""

    name: str
    legal_representative: str
    point_of_contact: str
    country: str
    services: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderIdentity:
        return cls(
            name=settings.provider_name,
            legal_representative=settings.provider_legal_representative,
            point_of_contact=settings.provider_contact,
            country=settings.provider_country,
            services=settings.provider_services,
        )


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """An item's metadata as the provider API stores it (`ItemMetadata`), all optional there."""

    item_ref: str
    account_id: str | None = None
    username: str | None = None
    email: str | None = None
    phone: str | None = None
    last_login_at: datetime | None = None
    upload_ip: str | None = None
    upload_port: int | None = None
    uploaded_at: datetime | None = None
    url: str | None = None
    service: str | None = None
    content_created_at: datetime | None = None
    content_modified_at: datetime | None = None
    # Other geo data the provider holds (Art 13(1)(f)), e.g. {"country": "DE"}.
    geo: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MatchFacts:
    """One indicator the item matched: hashes travel, content stays (DESIGN rule 2)."""

    bank: str
    indicator_id: int
    signal_type: str
    value: str
    distance: int
    # A video's match: vPDQ's shares and each matched frame's time and PDQ (no content).
    video: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ContentFile:
    """The content itself, only ever inside a signed report to an authority (Art 13(1)(c))."""

    media_type: str
    data: bytes = field(repr=False)


class OmissionReason(StrEnum):
    """Why a report leaves out the content file it is about (its `content.omitted`)."""

    TOO_LARGE = "too_large"  # over what a report carries inline; the provider keeps it (Art 22)


@dataclass(frozen=True, slots=True)
class OmittedFile:
    """A content file a report leaves out, said so that the centre never has to guess: its type,
    size and SHA-256 (so the file can be asked for and checked), why, and the limit it passed."""

    media_type: str
    size: int
    sha256: str
    reason: OmissionReason
    limit: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
            "reason": self.reason.value,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One reviewed case, everything the report is built from."""

    case_id: int
    item: ItemFacts
    matches: tuple[MatchFacts, ...]
    kind: Kind
    decided_by: str
    decided_at: datetime
    awareness: Awareness = Awareness.OWN_INITIATIVE
    legal_basis: str = ""
    # The item's own hashes (signal type → hex), as the provider computed them.
    signals: dict[str, str] = field(default_factory=dict)
    removed: bool | None = None
    removed_at: datetime | None = None
    urgent: bool = False
    urgent_reason: str = ""
    reported_elsewhere: tuple[tuple[str, str], ...] = ()  # (organisation, case number)
    account_measures: tuple[str, ...] = ()
    victim_identifiers: tuple[str, ...] = ()
    free_text: str = ""
    content: tuple[ContentFile, ...] = ()
    omitted: tuple[OmittedFile, ...] = ()  # content files left out, and why
    # The detection order or voluntary basis the matches ran under (tutela.detection.bases).
    detection_basis: Mapping[str, Any] | None = None
