"""Intake of signed reports (Art 12(1), Art 46): signature, schema, de-duplication, incidents.

Reports of the same material, from any provider, join one incident (see `tutela.centre.linking`).
The path is built for sustained floods: the provider's key comes from a per-process cache, and a
new report costs one insert (which also checks, in the same statement, that its provider may
report and that its idempotency key and signature are new), one multi-row insert of its hashes
and the linking look-ups; a repeat costs one more look-up and stores nothing.

Replays (DESIGN contracts): a signed report is stored once per provider, recognised by its
signature's digest whatever Idempotency-Key comes with it, and answered as it was the first time;
a signing time outside the window (`TUTELA_SIGNED_MESSAGE_MAX_AGE_S`, `…_MAX_SKEW_S`) is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Insert,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tutela.centre import report_shape as shape
from tutela.centre.linking import PdqLinker, incident_for
from tutela.centre.models import (
    CentreProvider,
    CentreReport,
    CentreReportHash,
    Incident,
    ReportStatus,
)
from tutela.centre.providers import ProviderKeys
from tutela.db.database import Database
from tutela.errors import (
    IncompleteReport,
    InvalidInput,
    InvalidSignature,
    MalformedReport,
    StaleSignature,
    UnknownProvider,
)
from tutela.messaging.canonical import parse_json
from tutela.messaging.signing import SigningWindow, signature_digest, verify_signature
from tutela.reporting.fields import Kind
from tutela.reporting.report import SCHEMA, missing_fields
from tutela.signals.registry import signal_types

KINDS = frozenset(k.value for k in Kind)
# Columns of a new report bound from the request; provider_id and country come from the
# provider's row in the same statement.
_BOUND = (
    "idempotency_key",
    "report_uid",
    "body",
    "signature",
    "signature_digest",
    "key_id",
    "signed_at",
    "received_at",
    "kind",
    "urgent",
    "removed",
    "status",
    "tags",
    "incident_id",
    "intake_incident_id",
)


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
    linker: PdqLinker | None = None,
    keys: ProviderKeys | None = None,
    window: SigningWindow | None = None,
) -> AcceptedReport:
    """The service call the intake endpoint makes: one transaction per received report.

    Two deliveries of one report may race (a sender retrying while its first try is still
    being stored): the database makes the second insert wait for the first and then do
    nothing, and the second answers with the first's report."""
    with database.unit_of_work() as session:
        return accept_report(
            session,
            key_id,
            body,
            signature,
            idempotency_key,
            now,
            linker,
            keys or ProviderKeys(),
            window,
        )


def accept_report(
    session: Session,
    key_id: str,
    body: bytes,
    signature: str,
    idempotency_key: str,
    now: datetime,
    linker: PdqLinker | None = None,
    keys: ProviderKeys | None = None,
    window: SigningWindow | None = None,
) -> AcceptedReport:
    """Store a report whose signature verifies against its provider's registered key and whose
    signing time lies within the window. A repeat — the same Idempotency-Key, or the same signed
    report under any key (a replay) — stores nothing and is answered as the original was."""
    connection = session.connection()
    public_key = (keys or ProviderKeys()).public_key(connection, key_id)
    verify_signature(public_key, body, signature)
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("an Idempotency-Key of 1 to 128 characters is required")
    report = _checked(body, key_id)
    digest = signature_digest(signature)
    try:
        (window or SigningWindow()).check(report["signed_at"], now)
    except StaleSignature:
        # Refused, unless it repeats a report taken while it was fresh (a lost answer).
        previous = _previous(session, key_id, idempotency_key, digest)
        if previous is None:
            raise
        return previous
    hashes = _hashes(report)
    # Linked before the report is stored, so that it is stored with its incident in one insert.
    choice = incident_for(connection, hashes, linker or PdqLinker(), now)
    incident_id, linked = choice.incident_id, choice.linked
    stored = connection.execute(
        _report_insert(connection.dialect.name),
        {
            "provider_key": key_id,
            "idempotency_key": idempotency_key,
            "report_uid": shape.report_uid(report),
            "body": body.decode("utf-8"),
            "signature": signature,
            "signature_digest": digest,
            "key_id": key_id,
            "signed_at": report["signed_at"],
            "received_at": now,
            "kind": str(report["kind"]),
            "urgent": shape.urgent(report),
            "removed": shape.removed(report),
            "status": ReportStatus.RECEIVED,
            "tags": [],
            "incident_id": incident_id,
            "intake_incident_id": incident_id,
            "country": shape.declared_country(report),
        },
    ).scalar()
    if stored is None:
        if not linked:  # the incident made for this report has no report
            connection.execute(delete(Incident).where(Incident.id == incident_id))
        previous = _previous(session, key_id, idempotency_key, digest)
        if previous is None:  # nothing matched: the provider may no longer report
            if keys is not None:
                keys.forget(key_id)
            raise UnknownProvider("no registered provider holds that signing key")
        return previous
    if hashes:
        connection.execute(
            insert(CentreReportHash),
            [{"report_id": stored, "signal_type": k, "value": v} for k, v in hashes],
        )
    if len(linked) > 1:
        # This report bridges incidents: they were one material all along.
        connection.execute(
            update(CentreReport)
            .where(CentreReport.incident_id.in_(linked - {incident_id}))
            .values(incident_id=incident_id)
        )
    return AcceptedReport(int(stored), ReportStatus.RECEIVED, incident_id, created=True)


