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
from sqlalchemy.orm import Session

from tutela.audit.receipts import record_receipt, sender_actor
from tutela.authority.compliance_models import ComplianceDocument
from tutela.authority.models import OrderedProvider
from tutela.authority.providers import provider_of
from tutela.compliance.documents import KINDS, read_document
from tutela.db.database import Database
from tutela.errors import NotFound
from tutela.messaging.messages import Message
from tutela.messaging.signed_intake import Earlier, Received, SignedIntake, stored_under
from tutela.messaging.signing import SigningWindow


def receive_compliance_document(
    database: Database,
    key_id: str,
    body: bytes,
    signature: str,
    now: datetime,
    window: SigningWindow,
) -> tuple[dict[str, Any], bool]:
    """Verify and store one compliance document; the answer, and whether it was new."""
    return INTAKE.receive(database, key_id, body, signature, now, window)


def _find(
    session: Session, provider: OrderedProvider, message: Message
) -> tuple[OrderedProvider, Earlier | None]:
    earlier = stored_under(
        session,
        ComplianceDocument,
        ComplianceDocument.provider_id == provider.id,
        ComplianceDocument.document_ref == message.idempotency_key,
        answer=_answer,
    )
    return provider, earlier


def _take(session: Session, provider: OrderedProvider, received: Received) -> dict[str, Any]:
    message = received.message
    facts = read_document(message.kind, message.idempotency_key, message.payload)
    row = ComplianceDocument(
        provider_id=provider.id,
        kind=facts.kind,
        document_ref=message.idempotency_key,
        service=facts.service,
        version=facts.version,
        year=facts.year,
        body=received.text,
        signature=received.signature,
        signed_at=received.signed_at,
        received_at=received.now,
    )
    record_receipt(
        session,
        row,
        received,
        sender=sender_actor("provider", provider.name),
        action="compliance_document_received",
        subject="compliance_document",
        detail={"kind": facts.kind, "document_ref": row.document_ref},
    )
    return _answer(row)


INTAKE = SignedIntake(
    takes="Art 5 risk reports and yearly figures",
    kinds=frozenset(KINDS),
    conflict="another document was received under this document's key",
    sender=provider_of,
    find=_find,
    take=_take,
)


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
