"""Intake of signed reports (Art 12(1), Art 46): signature, schema, de-duplication, incidents.

Reports of the same material, from any provider, join one incident (see `tutela.centre.linking`).
The path is built for sustained floods: the provider's key comes from a per-process cache, and a
new report costs one insert (which also checks, in the same statement, that its provider may
report and that its idempotency key is new), one multi-row insert of its hashes and the linking
look-ups; a repeat costs one more look-up and stores nothing.
"""

from __future__ import annotations

import functools
import re
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
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tutela.centre.linking import EXACT_TYPES, PdqLinker, incident_for
from tutela.centre.models import CentreProvider, CentreReport, CentreReportHash, Incident
from tutela.centre.providers import ProviderKeys, provider_by_key
from tutela.db.database import Database
from tutela.errors import IncompleteReport, InvalidInput, InvalidSignature, UnknownProvider
from tutela.reporting.canonical import parse_json
from tutela.reporting.fields import Kind
from tutela.reporting.report import SCHEMA, missing_fields
from tutela.reporting.signing import verify_signature

HEX = re.compile(r"^[0-9a-f]+$")
MAX_BODY_BYTES = 64 * 1024 * 1024
KINDS = frozenset(k.value for k in Kind)
# Columns of a new report bound from the request; provider_id and country come from the
# provider's row in the same statement.
_BOUND = (
    "idempotency_key",
    "report_uid",
    "body",
    "signature",
    "key_id",
    "signed_at",
    "received_at",
    "kind",
    "urgent",
    "removed",
    "status",
    "tags",
    "incident_id",
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
) -> AcceptedReport:
    """The service call the intake endpoint makes: one transaction per received report.

    Two deliveries of one report may race (a sender retrying while its first try is still
    being stored): the database makes the second insert wait for the first and then do
    nothing, and the second answers with the first's report."""
    with database.unit_of_work() as session:
        return accept_report(
            session, key_id, body, signature, idempotency_key, now, linker, keys or ProviderKeys()
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
) -> AcceptedReport:
    """Store a report whose signature verifies against its provider's registered key; a repeat
    with the same idempotency key returns the stored report and stores nothing."""
    connection = session.connection()
    public_key = (keys or ProviderKeys()).public_key(connection, key_id)
    verify_signature(public_key, body, signature)
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("an Idempotency-Key of 1 to 128 characters is required")
    report = _checked(body, key_id)
    hashes = _hashes(report)
    # Linked before the report is stored, so that it is stored with its incident in one insert.
    choice = incident_for(connection, hashes, linker or PdqLinker(), now)
    incident_id, linked = choice.incident_id, choice.linked
    stored = connection.execute(
        _report_insert(connection.dialect.name),
        {
            "provider_key": key_id,
            "idempotency_key": idempotency_key,
            "report_uid": str(report["report_id"]),
            "body": body.decode("utf-8"),
            "signature": signature,
            "key_id": key_id,
            "signed_at": str(report["signed_at"]),
            "received_at": now,
            "kind": str(report["kind"]),
            "urgent": bool((report.get("urgency") or {}).get("urgent")),
            "removed": (report.get("removal") or {}).get("removed"),
            "status": "received",
            "tags": [],
            "incident_id": incident_id,
            "country": _declared_country(report),
        },
    ).scalar()
    if stored is None:
        if not linked:  # the incident made for this report has no report
            connection.execute(delete(Incident).where(Incident.id == incident_id))
        return _already_received(session, key_id, idempotency_key, keys)
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
    return AcceptedReport(int(stored), "received", incident_id, created=True)


def _already_received(
    session: Session, key_id: str, idempotency_key: str, keys: ProviderKeys | None
) -> AcceptedReport:
    """Nothing was inserted: the key was used before, or the provider may no longer report."""
    try:
        provider = provider_by_key(session, key_id)
    except UnknownProvider:
        if keys is not None:
            keys.forget(key_id)
        raise
    existing = session.execute(
        select(CentreReport.id, CentreReport.status, CentreReport.incident_id).where(
            CentreReport.provider_id == provider.id,
            CentreReport.idempotency_key == idempotency_key,
        )
    ).one()
    return AcceptedReport(existing.id, existing.status, existing.incident_id, created=False)


@functools.cache
def _report_insert(dialect: str) -> Insert:
    """INSERT … SELECT from the provider's row (still registered and active, read in the same
    statement) … ON CONFLICT (provider, idempotency key) DO NOTHING RETURNING id. Built once per
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
        .on_conflict_do_nothing(index_elements=["provider_id", "idempotency_key"])
        .returning(table.c.id)
    )


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
    if report.get("kind") not in KINDS:
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


def _declared_country(report: Mapping[str, Any]) -> str | None:
    """The Member State the report points to: the upload's declared country, else the
    provider's as reported; None here falls back to the registered provider's country in the
    insert (Art 48(3)), and None there leaves it to Europol alone."""
    geo = (report.get("location") or {}).get("geo") or {}
    country = geo.get("country") or (report.get("provider") or {}).get("country")
    return str(country).upper()[:2] if country else None
