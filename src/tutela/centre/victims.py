"""Victims' requests (Art 20-21): a victim, through an authority or a registered hotline, asks
whether material depicting them was reported to the centre. The request carries hashes only
(made on the victim's own device with `tutela hash`), signed with the requester's registered
Ed25519 key like a provider's messages (`tutela.messaging.messages`), with the same replay rules
as report intake: a signing time outside the window is refused, and a replay is answered as the
original was, from the stored answer.

The answer names the centre's matching reports, when and to what kind of authority they were
forwarded, and whether the material was removed; never a provider's user, a reporter or another
victim. When asked, the centre asks each provider concerned to remove the material, through its
outbox (`tutela.centre.triage.tell_provider`). Every request is audited with its answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.audit.log import Action, Subject, record
from tutela.auth.actors import acting_account
from tutela.auth.roles import Permission
from tutela.centre.linking import PDQ_LINK_DISTANCE, PdqLinker
from tutela.centre.models import CentreReport, CentreReportHash, Forwarding, ReportStatus
from tutela.centre.triage import EUROPOL, tell_provider
from tutela.centre.victim_models import VictimRequest, VictimRequester
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, UnknownRequester
from tutela.messaging.messages import open_message
from tutela.messaging.signing import (
    SigningWindow,
    key_id_of,
    load_public_key,
    signature_digest,
)
from tutela.signals.pdq import PdqSignal
from tutela.signals.registry import get_signal_type

KIND = "victim_request"
# Where the centre takes them (tutela.api.victims), and where `tutela centre requester ask` sends.
REQUESTS_PATH = "/v1/victim-requests"
REQUESTER_KINDS = ("authority", "hotline")
# A provider is asked to remove material matching a victim's request (Art 21(1)).
REMOVAL_REQUESTED = "removal_requested"
MAX_HASHES = 1000
# What a victim's device hashes (`tutela hash`) and the centre's reports carry.
SIGNAL_TYPES = ("pdq", "md5", "sha1", "sha256")
# The recipients' kind, the only thing a victim learns of where a report went (Art 20(2)).
EUROPOL_KIND = "europol"
LEA_KIND = "law_enforcement"


@dataclass(frozen=True, slots=True)
class RegisteredRequester:
    id: int
    name: str
    kind: str
    key_id: str


@dataclass(frozen=True, slots=True)
class VictimAnswer:
    answer: dict[str, Any]
    created: bool


def add_requester(
    database: Database,
    actor: str,
    name: str,
    kind: str,
    public_key_pem: str,
    *,
    now: datetime | None = None,
) -> RegisteredRequester:
    """Register an authority or hotline and the key its victims' requests are signed with."""
    now = now or utc_now()
    if kind not in REQUESTER_KINDS:
        raise InvalidInput(f"a requester is one of {', '.join(REQUESTER_KINDS)}")
    if not name.strip() or len(name) > 256:
        raise InvalidInput("a requester's name is 1-256 characters")
    key_id = key_id_of(load_public_key(public_key_pem))
    with database.unit_of_work() as session:
        account = acting_account(session, actor, Permission.MANAGE_SETTINGS)
        clash = session.scalar(
            select(VictimRequester).where(
                (VictimRequester.name == name) | (VictimRequester.key_id == key_id)
            )
        )
        if clash is not None:
            raise Conflict(f"a requester named {clash.name} or holding that key is registered")
        row = VictimRequester(
            name=name,
            kind=kind,
            public_key_pem=public_key_pem,
            key_id=key_id,
            active=True,
            created_at=now,
        )
        session.add(row)
        session.flush()
        details = {"change": "victim_requester_add", "name": name, "kind": kind, "key_id": key_id}
        subject = Subject("victim_requester", str(row.id))
        record(session, account.actor, Action.SETTING_CHANGE, subject, details, now=now)
        return RegisteredRequester(row.id, row.name, row.kind, row.key_id)


