"""Tables of the audit log: the chained entries, and a one-row head that serialises appends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime

# prev_hash of the first entry: the chain starts from a fixed, well-known value.
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One event. `entry_hash` covers every other column, `prev_hash` included, so that changing,
    removing or reordering a past entry breaks the chain from that point on."""

    __tablename__ = "audit_log"

    # Assigned from the head, not by the database: a gap in seq is a removed entry.
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The newest entry's seq and hash, in one row that every append locks and moves."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
