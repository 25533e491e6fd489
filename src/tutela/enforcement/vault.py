"""The evidence vault (Art 22): content and data preserved encrypted, only for a legal purpose,
only for the legal period, then crypto-shredded; every opening is in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, BinaryIO, cast

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from tutela.audit.log import SYSTEM, Action, Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.chunks import read_chunks, table_of, whole, write_chunks
from tutela.db.database import Database
from tutela.detection.held_payloads import rewrap_held_payloads
from tutela.enforcement.vault_models import VaultBlob, VaultChunk, VaultExtension, VaultRecord
from tutela.errors import (
    ConfigurationError,
    EvidenceExpired,
    InvalidInput,
    NotFound,
    TamperedData,
)
from tutela.master_key import (
    MasterKey,
    load_master_key,
    refuse_other_keys,
    unwrap_data_key,
    wrap_data_key,
)
from tutela.messaging.crypto import (
    STREAM_CHUNK_BYTES,
    ChunkReader,
    StreamSealer,
    new_data_key,
    seal,
    unseal,
    unseal_stream,
)
from tutela.settings import Settings

# Art 22(2): at most 12 months from the report or the removal, unless an authority asks for more.
DEFAULT_RETENTION = timedelta(days=365)
# Records destroyed per transaction, so that a long backlog does not make one huge transaction.
PURGE_BATCH = 500
SUBJECT = "vault_record"


class PreservationReason(StrEnum):
    """The only purposes evidence may be kept for (Art 22(1)(a)-(e))."""

    ORDER = "order"  # (a) executing a detection or removal order
    REPORT = "report"  # (b) reporting to the EU Centre
    ACCOUNT_MEASURE = "account_measure"  # (c) blocking or suspending the user's account
    COMPLAINT = "complaint"  # (d) complaints and redress
    AUTHORITY_REQUEST = "authority_request"  # (e) law-enforcement or judicial requests


@dataclass(frozen=True, slots=True)
class RecordView:
    """What may be shown about a record without opening it: never content or metadata."""

    id: int
    item_ref: str
    reason: str
    created_at: datetime
    retention_from: datetime
    expires_at: datetime
    content_length: int
    key_id: str | None
    purged_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "item_ref": self.item_ref,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "retention_from": self.retention_from.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "content_length": self.content_length,
            "key_id": self.key_id,
            "purged_at": self.purged_at.isoformat() if self.purged_at else None,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """An opened record. `repr` leaves the bytes out, so a stray log line cannot carry them."""

    record: RecordView
    content: bytes = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class EvidenceStream:
    """An opened record read as a stream (a video): `chunks` yields the plaintext one chunk at
    a time, each read from the database and checked as it comes (TamperedData at the first
    that fails, or when the stream was cut short). Iterate it once."""

    record: RecordView
    metadata: dict[str, Any] = field(repr=False)
    chunks: Iterator[bytes] = field(repr=False)

    def reader(self) -> BinaryIO:
        """The content as a readable binary file that knows its length (for an upload that
        takes one and declares its size), read forwards only."""
        return cast(BinaryIO, ChunkReader(self.chunks, self.record.content_length))


@dataclass(frozen=True, slots=True)
class Vault:
    master_key: MasterKey
    retention: timedelta = DEFAULT_RETENTION
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Vault:
        """The configured vault; a ConfigurationError saying how to make a key when there is none."""
        if settings.vault_retention_days < 1:
            raise ConfigurationError("TUTELA_VAULT_RETENTION_DAYS must be at least 1")
        return cls(
            master_key=load_master_key(settings),
            retention=timedelta(days=settings.vault_retention_days),
            clock=clock or SystemClock(),
        )

    def preserve(
        self,
        session: Session,
        item_ref: str,
        content: bytes,
        metadata: Mapping[str, Any],
        reason: PreservationReason | str,
        retention_from: datetime,
        *,
        actor: str = SYSTEM,
    ) -> RecordView:
        """Encrypt and keep `content` inside the caller's transaction (the one that records the
        report, removal or decision that requires it), with a fresh data key of its own."""
        if not content:
            raise InvalidInput("there is no content to preserve")
        row, data_key, plain_metadata = self._new_record(
            session, item_ref, metadata, reason, retention_from, len(content)
        )
        session.add(
            VaultBlob(
                record_id=row.id,
                content=seal(data_key, content, _aad(row.id, "content")),
                sealed_metadata=seal(data_key, plain_metadata, _aad(row.id, "metadata")),
            )
        )
        return self._preserved(session, row, actor)

    def preserve_stream(
        self,
        session: Session,
        item_ref: str,
        chunks: Iterable[bytes],
        metadata: Mapping[str, Any],
        reason: PreservationReason | str,
        retention_from: datetime,
        *,
        actor: str = SYSTEM,
    ) -> RecordView:
        """`preserve` for content too large for memory (a video): the plaintext `chunks` (any
        sizes) are read one at a time and sealed as a stream (tutela.messaging.crypto), chunk by
        chunk into `vault_chunks`, inside the caller's transaction."""
        row, data_key, plain_metadata = self._new_record(
            session, item_ref, metadata, reason, retention_from, 0
        )
        sealer = StreamSealer(data_key, _aad(row.id, "content"), chunk_bytes=STREAM_CHUNK_BYTES)
        count, _ = write_chunks(
            session, table_of(VaultChunk), "record_id", row.id, sealer.chunks(ChunkReader(chunks))
        )
        if not sealer.plaintext_bytes:
            raise InvalidInput("there is no content to preserve")
        row.content_length = sealer.plaintext_bytes
        session.add(
            VaultBlob(
                record_id=row.id,
                content=sealer.header,
                sealed_metadata=seal(data_key, plain_metadata, _aad(row.id, "metadata")),
                chunks=count,
            )
        )
        return self._preserved(session, row, actor)

    def _new_record(
        self,
        session: Session,
        item_ref: str,
        metadata: Mapping[str, Any],
        reason: PreservationReason | str,
        retention_from: datetime,
        content_length: int,
    ) -> tuple[VaultRecord, bytes, bytes]:
        """A checked new record with its id (the associated data binds the ciphertext to it),
        its fresh data key and its metadata as JSON bytes."""
        reason = _reason(reason)
        if not item_ref or len(item_ref) > 256:
            raise InvalidInput("item_ref must be 1-256 characters")
        if retention_from.tzinfo is None:
            raise InvalidInput("retention_from must carry a time zone")
        now = self.clock.now()
        expires_at = retention_from.astimezone(UTC) + self.retention
        if expires_at <= now:
            raise InvalidInput("the retention period of this item is already over (Art 22(2))")
        try:
            plain_metadata = json.dumps(dict(metadata), sort_keys=True).encode()
        except (TypeError, ValueError):
            raise InvalidInput("vault metadata must be JSON values") from None
        data_key = new_data_key()
        row = VaultRecord(
            item_ref=item_ref,
            reason=reason,
            created_at=now,
            retention_from=retention_from,
            expires_at=expires_at,
            content_length=content_length,
            key_id=self.master_key.key_id,
            wrapped_key=wrap_data_key(self.master_key, data_key),
        )
        session.add(row)
        session.flush()
        return row, data_key, plain_metadata

    def _preserved(self, session: Session, row: VaultRecord, actor: str) -> RecordView:
        record(
            session,
            actor,
            Action.VAULT_PRESERVE,
            Subject(SUBJECT, str(row.id)),
            {
                "item_ref": row.item_ref,
                "reason": row.reason,
                "expires_at": row.expires_at.isoformat(),
            },
            now=row.created_at,
        )
        session.flush()
        return _view(row)

    def open(self, database: Database, record_id: int, actor: str, purpose: str) -> Evidence:
        """Decrypt a record for `actor`. The access is audited and committed before the bytes are
        returned, so no look at content goes unrecorded (DESIGN ground rule 3). A streamed
        record (a video) comes whole only up to `tutela.db.chunks.WHOLE_MAX_BYTES` (NotSupported
        beyond: `open_stream` reads it)."""
        opened = self.open_stream(database, record_id, actor, purpose)
        content = whole(opened.chunks, f"evidence record {record_id}")
        return Evidence(opened.record, content, opened.metadata)

    def open_stream(
        self, database: Database, record_id: int, actor: str, purpose: str
    ) -> EvidenceStream:
        """`open` as a stream: the access is audited and committed first, then the chunks are
        read from the database one at a time, each in a short reader of its own, as they are
        consumed. A record preserved whole comes as one chunk."""
        if not purpose.strip():
            raise InvalidInput("say why the evidence is opened (the purpose is audited)")
        now = self.clock.now()
        with database.unit_of_work() as session:
            row = _live_record(session, record_id, now)
            blob = session.get(VaultBlob, record_id)
            if blob is None or row.wrapped_key is None:
                raise TamperedData(f"evidence record {record_id} has lost its ciphertext or key")
            if row.key_id != self.master_key.key_id:
                raise ConfigurationError(
                    f"evidence record {record_id} is wrapped by master key {row.key_id}, but the "
                    f"configured key is {self.master_key.key_id}"
                )
            data_key = unwrap_data_key(self.master_key, row.wrapped_key)
            metadata = _open(data_key, blob.sealed_metadata, _aad(record_id, "metadata"), record_id)
            aad = _aad(record_id, "content")
            if blob.chunks is None:
                chunks: Iterator[bytes] = iter([_open(data_key, blob.content, aad, record_id)])
            else:
                chunks = unseal_stream(
                    data_key,
                    bytes(blob.content),
                    _stored_chunks(database, record_id, blob.chunks),
                    aad,
                    f"evidence record {record_id}",
                )
            record(
                session,
                actor,
                Action.VAULT_OPEN,
                Subject(SUBJECT, str(record_id)),
                {"purpose": purpose.strip()},
                now=now,
            )
            view = _view(row)
        return EvidenceStream(view, json.loads(metadata), chunks)

    def open_latest(
        self,
        database: Database,
        item_ref: str,
        reason: PreservationReason,
        actor: str,
        purpose: str,
    ) -> Evidence | None:
        """The newest record of `item_ref` preserved for `reason`, opened as `open` does; None
        when there is none still in its period."""
        record_id = self._latest(database, item_ref, reason)
        if record_id is None:
            return None
        try:
            return self.open(database, record_id, actor, purpose)
        except EvidenceExpired:  # its period ended in between
            return None

    def open_latest_stream(
        self,
        database: Database,
        item_ref: str,
        reason: PreservationReason,
        actor: str,
        purpose: str,
    ) -> EvidenceStream | None:
        """`open_latest` as a stream (`open_stream`)."""
        record_id = self._latest(database, item_ref, reason)
        if record_id is None:
            return None
        try:
            return self.open_stream(database, record_id, actor, purpose)
        except EvidenceExpired:
            return None

    def _latest(self, database: Database, item_ref: str, reason: PreservationReason) -> int | None:
        with database.reader() as session:
            record_id = session.scalar(
                select(VaultRecord.id)
                .where(
                    VaultRecord.item_ref == item_ref,
                    VaultRecord.reason == reason.value,
                    VaultRecord.purged_at.is_(None),
                    VaultRecord.expires_at > self.clock.now(),
                )
                .order_by(VaultRecord.id.desc())
                .limit(1)
            )
        return record_id

    def extend(
        self, database: Database, record_id: int, until: datetime, legal_reason: str, actor: str
    ) -> RecordView:
        """Keep a record longer, only with the legal reason recorded: an authority's or court's
        request for ongoing proceedings (Art 22(2))."""
        if not legal_reason.strip():
            raise InvalidInput(
                "an extension needs its legal reason (Art 22(2): an authority's or court's request)"
            )
        if until.tzinfo is None:
            raise InvalidInput("the new expiry must carry a time zone")
        now = self.clock.now()
        with database.unit_of_work() as session:
            row = _live_record(session, record_id, now)
            if until <= row.expires_at:
                raise InvalidInput(
                    f"the new expiry must be after the current one ({row.expires_at.isoformat()})"
                )
            session.add(
                VaultExtension(
                    record_id=record_id,
                    previous_expires_at=row.expires_at,
                    expires_at=until,
                    legal_reason=legal_reason.strip(),
                    actor=actor,
                    at=now,
                )
            )
            record(
                session,
                actor,
                Action.VAULT_EXTEND,
                Subject(SUBJECT, str(record_id)),
                {
                    "from": row.expires_at.isoformat(),
                    "until": until.astimezone(UTC).isoformat(),
                    "legal_reason": legal_reason.strip(),
                },
                now=now,
            )
            row.expires_at = until
            return _view(row)

    def purge(self, database: Database, *, actor: str = SYSTEM) -> list[int]:
        """Crypto-shred every record past its expiry: destroy its wrapped data key, then delete
        its ciphertext. Returns the ids destroyed. Safe to run from a scheduler at any rate."""
        now = self.clock.now()
        destroyed: list[int] = []
        while True:
            with database.unit_of_work() as session:
                batch = purge_expired(session, now, actor=actor, limit=PURGE_BATCH)
            destroyed.extend(batch)
            if len(batch) < PURGE_BATCH:
                return destroyed


