"""What the authority does with a provider's compliance documents (`POST
/v1/compliance-documents`): a signed Art 5 risk report or set of yearly figures is verified
against the provider's registered key, inside the signing window, checked for shape
(tutela.compliance.documents) and stored with its exact bytes, once — or refused with nothing
written. A repeat of a stored document is answered as the first time, however late it comes;
another document under a stored document's key is a conflict. And what the authority's people
read of them: per provider, newest first, each with its verified signature."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record
from tutela.authority.compliance_models import ComplianceDocument
from tutela.authority.models import OrderedProvider
from tutela.compliance.documents import KINDS, read_document
from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput, NotFound, UnknownProvider
from tutela.messaging.messages import open_message
from tutela.messaging.signing import SigningWindow, load_public_key


def receive_compliance_document(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and store one compliance document; the answer, and whether it was new."""
    try:
        return _receive(database, key_id, body, signature, now, window)
    except IntegrityError:
        # The same document delivered twice at once: the other delivery stored it.
        return _receive(database, key_id, body, signature, now, window)


def _receive(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    with database.unit_of_work() as session:
        provider = session.scalar(select(OrderedProvider).where(OrderedProvider.key_id == key_id))
        if provider is None:
            raise UnknownProvider("no registered provider holds that key")
        message = open_message(load_public_key(provider.public_key_pem), key_id, body, signature)
        if message.kind not in KINDS:
            raise InvalidInput("this endpoint takes Art 5 risk reports and yearly figures")
        earlier = session.scalar(
            select(ComplianceDocument).where(
                ComplianceDocument.provider_id == provider.id,
                ComplianceDocument.document_ref == message.idempotency_key,
            )
        )
        if earlier is not None:
            if earlier.signature != signature:
                raise Conflict("another document was received under this document's key")
            return _answer(earlier), False
        signed_at = window.check(message.signed_at, now)
        facts = read_document(message.kind, message.idempotency_key, message.payload)
        row = ComplianceDocument(
            provider_id=provider.id,
            kind=facts.kind,
            document_ref=message.idempotency_key,
            service=facts.service,
            version=facts.version,
            year=facts.year,
            body=body.decode("utf-8"),
            signature=signature,
            signed_at=signed_at,
            received_at=now,
        )
        session.add(row)
        session.flush()
        record(
            session,
            f"provider:{provider.name}"[:128],
            "compliance_document_received",
            Subject("compliance_document", str(row.id)),
            {"kind": facts.kind, "document_ref": row.document_ref},
            now=now,
        )
        return _answer(row), True


@dataclass(frozen=True, slots=True)
class DocumentView:
    """A received document as the console lists it; `pretty` and `signature` only for one."""

    id: int
    provider_id: int
    provider: str
    kind: str
    document_ref: str
    service: str | None
    version: int | None
    year: int | None
    complete: bool | None
    signed_at: datetime
    received_at: datetime
    key_id: str
    body: str
    signature: str

    @property
    def pretty(self) -> str:
        return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)["payload"]
        return payload

    def as_dict(self) -> dict[str, Any]:
        """As a compliance record holds it: the exact signed bytes, to be checked again."""
        return {
            "id": self.id,
            "kind": self.kind,
            "document_ref": self.document_ref,
            "service": self.service,
            "version": self.version,
            "year": self.year,
            "signed_at": self.signed_at.isoformat(),
            "received_at": self.received_at.isoformat(),
            "key_id": self.key_id,
            "body": self.body,
            "signature": self.signature,
        }


def provider_documents(session: Session, provider: OrderedProvider) -> list[DocumentView]:
    """The provider's documents, newest first."""
    rows = session.scalars(
        select(ComplianceDocument)
        .where(ComplianceDocument.provider_id == provider.id)
        .order_by(ComplianceDocument.received_at.desc(), ComplianceDocument.id.desc())
    )
    return [_view(row, provider) for row in rows]


def compliance_document(database: Database, document_id: int) -> DocumentView:
    with database.reader() as session:
        row = session.get(ComplianceDocument, document_id)
        if row is None:
            raise NotFound(f"no compliance document {document_id}")
        return _view(row, session.get_one(OrderedProvider, row.provider_id))


def _view(row: ComplianceDocument, provider: OrderedProvider) -> DocumentView:
    complete = None
    if row.year is not None:
        complete = bool(json.loads(row.body)["payload"].get("complete"))
    return DocumentView(
        row.id,
        provider.id,
        provider.name,
        row.kind,
        row.document_ref,
        row.service,
        row.version,
        row.year,
        complete,
        row.signed_at,
        row.received_at,
        provider.key_id,
        row.body,
        row.signature,
    )


def _answer(row: ComplianceDocument) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "document_ref": row.document_ref}
