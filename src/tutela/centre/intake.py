"""Intake of signed reports (Art 12(1), Art 46): signature, schema, de-duplication, incidents.

Reports of the same material, from any provider, join one incident: an equal exact hash
(MD5, SHA-1, SHA-256), or PDQ hashes within `PDQ_LINK_DISTANCE` bits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tutela.centre.models import CentreProvider, CentreReport, CentreReportHash, Incident
from tutela.centre.providers import provider_by_key
from tutela.db.database import Database
from tutela.errors import IncompleteReport, InvalidInput, InvalidSignature
from tutela.reporting.canonical import parse_json
from tutela.reporting.fields import Kind
from tutela.reporting.report import SCHEMA, missing_fields
from tutela.reporting.signing import load_public_key, verify_signature

# Bits within which two PDQ hashes count as the same material (the industry's usual threshold).
PDQ_LINK_DISTANCE = 31
EXACT_TYPES = {"md5": 32, "sha1": 40, "sha256": 64}
HEX = re.compile(r"^[0-9a-f]+$")
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AcceptedReport:
    id: int
    status: str
    incident_id: int | None
    created: bool


def receive_report(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    idempotency_key: str,
    now: datetime,
) -> AcceptedReport:
    """The service call the intake endpoint makes: one transaction per received report."""
    with database.unit_of_work() as session:
        return accept_report(session, key_id, body, signature, idempotency_key, now)


def accept_report(
    session: Session,
    key_id: str,
    body: bytes,
    signature: str,
    idempotency_key: str,
    now: datetime,
) -> AcceptedReport:
    """Store a report whose signature verifies against its provider's registered key; a repeat
    with the same idempotency key returns the stored report and stores nothing."""
    provider = provider_by_key(session, key_id)
    verify_signature(load_public_key(provider.public_key_pem), body, signature)
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("an Idempotency-Key of 1 to 128 characters is required")
    existing = session.scalar(
        select(CentreReport).where(
            CentreReport.provider_id == provider.id,
            CentreReport.idempotency_key == idempotency_key,
        )
    )
    if existing is not None:
        return AcceptedReport(existing.id, existing.status, existing.incident_id, created=False)
    report = _checked(body, key_id)
    hashes = _hashes(report)
    stored = CentreReport(
        provider_id=provider.id,
        idempotency_key=idempotency_key,
        report_uid=str(report["report_id"]),
        body=body.decode("utf-8"),
        signature=signature,
        key_id=key_id,
        signed_at=str(report["signed_at"]),
        received_at=now,
        kind=str(report["kind"]),
        urgent=bool((report.get("urgency") or {}).get("urgent")),
        removed=(report.get("removal") or {}).get("removed"),
        country=_country(report, provider),
        status="received",
        tags=[],
    )
    session.add(stored)
    session.flush()
    session.add_all(
        CentreReportHash(report_id=stored.id, signal_type=kind, value=value)
        for kind, value in hashes
    )
    stored.incident_id = _link_incident(session, stored.id, hashes, now)
    session.flush()
    return AcceptedReport(stored.id, stored.status, stored.incident_id, created=True)


def _checked(body: bytes, key_id: str) -> Mapping[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("the report is larger than the centre accepts")
    report = parse_json(body)
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise InvalidInput(f"the body is not a {SCHEMA} report")
    if report.get("key_id") != key_id or not isinstance(report.get("signed_at"), str):
        # Art 13(1)(b): the signed time stamp and key id are part of what was signed.
        raise InvalidSignature("the report names another key, or lacks its signed time stamp")
    if not isinstance(report.get("report_id"), str):
        raise InvalidInput("the report lacks its report_id")
    if report.get("kind") not in {k.value for k in Kind}:
        raise InvalidInput("kind must be known, new or solicitation (Art 13(1)(e))")
    missing = missing_fields(report)
    if missing:
        names = tuple(str(m) for m in missing)
        raise IncompleteReport("the report lacks required fields: " + ", ".join(names), names)
    return report


def _hashes(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for entry in (report.get("content") or {}).get("hashes") or []:
        if not isinstance(entry, Mapping):
            raise InvalidInput("content.hashes holds objects of signal_type and value")
        kind, value = str(entry.get("signal_type")), str(entry.get("value")).lower()
        length = 64 if kind == "pdq" else EXACT_TYPES.get(kind)
        if length is not None and (len(value) != length or not HEX.match(value)):
            raise InvalidInput(f"a {kind} hash is {length} hexadecimal digits")
        found[(kind, value)] = None
    return list(found)


def _link_incident(
    session: Session, report_id: int, hashes: list[tuple[str, str]], now: datetime
) -> int:
    linked: set[int] = set()
    exact = [(k, v) for k, v in hashes if k in EXACT_TYPES]
    for kind, value in exact:
        linked.update(
            i
            for i in session.scalars(
                select(CentreReport.incident_id)
                .join(CentreReportHash, CentreReportHash.report_id == CentreReport.id)
                .where(
                    CentreReportHash.signal_type == kind,
                    CentreReportHash.value == value,
                    CentreReport.id != report_id,
                    CentreReport.incident_id.is_not(None),
                )
            ).all()
            if i is not None
        )
    pdqs = [int(v, 16) for k, v in hashes if k == "pdq"]
    if pdqs:
        # A scan of the stored PDQ hashes: fine at intake volumes; the matcher's PdqIndex takes
        # over when the reports database outgrows it.
        rows = session.execute(
            select(CentreReport.incident_id, CentreReportHash.value)
            .join(CentreReportHash, CentreReportHash.report_id == CentreReport.id)
            .where(
                CentreReportHash.signal_type == "pdq",
                CentreReport.id != report_id,
                CentreReport.incident_id.is_not(None),
            )
        ).all()
        for incident_id, value in rows:
            code = int(value, 16)
            near = any((code ^ mine).bit_count() <= PDQ_LINK_DISTANCE for mine in pdqs)
            if near and incident_id is not None:
                linked.add(incident_id)
    if not linked:
        incident = Incident(created_at=now)
        session.add(incident)
        session.flush()
        return incident.id
    keep = min(linked)
    if len(linked) > 1:
        # This report bridges incidents: they were one material all along.
        session.execute(
            update(CentreReport)
            .where(CentreReport.incident_id.in_(linked - {keep}))
            .values(incident_id=keep)
            .execution_options(synchronize_session=False)
        )
    return keep


def _country(report: Mapping[str, Any], provider: CentreProvider) -> str | None:
    """The Member State the report points to: the upload's declared country, else the
    provider's (Art 48(3)); None leaves it to Europol alone."""
    geo = (report.get("location") or {}).get("geo") or {}
    country = geo.get("country") or (report.get("provider") or {}).get("country")
    country = country or provider.country
    return str(country).upper()[:2] if country else None
