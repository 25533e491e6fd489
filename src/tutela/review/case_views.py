"""What a case page shows: the match evidence (bank, tags, distance, variant), the platform's
metadata, the decisions so far and the measures under way; and the content behind it, for the
thumbnail and the reveal, read from the held payload or, once decided, from the vault."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import select

from tutela.audit.log import Action, Subject, record
from tutela.auth.roles import Permission, permissions_of
from tutela.auth.users import UserView
from tutela.db.database import Database
from tutela.detection import held_payloads
from tutela.detection.models import UNDECIDED, Case, CaseState, Item
from tutela.enforcement.notices import NoticeView, notices_of_case
from tutela.enforcement.takedown import TakedownView, takedown_of_case
from tutela.enforcement.vault import Vault
from tutela.errors import NotFound
from tutela.indicators.models import Bank
from tutela.master_key import configured_master_key
from tutela.review.complaints import ComplaintView, complaints_of_case
from tutela.review.decisions import Decision, decisions_of_case
from tutela.review.queues import QueueEntry, entry_of
from tutela.review.report_choices import awareness_of
from tutela.review.report_input import basis_of_evidence
from tutela.settings import Settings

REVEAL_PURPOSE = "review reveal"
# Matched frames a video case's strip shows at most (the evidence lists up to 100 per match).
STRIP_FRAMES = 8


@dataclass(frozen=True, slots=True)
class EvidenceView:
    bank: str
    tags: tuple[str, ...]
    verified: bool
    signal_type: str
    distance: int
    variant: str | None
    outcome: str
    # A video's match: its shares and the matched frames' times, as a reviewer reads them.
    video_summary: str = ""
    frame_times: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameView:
    """A matched frame of a video case, for its strip: the upload's frame time, its distance,
    the bank, and where the banked video shows it (None: it showed a banked image)."""

    time: float
    distance: int
    bank: str
    banked_time: float | None = None


@dataclass(frozen=True, slots=True)
class DecisionLine:
    reviewer: str
    decision: str
    note: str
    status_after: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    entry: QueueEntry
    item_id: int
    evidence: tuple[EvidenceView, ...]
    metadata: dict[str, Any]
    decisions: tuple[DecisionLine, ...]
    has_content: bool
    vault_record_id: int | None
    takedown: TakedownView | None
    notices: tuple[NoticeView, ...]
    complaints: tuple[ComplaintView, ...]
    choices: tuple[Decision, ...]  # what the viewer may decide now
    # Annex III, as the item came (the reviewer may say otherwise when confirming).
    awareness: str = "own_initiative"
    # A video's case: its matched frames, earliest first (at most STRIP_FRAMES), for the strip.
    is_video: bool = False
    frames: tuple[FrameView, ...] = ()


def case_view(
    database: Database,
    case_id: int,
    viewer: UserView,
    actor: str,
    settings: Settings,
    now: datetime,
) -> CaseView:
    """The case page's data; opening it is audited as a `view` (DESIGN rule 3)."""
    with database.unit_of_work() as session:
        case = session.get(Case, case_id)
        item = session.get(Item, case.item_id) if case is not None else None
        if case is None or item is None:
            raise NotFound(f"no case {case_id}")
        banks = {b.name: b for b in session.scalars(select(Bank))}
        decisions = decisions_of_case(session, case_id)
        held = held_payloads.is_held(session, item.id)
        record_id = _vault_record(decisions)
        record(session, actor, Action.VIEW, Subject("case", str(case_id)), {}, now=now)
        verified = {name for name, bank in banks.items() if bank.verified}
        return CaseView(
            entry=entry_of(
                case, item.item_ref, item.meta, verified, dict(settings.review_sla_hours), now
            ),
            item_id=item.id,
            evidence=tuple(_evidence(e, banks) for e in case.evidence or []),
            metadata=dict(item.meta or {}),
            decisions=tuple(
                DecisionLine(d.reviewer, d.decision, d.note, d.status_after, d.created_at)
                for d in decisions
            ),
            has_content=held or record_id is not None,
            vault_record_id=record_id,
            takedown=takedown_of_case(session, case_id),
            notices=tuple(notices_of_case(session, case_id)),
            complaints=tuple(complaints_of_case(session, case_id)),
            choices=_choices(case.status, viewer, {d.user_id for d in decisions}),
            awareness=awareness_of(
                item.meta,
                [
                    list(banks[str(e.get("bank"))].tags or [])
                    for e in case.evidence or []
                    if str(e.get("bank")) in banks
                ],
                under_order=(basis_of_evidence(case.evidence or []) or {}).get("source") == "order",
            ).value,
            is_video=_is_video(item.signals, case.evidence or []),
            frames=matched_frames(case.evidence or []),
        )


