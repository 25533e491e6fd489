"""Turns a decided case into what a report is built from (Art 13(1), Annex III)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tutela.detection.models import Item
from tutela.errors import InvalidHash
from tutela.reporting.fields import (
    Awareness,
    ContentFile,
    ItemFacts,
    Kind,
    MatchFacts,
    OmittedFile,
    ReportInput,
)
from tutela.review.report_choices import ReportChoices
from tutela.review.signal_values import signal_values


def report_input(
    *,
    case_id: int,
    item: Item,
    evidence: Sequence[Mapping[str, Any]],
    kind: Kind,
    decided_by: str,
    decided_at: datetime,
    legal_basis: str,
    content: ContentFile | None,
    choices: ReportChoices,
    omitted: OmittedFile | None = None,
    awareness: Awareness,
    reported_elsewhere: tuple[tuple[str, str], ...],
    removed_at: datetime | None,
) -> ReportInput:
    """Every field from what happened (`removed_at`: when the platform confirmed removal, None
    while it has not) and what the reviewer chose (`choices`, `awareness` already resolved)."""
    meta = item.meta or {}
    values = signal_values(item.signals)
    frames = video_frames(item.signals)
    return ReportInput(
        case_id=case_id,
        item=_facts(item.item_ref, meta),
        matches=tuple(_match_facts(e, values, frames) for e in evidence),
        kind=kind,
        decided_by=decided_by,
        decided_at=decided_at,
        legal_basis=legal_basis,
        signals=values,
        # Art 13(1)(i): removed only once the platform confirmed it; a confirmation that comes
        # after the report follows as a signed update (tutela.reporting.report_updates).
        removed=removed_at is not None,
        removed_at=removed_at,
        urgent=choices.urgent,  # Art 13(1)(j): the reviewer's choice
        urgent_reason=choices.urgent_reason.strip(),
        awareness=awareness,
        reported_elsewhere=reported_elsewhere,
        account_measures=(choices.account_action.value,),
        content=(content,) if content is not None else (),
        omitted=(omitted,) if omitted is not None else (),
        detection_basis=basis_of_evidence(evidence),
    )


def video_frames(signals: Mapping[str, Any] | None) -> dict[float, str]:
    """A video item's sampled frames, time (seconds) → PDQ hash; empty for anything else."""
    vpdq = (signals or {}).get("vpdq")
    text = vpdq.get("hash") if isinstance(vpdq, Mapping) else None
    if not isinstance(text, str):
        return {}
    from tutela.signals.vpdq import parse_vpdq  # numpy and PyAV's module, for videos only

    try:
        return {frame.timestamp: frame.hash for frame in parse_vpdq(text)}
    except InvalidHash:
        return {}


def _match_facts(
    evidence: Mapping[str, Any], values: Mapping[str, str], frames: Mapping[float, str]
) -> MatchFacts:
    """One match as reported. A video's match carries its frames, each with the PDQ the video
    showed then; a frame's match with an image indicator (`pdq`) has the first such PDQ as its
    value (the video has no PDQ of its own)."""
    signal_type = str(evidence["signal_type"])
    value = values.get(signal_type, "")
    video = evidence.get("video")
    detail: dict[str, Any] | None = None
    if isinstance(video, Mapping):
        listed = [dict(f) for f in video.get("frames") or [] if isinstance(f, Mapping)]
        for frame in listed:
            at = frame.get("time")
            if isinstance(at, int | float) and (pdq := frames.get(round(float(at), 3))):
                frame["pdq"] = pdq
        detail = {**video, "frames": listed}
        if not value:
            value = next((str(f["pdq"]) for f in listed if "pdq" in f), "")
    return MatchFacts(
        bank=str(evidence["bank"]),
        indicator_id=int(evidence["indicator_id"]),
        signal_type=signal_type,
        value=value,
        distance=int(evidence["distance"]),
        video=detail,
    )


def basis_of_evidence(evidence: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The basis the case's matches ran under: a detection order where one did, else the
    voluntary basis; None for evidence recorded before detection bases (migration 0019)."""
    bases: list[Mapping[str, Any]] = [
        e["basis"] for e in evidence if isinstance(e.get("basis"), Mapping)
    ]
    orders = [basis for basis in bases if basis.get("source") == "order"]
    chosen = orders or bases
    return chosen[0] if chosen else None


def _facts(item_ref: str, meta: Mapping[str, Any]) -> ItemFacts:
    extra = meta.get("extra") or {}
    return ItemFacts(
        item_ref=item_ref,
        account_id=meta.get("account_id"),
        username=meta.get("username"),
        email=meta.get("email"),
        phone=extra.get("phone"),
        upload_ip=meta.get("upload_ip"),
        upload_port=meta.get("upload_port"),
        uploaded_at=_time(meta.get("uploaded_at")),
        url=meta.get("url"),
        service=meta.get("service"),
        content_created_at=_time(meta.get("content_created_at")),
        content_modified_at=_time(meta.get("content_modified_at")),
    )


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
