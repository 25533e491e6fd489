"""Tables of the evidence vault: records in clear (no content), ciphertext apart, extensions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import BigId, UtcDateTime


class VaultRecord(Base):
    """One preserved item: why, until when, and its data key wrapped by a master key.

    Crypto-shredding sets `wrapped_key` to NULL; the row stays as a tombstone so that a later
    request gets "expired and destroyed" rather than a bare "not found".
    """

    __tablename__ = "vault_records"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    item_ref: Mapped[str] = mapped_column(String(256), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retention_from: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    content_length: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class VaultBlob(Base):
    """Ciphertexts of one record (nonce followed by AES-256-GCM output); never plaintext."""

    __tablename__ = "vault_blobs"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("vault_records.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # The platform's metadata (user ids, addresses: Art 13(1)(f)-(g)) is personal data: sealed too.
    sealed_metadata: Mapped[bytes] = mapped_column(LargeBinary)
    # None: `content` is the one sealed value. A number: the content was sealed as a stream
    # (tutela.messaging.crypto.StreamSealer), `content` is its header, its chunks `vault_chunks`.
    chunks: Mapped[int | None] = mapped_column(Integer, nullable=True)


class VaultChunk(Base):
    """One sealed chunk of a record streamed into the vault (a video); never plaintext."""

    __tablename__ = "vault_chunks"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("vault_records.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class VaultExtension(Base):
    """A retention extension and the legal reason for it (Art 22(2): on an authority's request)."""

    __tablename__ = "vault_extensions"

    id: Mapped[int] = mapped_column(BigId, Identity(always=False), primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("vault_records.id", ondelete="CASCADE"), index=True
    )
    previous_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    legal_reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
