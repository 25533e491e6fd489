"""Follow-ups to a report a provider already sent (`POST /v1/report-updates`): the platform
removed the item after the report left (Art 13(1)(i)), NCMEC or another organisation gave its case
number (Art 13(1)(h)), or a complaint reversed the decision and the provider retracts the report
(DSA Art 20(4)). Each is a `tutela.message/1` signed with the provider's registered key; it is
stored with the report (Art 45(2)) and applied to the report's row: `removed` is set, and a
retracted report is tagged `retracted` for the analysts. A replay, under any Idempotency-Key, is
answered as the first delivery was and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import CentreReport
from tutela.centre.providers import ProviderKeys, provider_by_key
from tutela.centre.update_models import CentreReportUpdate
from tutela.db.database import Database
from tutela.errors import InvalidInput, NotFound
from tutela.messaging.messages import Message, open_message
from tutela.messaging.signing import SigningWindow

UPDATE = "report_update"
RETRACTION = "report_retraction"
RETRACTED_TAG = "retracted"
TEXT_MAX = 256
ELSEWHERE_MAX = 20


@dataclass(frozen=True, slots=True)
class AcceptedUpdate:
    id: int
    report_id: int
    kind: str
    created: bool


def receive_report_update(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    keys: ProviderKeys | None = None,
    window: SigningWindow | None = None,
) -> AcceptedUpdate:
    """Verify, store and apply one follow-up in one transaction."""
    with database.unit_of_work() as session:
        public_key = (keys or ProviderKeys()).public_key(session.connection(), key_id)
        message = open_message(public_key, key_id, body, signature)
        provider = provider_by_key(session, key_id)
        previous = session.scalar(
            select(CentreReportUpdate).where(
                CentreReportUpdate.provider_id == provider.id,
                CentreReportUpdate.idempotency_key == message.idempotency_key,
            )
        )
        if previous is not None:
            return AcceptedUpdate(previous.id, previous.report_id, previous.kind, created=False)
        (window or SigningWindow()).check(message.signed_at, now)
        report = _report(session, provider.id, message.payload)
        _apply(report, message)
        row = CentreReportUpdate(
            provider_id=provider.id,
            report_id=report.id,
            kind=message.kind,
            idempotency_key=message.idempotency_key,
            body=body.decode("utf-8"),
            signature=signature,
            key_id=key_id,
            signed_at=message.signed_at,
            received_at=now,
        )
        session.add(row)
        session.flush()
        return AcceptedUpdate(row.id, report.id, row.kind, created=True)


def updates_of_report(session: Session, report_id: int) -> list[CentreReportUpdate]:
    return list(
        session.scalars(
            select(CentreReportUpdate)
            .where(CentreReportUpdate.report_id == report_id)
            .order_by(CentreReportUpdate.id)
        )
    )


def _report(session: Session, provider_id: int, payload: Mapping[str, Any]) -> CentreReport:
    uid = payload.get("report_id")
    if not isinstance(uid, str) or not 0 < len(uid) <= 64:
        raise InvalidInput("a report update names the report_id of the provider's report")
    report = session.scalar(
        select(CentreReport)
        .where(CentreReport.provider_id == provider_id, CentreReport.report_uid == uid)
        .order_by(CentreReport.id)
        .limit(1)
        .with_for_update()
    )
    if report is None:
        raise NotFound("no report of this provider carries that report_id")
    return report


def _apply(report: CentreReport, message: Message) -> None:
    payload = message.payload
    if message.kind == RETRACTION:
        _text(payload.get("reason"), "a retraction's reason")
        if RETRACTED_TAG not in (report.tags or []):
            report.tags = [*(report.tags or []), RETRACTED_TAG]
        return
    if message.kind != UPDATE:
        raise InvalidInput(f"unknown report follow-up {message.kind!r}")
    removal, elsewhere = payload.get("removal"), payload.get("reported_elsewhere")
    if removal is None and elsewhere is None:
        raise InvalidInput("a report update carries removal, reported_elsewhere, or both")
    if removal is not None:
        if not isinstance(removal, Mapping) or removal.get("removed") is not True:
            raise InvalidInput("removal says removed: true, with the time (Art 13(1)(i))")
        _time(removal.get("at"))
        report.removed = True
    if elsewhere is not None:
        if not isinstance(elsewhere, list) or len(elsewhere) > ELSEWHERE_MAX:
            raise InvalidInput(f"reported_elsewhere is a list of at most {ELSEWHERE_MAX}")
        for entry in elsewhere:
            if not isinstance(entry, Mapping):
                raise InvalidInput("reported_elsewhere holds organisation and case_number")
            _text(entry.get("organisation"), "an organisation")
            if entry.get("case_number") is not None:
                _text(entry.get("case_number"), "a case number")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= TEXT_MAX:
        raise InvalidInput(f"{what} is 1 to {TEXT_MAX} characters")
    return value


def _time(value: object) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("removal.at is an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidInput("removal.at needs a time zone")
    return at
