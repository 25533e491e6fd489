"""Taking a signed document another node sent (an order, its copy, an answer to an impediment, an
impediment, an execution report, a compliance document): ONE way, so that every intake does the
same in the same order. In one unit of work the document is verified against the sender's
registered key and must be of a kind the intake takes; the intake looks up what it already holds
under the document's id: a repeat (same signature) is answered as it was the first time, however
late it comes, and stores nothing; another document under that id is a conflict. A new document
must have been signed inside the signing window, and is then stored by the intake — or refused
with nothing written. The same document delivered twice at once stores it once: the loser of the
race hits the unique key and is answered as a repeat.

The domain supplies three small functions (`sender`, `find`, `take`); the rules of its documents
stay in its own package. `stored_under` and `check_document_key` are the look-up and the id check
`find` functions share; `take` functions audit the receipt with tutela.audit.receipts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.db.database import Database
from tutela.errors import Conflict, InvalidInput
from tutela.messaging.messages import Message, open_message
from tutela.messaging.signing import SigningWindow

Sender = TypeVar("Sender")
Found = TypeVar("Found")
Answer = dict[str, Any]


class Signed(Protocol):
    """A stored document's row: it keeps the signature it came with."""

    @property
    def signature(self) -> str: ...


Row = TypeVar("Row", bound=Signed)


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the intake holds under the document's id: the signature(s) it was stored with, and
    the answer a repeat gets (computed only for a repeat)."""

    signatures: tuple[str | None, ...]
    answer: Callable[[], Answer]


@dataclass(frozen=True, slots=True)
class Received:
    """A verified document, new to the intake and signed inside the window: what `take` stores."""

    message: Message
    body: bytes
    signature: str
    now: datetime
    signed_at: datetime

    @property
    def text(self) -> str:
        """The exact signed bytes, as stored."""
        return self.body.decode("utf-8")


@dataclass(frozen=True, slots=True)
class SignedIntake(Generic[Sender, Found]):
    """One intake. `sender` names who holds the key id (and raises the intake's typed error for
    a key nobody registered); `find` reads what the document is about and what the intake already
    holds under its id — and may refuse a new document before its signing time is checked;
    `take` stores a new document and answers."""

    # What the intake takes, as a refusal of another kind says ("this endpoint takes …").
    takes: str
    kinds: frozenset[str]
    # What a different document under a stored document's id is told.
    conflict: str
    sender: Callable[[Session, str], tuple[Sender, Ed25519PublicKey]]
    find: Callable[[Session, Sender, Message], tuple[Found, Earlier | None]]
    take: Callable[[Session, Found, Received], Answer]

    def receive(
        self,
        database: Database,
        key_id: str,
        body: bytes,
        signature: str,
        now: datetime,
        window: SigningWindow,
    ) -> tuple[Answer, bool]:
        """Verify and take one document; the answer, and whether the document was new."""
        try:
            return self._receive(database, key_id, body, signature, now, window)
        except IntegrityError:
            # The same document delivered twice at once: the other delivery stored it.
            return self._receive(database, key_id, body, signature, now, window)

    def _receive(
        self,
        database: Database,
        key_id: str,
        body: bytes,
        signature: str,
        now: datetime,
        window: SigningWindow,
    ) -> tuple[Answer, bool]:
        with database.unit_of_work() as session:
            sender, public_key = self.sender(session, key_id)
            message = open_message(public_key, key_id, body, signature)
            if message.kind not in self.kinds:
                raise InvalidInput(f"this endpoint takes {self.takes}")
            found, earlier = self.find(session, sender, message)
            if earlier is not None:
                if signature not in earlier.signatures:
                    raise Conflict(self.conflict)
                return earlier.answer(), False
            signed_at = window.check(message.signed_at, now)
            return self.take(
                session, found, Received(message, body, signature, now, signed_at)
            ), True


def stored_as(row: Row | None, answer: Callable[[Row], Answer]) -> Earlier | None:
    """The `Earlier` of a row the intake looked up by the document's id (None: nothing held),
    answered by `answer(row)`."""
    if row is None:
        return None
    held = row
    return Earlier((held.signature,), lambda: answer(held))


def stored_under(
    session: Session,
    row_type: type[Row],
    *where: ColumnElement[bool],
    answer: Callable[[Row], Answer],
) -> Earlier | None:
    """The `Earlier` of the row of `row_type` the intake holds where `where` holds (the
    sender's row under the document's id), answered by `answer(row)`; None: nothing held."""
    return stored_as(session.scalar(select(row_type).where(*where)), answer)


def check_document_key(key: str, message: Message, what: str) -> None:
    """A document that names its own id must name the signed message's idempotency key."""
    if key != message.idempotency_key:
        raise InvalidInput(f"the {what}'s id differs from the signed message's")