def case_content(
    database: Database, case_id: int, actor: str, settings: Settings, purpose: str
) -> bytes | None:
    """The case's content bytes: the held payload while undecided, else the vault's copy (that
    opening is audited by the vault). None when the node never held or no longer holds it. A
    video is read as a stream instead (`copy_case_content`)."""
    master_key = configured_master_key(settings)
    with database.reader() as session:
        item_id = session.scalar(select(Case.item_id).where(Case.id == case_id))
        if item_id is None:
            raise NotFound(f"no case {case_id}")
        data = held_payloads.held_content(session, item_id, master_key)
        record_id = _vault_record(decisions_of_case(session, case_id))
    if data is not None:
        return data
    if record_id is None:
        return None
    return Vault.from_settings(settings).open(database, record_id, actor, purpose).content


def copy_case_content(
    database: Database,
    case_id: int,
    actor: str,
    settings: Settings,
    purpose: str,
    out: BinaryIO,
    *,
    held_only: bool = False,
) -> bool:
    """`case_content` written into `out` chunk by chunk (a video of any size: one chunk in
    memory at a time), from what is held while undecided, else (unless `held_only`, as for a
    preview) from the vault, whose opening it audits. False when there is nothing to copy."""
    master_key = configured_master_key(settings)
    with database.reader() as session:
        item_id = session.scalar(select(Case.item_id).where(Case.id == case_id))
        if item_id is None:
            raise NotFound(f"no case {case_id}")
        held = held_payloads.held_stream(session, item_id, master_key)
        if held is not None:
            _write_all(held, out)
            return True
        record_id = None if held_only else _vault_record(decisions_of_case(session, case_id))
    if record_id is None:
        return False
    opened = Vault.from_settings(settings).open_stream(database, record_id, actor, purpose)
    _write_all(opened.chunks, out)
    return True


def _write_all(chunks: Iterator[bytes], out: BinaryIO) -> None:
    for chunk in chunks:
        out.write(chunk)


def _vault_record(decisions: list[Any]) -> int | None:
    for d in decisions:
        vault = (d.effects or {}).get("vault") or {}
        if "record_id" in vault:
            return int(vault["record_id"])
    return None


def _evidence(e: dict[str, Any], banks: dict[str, Bank]) -> EvidenceView:
    bank = banks.get(str(e.get("bank")))
    return EvidenceView(
        bank=str(e.get("bank")),
        tags=tuple(bank.tags or ()) if bank is not None else (),
        verified=bool(bank.verified) if bank is not None else False,
        signal_type=str(e.get("signal_type")),
        distance=int(e.get("distance", 0)),
        variant=e.get("variant"),
        outcome=str(e.get("outcome", "")),
        **_video_lines(e.get("video")),
    )


def _video_lines(video: object) -> dict[str, Any]:
    """A video match's shares and frame times as short text ("12.0 s (banked 40.0 s)")."""
    if not isinstance(video, dict):
        return {}
    shares = [
        f"{float(video[key]):.0f} % of {whose} frames"
        for key, whose in (
            ("query_match_percent", "the upload's"),
            ("compared_match_percent", "the banked video's"),
        )
        if isinstance(video.get(key), int | float)
    ]
    times = []
    for frame in video.get("frames") or []:
        if not isinstance(frame, dict) or not isinstance(frame.get("time"), int | float):
            continue
        text = f"{float(frame['time']):.1f} s"
        if isinstance(frame.get("banked_time"), int | float):
            text += f" (banked {float(frame['banked_time']):.1f} s)"
        times.append(text)
    count = video.get("matched_frames")
    summary = "matched " + ", ".join(shares) if shares else "a banked image in its frames"
    if isinstance(count, int) and count > len(times):
        summary += f"; first {len(times)} of {count} matched frames"
    return {"video_summary": summary, "frame_times": tuple(times)}


