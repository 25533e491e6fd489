"""What a confirmation sets in motion, all inside the decision's one transaction: preserve the
content in the evidence vault and delete the plaintext (Art 22), file the report (Art 12), ask the
platform to take the item down with an account-action recommendation, and hold a user notice
through the silence period (Art 12(2)). Either all of it commits with the decision, or none."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tutela.db.chunks import whole
from tutela.detection.held_payloads import held_content, held_stream, row_chunks
from tutela.detection.models import Case, Item, ItemPayload
from tutela.enforcement.measure_models import TakedownRequest, TakedownState
from tutela.enforcement.notices import hold_notice
from tutela.enforcement.takedown import request_takedown
from tutela.enforcement.vault import PreservationReason, Vault
from tutela.errors import TutelaError
from tutela.indicators.models import Bank
from tutela.media.formats import VideoFormat, sniff_format, sniff_video
from tutela.messaging.crypto import STREAM_CHUNK_BYTES
from tutela.messaging.signing import SigningKey
from tutela.reporting.fields import (
    ContentFile,
    Kind,
    OmissionReason,
    OmittedFile,
    ProviderIdentity,
)
from tutela.reporting.filing import NCMEC, file_report
from tutela.reporting.report_updates import NCMEC_ORGANISATION
from tutela.review.report_choices import ReportChoices, awareness_of
from tutela.review.report_input import basis_of_evidence, report_input
from tutela.settings import Settings

NOTICE_KIND = "decision"
# The largest video attached to the signed report itself (base64, as an image is): with the
# report's other fields it stays within a centre's default intake limit (64 MiB,
# TUTELA_CENTRE_MAX_REPORT_BYTES). Larger ones are preserved and uploaded to NCMEC all the same,
# and the report to the centre carries their hashes and vPDQ without the file, saying so in
# `content.omitted` (its type, size, SHA-256 and why).
INLINE_VIDEO_MAX_BYTES = 40 * 1024 * 1024
HEAD_BYTES = 16  # enough of a video's first bytes to sniff its container


@dataclass(frozen=True, slots=True)
class Instruments:
    """What a confirmation needs from outside the database, loaded before the transaction."""

    settings: Settings
    vault: Vault | None
    signing_key: SigningKey | None


def carry_out(
    session: Session,
    case: Case,
    item: Item,
    kind: Kind,
    *,
    reviewer: str,
    actor: str,
    now: datetime,
    tools: Instruments,
    choices: ReportChoices,
) -> dict[str, Any]:
    """Run every measure of a confirmation; return what was done (for the decision row and the
    audit entry: ids and reasons, never content)."""
    effects: dict[str, Any] = {"choices": choices.as_dict()}
    chunks = row_chunks(session, item.id)
    if chunks is not None:  # a video, held as a stream
        video = _preserve_video(
            session, case, item, kind, chunks, actor=actor, now=now, tools=tools
        )
        effects["vault"] = video.vault
        effects["report"] = _report(
            session, case, item, kind, reviewer, now, tools, video.attached, choices, video.omitted
        )
        return _measures(session, case, item, kind, now, tools, choices, effects)
    payload = held_content(session, item.id, tools.vault.master_key if tools.vault else None)
    content = _content_file(payload)
    if payload is None:
        effects["vault"] = {"skipped": "hash-only submission: the node never held the content"}
    else:
        assert tools.vault is not None, "decide() loads the vault when a payload is held"
        stored = tools.vault.preserve(
            session,
            item.item_ref,
            payload,
            {"item": item.meta, "signals": item.signals, "case_id": case.id, "kind": kind.value},
            PreservationReason.REPORT,
            now,
            actor=actor,
        )
        # Art 22: from here on the content exists only encrypted in the vault.
        session.execute(delete(ItemPayload).where(ItemPayload.item_id == item.id))
        effects["vault"] = {"record_id": stored.id, "expires_at": stored.expires_at.isoformat()}
    effects["report"] = _report(session, case, item, kind, reviewer, now, tools, content, choices)
    return _measures(session, case, item, kind, now, tools, choices, effects)


def _measures(
    session: Session,
    case: Case,
    item: Item,
    kind: Kind,
    now: datetime,
    tools: Instruments,
    choices: ReportChoices,
    effects: dict[str, Any],
) -> dict[str, Any]:
    """The takedown request and the held user notice, after the vault and the report."""
    # Art 48(6)-(7): a reported case's takedown waits, so that an authority's hold can arrive.
    reported = "report_id" in effects["report"]
    wait = timedelta(minutes=tools.settings.takedown_hold_wait_minutes) if reported else None
    takedown = request_takedown(
        session,
        case_id=case.id,
        item_id=item.id,
        item_ref=item.item_ref,
        now=now,
        resend_after=timedelta(hours=tools.settings.takedown_resend_hours),
        account_action=choices.account_action.value,
        wait=wait or timedelta(0),
    )
    effects["takedown"] = {"id": takedown.id, "state": takedown.state}
    if takedown.next_send_at is not None and takedown.state != TakedownState.REQUESTED:
        effects["takedown"]["send_at"] = takedown.next_send_at.isoformat()
    effects["account_action"] = choices.account_action.value
    notice = hold_notice(
        session,
        case_id=case.id,
        item_id=item.id,
        item_ref=item.item_ref,
        kind=NOTICE_KIND,
        body={
            "item_id": item.item_ref,
            "decision": "removed",
            "ground": kind.value,
            # DSA Art 17(3)(f): the redress the user has; complaints come back through the
            # platform to POST /v1/complaints.
            "redress": "internal_complaint",
        },
        now=now,
        silence_months=tools.settings.notice_silence_months,
    )
    effects["notice"] = {"id": notice.id, "hold_until": notice.hold_until.isoformat()}
    return effects


def _report(
    session: Session,
    case: Case,
    item: Item,
    kind: Kind,
    reviewer: str,
    now: datetime,
    tools: Instruments,
    content: ContentFile | None,
    choices: ReportChoices,
    omitted: OmittedFile | None = None,
) -> dict[str, Any]:
    settings = tools.settings
    destinations = report_destinations(settings)
    if not destinations:
        return {"skipped": "TUTELA_CENTRE_URL is not set: no EU Centre to report to"}
    # Art 13(1)(h): NCMEC's report id comes with its answer, and follows in a report update.
    elsewhere = ((NCMEC_ORGANISATION, ""),) if NCMEC in destinations else ()
    basis = basis_of_evidence(case.evidence)
    awareness = choices.awareness or awareness_of(
        item.meta,
        _bank_tags(session, case),
        under_order=basis is not None and basis.get("source") == "order",
    )
    filed = file_report(
        session,
        report_input(
            case_id=case.id,
            item=item,
            evidence=case.evidence,
            kind=kind,
            decided_by=reviewer,
            decided_at=now,
            legal_basis=settings.report_legal_basis,
            content=content,
            choices=choices,
            omitted=omitted,
            awareness=awareness,
            reported_elsewhere=elsewhere + choices.reported_elsewhere,
            removed_at=_removed_at(session, item.id),
        ),
        ProviderIdentity.from_settings(settings),
        tools.signing_key,
        now,
        destinations=destinations,
    )
    return {
        "report_id": filed.report_id,
        "destinations": destinations,
        "awareness": awareness.value,
    }


def _bank_tags(session: Session, case: Case) -> list[list[str]]:
    names = {str(e.get("bank")) for e in case.evidence}
    return [
        list(tags or []) for tags in session.scalars(select(Bank.tags).where(Bank.name.in_(names)))
    ]


def _removed_at(session: Session, item_id: int) -> datetime | None:
    """When the platform confirmed removing the item before this report, if it did (an item
    can be taken down under an earlier case, or by the platform on its own)."""
    confirmation = session.scalar(
        select(TakedownRequest.confirmation)
        .where(TakedownRequest.item_id == item_id, TakedownRequest.state == TakedownState.CONFIRMED)
        .order_by(TakedownRequest.id.desc())
        .limit(1)
    )
    if not confirmation or "removed_at" not in confirmation:
        return None
    return datetime.fromisoformat(str(confirmation["removed_at"]))


def report_destinations(settings: Settings) -> list[str]:
    """Where a confirmed report goes: the EU Centre once TUTELA_CENTRE_URL is set, and NCMEC's
    CyberTipline too with TUTELA_REPORT_NCMEC."""
    return (["centre"] if settings.centre_url else []) + ([NCMEC] if settings.report_ncmec else [])


@dataclass(frozen=True, slots=True)
class _PreservedVideo:
    vault: dict[str, Any]
    attached: ContentFile | None
    omitted: OmittedFile | None  # the report says so when the file is not attached


class _Digested:
    """The chunks of a stream passed on unchanged, its SHA-256, size and first bytes noted."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.head = b""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self.sha256.update(chunk)
            self.size += len(chunk)
            yield chunk