def hashes_of(hash_lines: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A request's hashes from `tutela hash --json` lines (the victim's own device made them):
    PDQ and every exact hash of each file; files that could not be hashed are left out."""
    hashes: dict[tuple[str, str], None] = {}
    for line in hash_lines:
        signals = line.get("signals")
        if not isinstance(signals, Mapping):
            continue
        pdq = signals.get("pdq")
        if isinstance(pdq, Mapping) and isinstance(pdq.get("hash"), str):
            hashes[("pdq", pdq["hash"])] = None
        for kind in ("md5", "sha1", "sha256"):
            value = signals.get(kind)
            if isinstance(value, str):
                hashes[(kind, value)] = None
    if not hashes:
        raise InvalidInput("no hashes: give the lines `tutela hash --json` printed")
    return [{"signal_type": kind, "value": value} for kind, value in hashes]


def answer_victim_request(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    idempotency_key: str,
    now: datetime,
    *,
    linker: PdqLinker | None = None,
    window: SigningWindow | None = None,
) -> VictimAnswer:
    """Verify, answer and record one request, in one transaction. Two deliveries of one
    request racing each other: the second's insert fails on the stored signature, and it is
    answered with the first's answer."""
    try:
        with database.unit_of_work() as session:
            return _answer(session, key_id, body, signature, idempotency_key, now, linker, window)
    except IntegrityError:
        with database.reader() as session:
            requester = _requester(session, key_id)
            previous = _previous(session, requester.id, signature_digest(signature))
        if previous is None:
            raise
        return previous


def _answer(
    session: Session,
    key_id: str,
    body: bytes,
    signature: str,
    idempotency_key: str,
    now: datetime,
    linker: PdqLinker | None,
    window: SigningWindow | None,
) -> VictimAnswer:
    requester = _requester(session, key_id)
    message = open_message(load_public_key(requester.public_key_pem), key_id, body, signature)
    if message.kind != KIND:
        raise InvalidInput(f"a victim's request is a {KIND!r} message")
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("an Idempotency-Key of 1 to 128 characters is required")
    digest = signature_digest(signature)
    previous = _previous(session, requester.id, digest)
    if previous is not None:  # a replay, even of a request now too old, is answered again
        return previous
    (window or SigningWindow()).check(message.signed_at, now)
    hashes = _hashes(message.payload.get("hashes"))
    ask_removal = message.payload.get("ask_removal", False)
    if not isinstance(ask_removal, bool):
        raise InvalidInput("ask_removal is true or false")
    found = _matching_reports(session, hashes, linker or PdqLinker())
    row = VictimRequest(
        requester_id=requester.id,
        signature_digest=digest,
        idempotency_key=idempotency_key,
        signed_at=message.signed_at,
        received_at=now,
        hash_count=len(hashes),
        matched_reports=len(found),
        removal_requests=0,
        answer={},
    )
    session.add(row)
    session.flush()
    matches = []
    asked = 0
    for report_id in sorted(found):
        report = session.get(CentreReport, report_id)
        assert report is not None
        wanted = (
            ask_removal and report.removed is not True and report.status != ReportStatus.UNFOUNDED
        )
        if wanted:
            # Art 21(1): the provider is asked; it learns which of its reports, not who asked.
            detail: dict[str, object] = {"reason": "a victim asked for removal (Art 21)"}
            tell_provider(
                session, report, REMOVAL_REQUESTED, detail, now, key=f"victim-{row.id}-{report.id}"
            )
            asked += 1
        matches.append(_match(session, report, found[report_id], wanted))
    answer: dict[str, Any] = {
        "request_id": row.id,
        "received_at": now.isoformat(),
        "hashes": len(hashes),
        "found": bool(matches),
        "matches": matches,
    }
    row.answer, row.removal_requests = answer, asked
    details = {
        "requester": requester.name,
        "hashes": len(hashes),
        "ask_removal": ask_removal,
        "matched_reports": sorted(found),
        "removal_requests": asked,
        "answer": answer,
    }
    subject = Subject("victim_request", str(row.id))
    record(session, f"requester:{requester.id}", KIND, subject, details, now=now)
    return VictimAnswer(answer, created=True)


