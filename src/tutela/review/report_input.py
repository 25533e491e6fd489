"""Turns a decided case into what a report is built from (Art 13(1), Annex III)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tutela.detection.models import Item
from tutela.reporting.fields import (
    Awareness,
    ContentFile,
    ItemFacts,
    Kind,
    MatchFacts,
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
    awareness: Awareness,
    reported_elsewhere: tuple[tuple[str, str], ...],
    removed_at: datetime | None,
) -> ReportInput:
    """Every field from what happened (`removed_at`: when the platform confirmed removal, None
    while it has not) and what the reviewer chose (`choices`, `awareness` already resolved)."""
    meta = item.meta or {}
    values = signal_values(item.signals)
    return ReportInput(
        case_id=case_id,
        item=_facts(item.item_id, meta),
        matches=tuple(
            MatchFacts(
                bank=str(e["bank"]),
                indicator_id=int(e["indicator_id"]),
                signal_type=str(e["signal_type"]),
                value=values.get(str(e["signal_type"]), ""),
                distance=int(e["distance"]),
            )
            for e in evidence
        ),
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
        detection_basis=basis_of_evidence(evidence),
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
        item_id=item_ref,
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