def _is_video(signals: object, evidence: list[dict[str, Any]]) -> bool:
    return (isinstance(signals, dict) and "vpdq" in signals) or any(
        isinstance(e.get("video"), dict) for e in evidence
    )


def matched_frames(evidence: list[dict[str, Any]]) -> tuple[FrameView, ...]:
    """The distinct matched frame times of a case's video matches, each with its nearest
    match, earliest first, at most STRIP_FRAMES (the strip's stills are made at these times)."""
    nearest: dict[float, FrameView] = {}
    for match in evidence:
        video = match.get("video")
        if not isinstance(video, dict):
            continue
        for frame in video.get("frames") or []:
            if not isinstance(frame, dict) or not isinstance(frame.get("time"), int | float):
                continue
            banked = frame.get("banked_time")
            view = FrameView(
                time=float(frame["time"]),
                distance=int(frame.get("distance", 0)),
                bank=str(match.get("bank")),
                banked_time=float(banked) if isinstance(banked, int | float) else None,
            )
            known = nearest.get(view.time)
            if known is None or view.distance < known.distance:
                nearest[view.time] = view
    return tuple(nearest[time] for time in sorted(nearest)[:STRIP_FRAMES])


def _choices(status: str, viewer: UserView, deciders: set[int]) -> tuple[Decision, ...]:
    granted = permissions_of(viewer.roles)
    if status not in UNDECIDED:
        return ()
    if status == CaseState.ESCALATED:
        if Permission.DECIDE_ESCALATED not in granted:
            return ()
        return (Decision.CONFIRM_KNOWN, Decision.CONFIRM_NEW, Decision.NOT_ABUSE)
    if Permission.REVIEW not in granted:
        return ()
    return tuple(Decision)


def video_frame_times(database: Database, case_id: int) -> tuple[float, ...] | None:
    """The times of a video case's strip (its matched frames, earliest first); None when the
    case is not of a video."""
    with database.reader() as session:
        row = session.execute(
            select(Case.evidence, Item.signals)
            .join(Item, Item.id == Case.item_id)
            .where(Case.id == case_id)
        ).one_or_none()
    if row is None:
        raise NotFound(f"no case {case_id}")
    evidence = list(row.evidence or [])
    if not _is_video(row.signals, evidence):
        return None
    return tuple(frame.time for frame in matched_frames(evidence))


def held_content(database: Database, case_id: int, settings: Settings) -> bytes | None:
    """The payload an undecided case still holds (for its blurred preview), else None."""
    master_key = configured_master_key(settings)
    with database.reader() as session:
        item_id = session.scalar(select(Case.item_id).where(Case.id == case_id))
        if item_id is None:
            return None
        return held_payloads.held_content(session, item_id, master_key)


def reveal_content(
    database: Database, case_id: int, actor: str, settings: Settings
) -> bytes | None:
    """The content for an explicit reveal: the `reveal` is audited and committed before any
    byte is returned (DESIGN rule 3)."""
    _audit_reveal(database, case_id, actor)
    return case_content(database, case_id, actor, settings, REVEAL_PURPOSE)


def reveal_video(
    database: Database, case_id: int, actor: str, settings: Settings, out: BinaryIO
) -> bool:
    """`reveal_content` for a video: audited and committed first, then copied into `out` chunk
    by chunk (`copy_case_content`); False when the node no longer holds it."""
    _audit_reveal(database, case_id, actor)
    return copy_case_content(database, case_id, actor, settings, REVEAL_PURPOSE, out)


def held_video(database: Database, case_id: int, settings: Settings, out: BinaryIO) -> bool:
    """The video an undecided case still holds (for its blurred strip), copied into `out` chunk
    by chunk; False when none is held (a strip never opens the vault)."""
    return copy_case_content(database, case_id, "", settings, "", out, held_only=True)


def _audit_reveal(database: Database, case_id: int, actor: str) -> None:
    with database.unit_of_work() as session:
        if session.get(Case, case_id) is None:
            raise NotFound(f"no case {case_id}")
        record(session, actor, Action.REVEAL, Subject("case", str(case_id)), {})