def purge_expired(session: Session, now: datetime, *, actor: str, limit: int) -> list[int]:
    """One batch of `Vault.purge`, inside the caller's transaction."""
    if session.get_bind().dialect.name == "sqlite":
        # Overwrite freed pages with zeros, so destroyed keys do not linger in the file.
        session.execute(text("PRAGMA secure_delete = ON"))
    rows = session.scalars(
        select(VaultRecord)
        .where(VaultRecord.purged_at.is_(None), VaultRecord.expires_at <= now)
        .order_by(VaultRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.wrapped_key = None
        row.key_id = None
        row.purged_at = now
    # Keys first: once they are gone the ciphertext is noise, whatever happens to the delete.
    session.flush()
    if rows:  # a streamed record's chunks: noise without the key, deleted with its blob
        session.execute(
            delete(VaultChunk)
            .where(VaultChunk.record_id.in_([row.id for row in rows]))
            .execution_options(synchronize_session=False)
        )
    for row in rows:
        blob = session.get(VaultBlob, row.id)
        if blob is not None:
            session.delete(blob)
        record(
            session,
            actor,
            Action.VAULT_PURGE,
            Subject(SUBJECT, str(row.id)),
            {"expired_at": row.expires_at.isoformat()},
            now=now,
        )
    session.flush()
    return [row.id for row in rows]


def rotate_master_key(
    database: Database, old: MasterKey, new: MasterKey, *, actor: str, now: datetime
) -> int:
    """Re-wrap every data key from `old` to `new` in one transaction, the vault's records' and
    those of content held for review; ciphertext is untouched. Returns how many vault records
    were re-wrapped. Afterwards only `new` opens the vault and the held content."""
    if old.key_id == new.key_id:
        raise InvalidInput("the new master key is the same as the old one")
    with database.unit_of_work() as session:
        refuse_other_keys(session, VaultRecord.key_id, old, new, "some records are wrapped")
        rows = session.scalars(
            select(VaultRecord).where(VaultRecord.key_id == old.key_id).with_for_update()
        ).all()
        for row in rows:
            assert row.wrapped_key is not None
            row.wrapped_key = wrap_data_key(new, unwrap_data_key(old, row.wrapped_key))
            row.key_id = new.key_id
        held = rewrap_held_payloads(session, old, new)
        record(
            session,
            actor,
            Action.VAULT_ROTATE,
            None,
            {
                "from_key": old.key_id,
                "to_key": new.key_id,
                "records": len(rows),
                "held_payloads": held,
            },
            now=now,
        )
        return len(rows)


def get_record(session: Session, record_id: int) -> RecordView:
    row = session.get(VaultRecord, record_id)
    if row is None:
        raise NotFound(f"no evidence record {record_id}")
    return _view(row)


def list_records(session: Session, *, include_purged: bool = False) -> list[RecordView]:
    query = select(VaultRecord).order_by(VaultRecord.id)
    if not include_purged:
        query = query.where(VaultRecord.purged_at.is_(None))
    return [_view(row) for row in session.scalars(query)]


def _live_record(session: Session, record_id: int, now: datetime) -> VaultRecord:
    row = session.get(VaultRecord, record_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no evidence record {record_id}")
    if row.purged_at is not None:
        raise EvidenceExpired(
            f"evidence record {record_id} expired on {row.expires_at.isoformat()} and was "
            f"destroyed on {row.purged_at.isoformat()}"
        )
    if row.expires_at <= now:
        # Past its period it may no longer be used (Art 22(2)), even before a purge destroys it.
        raise EvidenceExpired(
            f"evidence record {record_id} expired on {row.expires_at.isoformat()} and awaits "
            "destruction"
        )
    return row


def _reason(reason: PreservationReason | str) -> PreservationReason:
    try:
        return PreservationReason(reason)
    except ValueError:
        allowed = ", ".join(r.value for r in PreservationReason)
        raise InvalidInput(f"evidence may be preserved only for: {allowed} (Art 22(1))") from None


def _aad(record_id: int, part: str) -> bytes:
    return f"tutela-vault/v1/record/{record_id}/{part}".encode()


def _open(data_key: bytes, sealed: bytes, aad: bytes, record_id: int) -> bytes:
    return unseal(data_key, sealed, aad, f"evidence record {record_id}")


def _stored_chunks(database: Database, record_id: int, count: int) -> Iterator[bytes]:
    """A streamed record's sealed chunks in order, each read in a short reader of its own (the
    caller may take its time between chunks, e.g. while uploading them)."""
    table = table_of(VaultChunk)
    for seq in range(count):
        with database.reader() as session:
            chunk = next(
                read_chunks(session, table, "record_id", record_id, seq + 1, start=seq), None
            )
        if chunk is None:
            return
        yield chunk


def _view(row: VaultRecord) -> RecordView:
    return RecordView(
        id=row.id,
        item_ref=row.item_ref,
        reason=row.reason,
        created_at=row.created_at,
        retention_from=row.retention_from,
        expires_at=row.expires_at,
        content_length=row.content_length,
        key_id=row.key_id,
        purged_at=row.purged_at,
    )
