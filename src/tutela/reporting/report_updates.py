"""Signed follow-ups to a report the EU Centre already has: what became true after the report
was built, and a retraction when the decision behind it was reversed.

- removal (Art 13(1)(i)): the platform confirmed the takedown after the report left;
- reported elsewhere (Art 13(1)(h)): NCMEC's CyberTipline answered with its report id;
- retraction (DSA Art 20(4)): a complaint reversed the decision, so the report no longer stands;
  NCMEC's report is withdrawn through its `/retract` too.

Each is a `tutela.message/1` signed with the provider's report key, queued in the outbox in the
transaction of the event that causes it, keyed `<report id>/<what>` so that it is queued once,
and posted by the centre transport to the centre's `/v1/report-updates`. An update carries only
what changed; the report as signed stays the evidence of what was known when it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.messaging.canonical import parse_json
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox import enqueue
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, default_key_file, load_key_file
from tutela.reporting.fields import ProviderIdentity
from tutela.reporting.report import elsewhere_entries, report_id_for
from tutela.settings import Settings

CENTRE = "centre"
NCMEC = "ncmec"
NCMEC_ORGANISATION = "NCMEC"
UPDATE = "report_update"
RETRACTION = "report_retraction"
RETRACT = "retract"  # the outbox kind of a withdrawal at NCMEC
KINDS = frozenset({UPDATE, RETRACTION})

KeySource = Callable[[], SigningKey]


@dataclass(frozen=True, slots=True)
class FollowUps:
    """What a follow-up needs: which report a case gave (its id is derived from the provider
    and the case, `report_id_for`) and the key that signs, read only when one is queued."""

    provider: ProviderIdentity
    key: KeySource

    def report_key(self, case_id: int) -> str:
        return report_id_for(self.provider, case_id)


def follow_ups_from(settings: Settings) -> FollowUps | None:
    """None when the node reports to no EU Centre (TUTELA_CENTRE_URL unset)."""
    if not settings.centre_url:
        return None
    return FollowUps(ProviderIdentity.from_settings(settings), lazy_key(settings))


def lazy_key(settings: Settings) -> KeySource:
    """The provider's report key, read from its file on first use and kept."""
    keys: list[SigningKey] = []

    def key() -> SigningKey:
        if not keys:
            keys.append(load_key_file(default_key_file(settings)))
        return keys[0]

    return key


def signed_payload(
    key: SigningKey, kind: str, idempotency_key: str, payload: dict[str, Any], now: datetime
) -> dict[str, str]:
    """The outbox payload of a signed message: its exact bytes, signature and key id."""
    signed = sign_message(key, kind, idempotency_key, payload, now)
    return {
        "body": signed.body.decode("utf-8"),
        "signature": signed.signature,
        "key_id": signed.key_id,
    }


def sent_report(session: Session, report_key: str) -> dict[str, Any] | None:
    """The report we queued for the centre under `report_key`, as signed; None if there is none."""
    row = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.destination == CENTRE,
            OutboxMessage.idempotency_key == report_key,
            OutboxMessage.kind == "report",
        )
    )
    if row is None:
        return None
    report = parse_json(str(row.payload.get("body", "")).encode("utf-8"))
    return report if isinstance(report, dict) else None


def queue_removal_update(
    session: Session,
    key: KeySource,
    report_key: str,
    removed_at: datetime,
    action: str,
    now: datetime,
) -> OutboxMessage | None:
    """Tell the centre that the item of `report_key` was removed (or disabled); None when no
    report went to the centre, or the report already said so."""
    report = sent_report(session, report_key)
    if report is None or (report.get("removal") or {}).get("removed") is True:
        return None
    payload = {
        "report_id": report_key,
        "removal": {"removed": True, "at": removed_at.isoformat(), "action": action},
    }
    return _queue(session, key(), UPDATE, f"{report_key}/removed", payload, now)


def queue_ncmec_case_number(
    session: Session, key: KeySource, report_key: str, ncmec_report_id: str, now: datetime
) -> OutboxMessage | None:
    """Tell the centre NCMEC's CyberTipline report id, once NCMEC gave it (Art 13(1)(h))."""
    report = sent_report(session, report_key)
    if report is None:
        return None
    pairs = [
        (str(e.get("organisation")), str(e.get("case_number") or ""))
        for e in report.get("reported_elsewhere") or []
        if isinstance(e, dict) and e.get("organisation") != NCMEC_ORGANISATION
    ]
    pairs.append((NCMEC_ORGANISATION, ncmec_report_id))
    payload = {"report_id": report_key, "reported_elsewhere": elsewhere_entries(pairs)}
    return _queue(session, key(), UPDATE, f"{report_key}/ncmec", payload, now)


def queue_retraction(
    session: Session, key: KeySource, report_key: str, reason: str, now: datetime
) -> dict[str, int]:
    """Withdraw the report everywhere it went: a signed retraction to the centre, and NCMEC's
    `/retract` where the case was filed there. Returns the queued message ids by destination."""
    queued: dict[str, int] = {}
    if sent_report(session, report_key) is not None:
        payload = {"report_id": report_key, "reason": reason, "retracted_at": now.isoformat()}
        queued[CENTRE] = _queue(
            session, key(), RETRACTION, f"{report_key}/retraction", payload, now
        ).id
    filed_at_ncmec = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.destination == NCMEC,
            OutboxMessage.idempotency_key == report_key,
        )
    )
    if filed_at_ncmec is not None:
        message = enqueue(
            session, NCMEC, RETRACT, {"report_key": report_key}, f"{report_key}/retract", now
        )
        queued[NCMEC] = message.id
    return queued


def _queue(
    session: Session,
    key: SigningKey,
    kind: str,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    return enqueue(
        session,
        CENTRE,
        kind,
        signed_payload(key, kind, idempotency_key, payload, now),
        idempotency_key,
        now,
    )
