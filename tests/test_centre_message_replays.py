"""A provider takes each signed message from the centre once: a replay of the same signed message
changes nothing more and is answered as the first time, and a message signed outside the window
is refused. Only placeholder reports (tests/report_samples)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from report_samples import PROVIDER, sample_input
from tutela.clock import utc_now
from tutela.db import Database
from tutela.enforcement.received_messages import receive_centre_message
from tutela.errors import StaleSignature
from tutela.messaging.messages import SignedMessage, sign_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, SigningWindow, generate_key_file, load_public_key
from tutela.reporting.filing import file_report
from tutela.reporting.received_models import ReceivedSignedMessage


@pytest.fixture
def centre_key(tmp_path: Path) -> SigningKey:
    return generate_key_file(tmp_path / "centre.pem")


@pytest.fixture
def report_key(tmp_path: Path, database: Database) -> str:
    """The idempotency key of a report this provider filed to the centre."""
    key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        filed = file_report(session, sample_input(), PROVIDER, key, utc_now())
        message = session.get_one(OutboxMessage, filed.message_ids["centre"])
        return message.idempotency_key


def forwarded(centre_key: SigningKey, report_key: str, at: datetime) -> SignedMessage:
    payload = {"report_key": report_key, "centre_report_id": 7, "forwarded_at": at.isoformat()}
    return sign_message(centre_key, "forwarded", "forwarded-7", payload, at)


def receive(
    database: Database, centre_key: SigningKey, message: SignedMessage, **window: Any
) -> dict[str, Any]:
    return receive_centre_message(
        database,
        load_public_key(centre_key.public_key_pem()),
        message.key_id,
        message.body,
        message.signature,
        utc_now(),
        window=SigningWindow(**window),
        max_hold_days=548,
    )


def taken(database: Database) -> int:
    with database.reader() as session:
        return int(session.scalar(select(func.count()).select_from(ReceivedSignedMessage)) or 0)


def test_a_replayed_centre_message_is_taken_once_and_answered_as_before(
    database: Database, centre_key: SigningKey, report_key: str
) -> None:
    message = forwarded(centre_key, report_key, utc_now())
    first = receive(database, centre_key, message)
    assert receive(database, centre_key, message) == first
    assert first["applied"] == "forwarded"
    assert taken(database) == 1


def test_a_centre_message_signed_two_years_ago_is_refused(
    database: Database, centre_key: SigningKey, report_key: str
) -> None:
    message = forwarded(centre_key, report_key, utc_now() - timedelta(days=730))
    with pytest.raises(StaleSignature):
        receive(database, centre_key, message)
    assert taken(database) == 0


def test_a_centre_message_signed_a_year_ahead_is_refused(
    database: Database, centre_key: SigningKey, report_key: str
) -> None:
    message = forwarded(centre_key, report_key, utc_now() + timedelta(days=365))
    with pytest.raises(StaleSignature):
        receive(database, centre_key, message)
    assert taken(database) == 0


def test_a_stale_replay_of_a_centre_message_taken_while_fresh_is_answered_as_before(
    database: Database, centre_key: SigningKey, report_key: str
) -> None:
    message = forwarded(centre_key, report_key, utc_now() - timedelta(minutes=5))
    first = receive(database, centre_key, message)
    later = receive(database, centre_key, message, max_age=timedelta(minutes=1))
    assert later == first