def _preserve_video(
    session: Session,
    case: Case,
    item: Item,
    kind: Kind,
    chunks: int,
    *,
    actor: str,
    now: datetime,
    tools: Instruments,
) -> _PreservedVideo:
    """Move a held video into the evidence vault as a stream (never whole in memory), and
    delete what was held. A video small enough (`INLINE_VIDEO_MAX_BYTES`) is attached to the
    report as an image is; `chunks` is how many it is held in. The NCMEC upload streams any
    size from the vault at send time."""
    assert tools.vault is not None, "decide() loads the vault when a payload is held"
    master_key = tools.vault.master_key
    attached = None
    stream = held_stream(session, item.id, master_key) or iter(())
    if chunks * STREAM_CHUNK_BYTES <= INLINE_VIDEO_MAX_BYTES:
        data = whole(stream, f"the video held for item {item.item_ref}")
        attached = ContentFile(_video_type(data[:HEAD_BYTES]), data)
        stream = iter([data])
    digested = _Digested(stream)
    stored = tools.vault.preserve_stream(
        session,
        item.item_ref,
        digested,
        {"item": item.meta, "signals": item.signals, "case_id": case.id, "kind": kind.value},
        PreservationReason.REPORT,
        now,
        actor=actor,
    )
    # Art 22: from here on the video exists only encrypted in the vault.
    session.execute(delete(ItemPayload).where(ItemPayload.item_id == item.id))
    vault = {"record_id": stored.id, "expires_at": stored.expires_at.isoformat(), "streamed": True}
    if attached is not None:
        return _PreservedVideo(vault, attached, None)
    vault["not_attached"] = f"larger than {INLINE_VIDEO_MAX_BYTES} bytes"
    omitted = OmittedFile(
        media_type=_video_type(digested.head),
        size=digested.size,
        sha256=digested.sha256.hexdigest(),
        reason=OmissionReason.TOO_LARGE,
        limit=INLINE_VIDEO_MAX_BYTES,
    )
    return _PreservedVideo(vault, None, omitted)


def _video_type(head: bytes) -> str:
    return {
        VideoFormat.MP4: "video/mp4",
        VideoFormat.MATROSKA: "video/x-matroska",
        VideoFormat.AVI: "video/x-msvideo",
    }.get(sniff_video(head), "application/octet-stream")  # type: ignore[arg-type]


def _content_file(payload: bytes | None) -> ContentFile | None:
    if not payload:
        return None
    try:
        media_type = "image/" + sniff_format(payload[:32]).value
    except TutelaError:
        media_type = "application/octet-stream"
    return ContentFile(media_type, payload)