def _previous(
    session: Session, key_id: str, idempotency_key: str, digest: str
) -> AcceptedReport | None:
    """The report this one repeats — the same signed report first, else the same key — answered
    as it was when received (status `received`, the incident intake named)."""
    rows = session.execute(
        select(
            CentreReport.id,
            CentreReport.signature_digest,
            CentreReport.incident_id,
            CentreReport.intake_incident_id,
        )
        .join(CentreProvider, CentreProvider.id == CentreReport.provider_id)
        .where(
            CentreProvider.key_id == key_id,
            CentreProvider.active,
            or_(
                CentreReport.signature_digest == digest,
                CentreReport.idempotency_key == idempotency_key,
            ),
        )
        .order_by(CentreReport.id)
    ).all()
    if not rows:
        return None
    row = next((r for r in rows if r.signature_digest == digest), rows[0])
    incident = row.intake_incident_id if row.intake_incident_id is not None else row.incident_id
    return AcceptedReport(row.id, ReportStatus.RECEIVED, incident, created=False)


@functools.cache
def _report_insert(dialect: str) -> Insert:
    """INSERT … SELECT from the provider's row (still registered and active, read in the same
    statement) … ON CONFLICT DO NOTHING RETURNING id. Built once per
    dialect with bound parameters, so its compiled form is cached too."""
    table = CentreReport.__table__
    assert isinstance(table, Table)
    country = func.coalesce(
        bindparam("country", type_=String), func.nullif(CentreProvider.country, "")
    )
    source = select(
        CentreProvider.id, *(bindparam(c, type_=table.c[c].type) for c in _BOUND), country
    ).where(CentreProvider.key_id == bindparam("provider_key", type_=String), CentreProvider.active)
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        build(table)
        .from_select(["provider_id", *_BOUND, "country"], source)
        # No conflict target: a repeated idempotency key and a replayed signature both do nothing.
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )


def _checked(body: bytes, key_id: str) -> Mapping[str, Any]:
    """The report's structure, checked before anything is stored (`report_shape`)."""
    report = parse_json(body)
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise InvalidInput(f"the body is not a {SCHEMA} report")
    shape.check_depth(report)
    if report.get("key_id") != key_id or not isinstance(report.get("signed_at"), str):
        # Art 13(1)(b): the signed time stamp and key id are part of what was signed.
        raise InvalidSignature("the report names another key, or lacks its signed time stamp")
    shape.report_uid(report)
    if report.get("kind") not in KINDS:
        raise InvalidInput("kind must be known, new or solicitation (Art 13(1)(e))")
    shape.urgent(report), shape.removed(report), shape.declared_country(report)
    files = shape.part(report, "content").get("files")
    if files is not None and not isinstance(files, list):
        raise MalformedReport("content.files is a list")
    shape.omitted_files(report)
    missing = missing_fields(report)
    if missing:
        names = tuple(str(m) for m in missing)
        raise IncompleteReport("the report lacks required fields: " + ", ".join(names), names)
    return report


def _hashes(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], None] = {}
    for kind, value in shape.hash_entries(report):
        signal = signal_types().get(kind)
        if signal is not None:
            # Stored as signed: a known type's value must already be in its canonical form.
            signal.check_canonical(value)
        found[(kind, value)] = None
    return list(found)