def _requester(session: Session, key_id: str) -> VictimRequester:
    requester = session.scalar(
        select(VictimRequester).where(VictimRequester.key_id == key_id, VictimRequester.active)
    )
    if requester is None:
        raise UnknownRequester("no registered authority or hotline holds that signing key")
    return requester


def _previous(session: Session, requester_id: int, digest: str) -> VictimAnswer | None:
    answer = session.scalar(
        select(VictimRequest.answer).where(
            VictimRequest.requester_id == requester_id, VictimRequest.signature_digest == digest
        )
    )
    return None if answer is None else VictimAnswer(dict(answer), created=False)


def _hashes(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("a victim's request carries a list of hashes")
    if len(value) > MAX_HASHES:
        raise InvalidInput(f"a victim's request carries at most {MAX_HASHES} hashes")
    found: dict[tuple[str, str], None] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise InvalidInput("each hash is {signal_type, value}")
        kind, text = entry.get("signal_type"), entry.get("value")
        if kind not in SIGNAL_TYPES:
            raise InvalidInput(f"signal_type is one of {', '.join(SIGNAL_TYPES)}")
        if not isinstance(text, str):
            raise InvalidInput(f"a {kind} hash is text")
        found[(kind, get_signal_type(kind).validate(text))] = None
    return list(found)


@dataclass(frozen=True, slots=True)
class _Found:
    signal_types: frozenset[str]
    pdq_distance: int | None


def _matching_reports(
    session: Session, hashes: list[tuple[str, str]], linker: PdqLinker
) -> dict[int, _Found]:
    """Reports holding one of the exact hashes, or a PDQ hash within the link distance."""
    kinds: dict[int, set[str]] = {}
    distances: dict[int, int] = {}
    exact = [h for h in hashes if h[0] != "pdq"]
    if exact:
        rows = session.execute(
            select(CentreReportHash.report_id, CentreReportHash.signal_type).where(
                tuple_(CentreReportHash.signal_type, CentreReportHash.value).in_(exact)
            )
        ).all()
        for report_id, signal_type in rows:
            kinds.setdefault(report_id, set()).add(signal_type)
    pdqs = [value for kind, value in hashes if kind == "pdq"]
    if pdqs:
        near = linker.near_reports(session.connection(), pdqs)
        if near:
            stored = session.execute(
                select(CentreReportHash.report_id, CentreReportHash.value).where(
                    CentreReportHash.report_id.in_(near), CentreReportHash.signal_type == "pdq"
                )
            ).all()
            for report_id, value in stored:
                distance = min(PdqSignal.distance(value, asked) for asked in pdqs)
                if distance <= PDQ_LINK_DISTANCE:
                    kinds.setdefault(report_id, set()).add("pdq")
                    distances[report_id] = min(distance, distances.get(report_id, distance))
    return {r: _Found(frozenset(k), distances.get(r)) for r, k in kinds.items()}


def _match(
    session: Session, report: CentreReport, found: _Found, removal_requested: bool
) -> dict[str, Any]:
    """What a victim learns of one report: no provider, user, reporter or content."""
    forwardings = session.execute(
        select(Forwarding.recipient, Forwarding.forwarded_at)
        .where(Forwarding.report_id == report.id)
        .order_by(Forwarding.forwarded_at, Forwarding.id)
    ).all()
    return {
        "report_id": report.id,
        "reported_at": report.received_at.isoformat(),
        "matched_on": sorted(found.signal_types),
        "pdq_distance": found.pdq_distance,
        "assessment": report.status,
        "forwarded": [
            {"to": EUROPOL_KIND if recipient == EUROPOL else LEA_KIND, "at": at.isoformat()}
            for recipient, at in forwardings
        ],
        "removed": report.removed,
        "removal_requested": removal_requested,
    }
