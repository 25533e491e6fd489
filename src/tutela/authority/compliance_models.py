"""The authority's table of the compliance documents providers sent it: each signed Art 5 risk
report and set of yearly figures exactly as received and verified, once per provider and
document key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class ComplianceDocument(Base):
    """One verified document: the exact signed bytes, what it is about, when it came."""

    __tablename__ = "authority_compliance_documents"
    __table_args__ = (
        UniqueConstraint("provider_id", "document_ref"),
        Index("ix_authority_compliance_documents_provider_id_kind", "provider_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("authority_providers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    # The message's idempotency key, derived from the document (tutela.compliance.documents).
    document_ref: Mapped[str] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(128), nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
