"""Delivering statements to the (local) Transparency Database through the outbox: batches of at
most 100, retries with backoff, and a restart between claim and answer that still leaves each
statement stored exactly once (the database refuses a puid twice; that answer means delivered).
Runs on SQLite, and on PostgreSQL when TUTELA_TEST_DATABASE_URL is set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from dsa_tdb_server import MULTIPLE, SINGLE, TOKEN, TransparencyDatabase, transparency_database
from tutela.db.database import Database
from tutela.errors import ConfigurationError
from tutela.messaging.outbox import CLAIM_S, deliver_due
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)
from tutela.reporting.transports.dsa_tdb import DsaTdbTransport, statement_transports
from tutela.settings import Settings
from tutela.statements.database_copy import AutomatedDecision, ContentType, Source
from tutela.statements.recording import Restriction, StatementView, record_statement

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def tdb() -> Iterator[TransparencyDatabase]:
    with transparency_database() as db:
        yield db


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as opened:
        yield opened


def record(database: Database, settings: Settings, tdb: TransparencyDatabase, n: int) -> str:
    """Record a statement for item `n` (an order-style restriction, without a case)."""
    restriction = Restriction(
        decision_ref=f"order:1:item:{n}",
        item_id=n,
        item_ref=f"platform-item-{n}",
        case_id=None,
        content_type=ContentType.IMAGE,
        content_date=date(2025, 2, 1),
        account=None,
        source=Source.OTHER_NOTIFICATION,
        automated_detection=False,
        automated_decision=AutomatedDecision.NOT_AUTOMATED,
        facts="A removal order named the content; the provider removed it.",
    )
    configured = dataclasses.replace(settings, dsa_tdb_url=tdb.url, dsa_tdb_token=TOKEN)
    with database.unit_of_work() as session:
        view: StatementView = record_statement(
            session, restriction, settings=configured, actor="system", now=NOW
        )
    return view.puid


def transports(tdb: TransparencyDatabase, client: httpx.Client) -> dict[str, Transport]:
    return {"dsa-tdb": DsaTdbTransport(tdb.url, TOKEN, client)}


def messages(database: Database) -> list[OutboxMessage]:
    with database.reader() as session:
        return list(session.query(OutboxMessage).order_by(OutboxMessage.id))


class SenderKilled(BaseException):
    """The sender process dies: nothing after the send runs, the claim stays on the row."""


class DiesAfterSending(Transport):
    name = "dsa-tdb"

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    @classmethod
    def create(cls, context: TransportContext) -> DiesAfterSending:
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        self.inner.send(message)  # the database stores it...
        raise SenderKilled  # ...and the answer dies with the sender


def test_a_restart_between_claim_and_answer_stores_the_statement_exactly_once(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    puid = record(database, settings, tdb, 1)
    with pytest.raises(SenderKilled):
        deliver_due(
            database, {"dsa-tdb": DiesAfterSending(transports(tdb, client)["dsa-tdb"])}, NOW
        )
    assert deliver_due(database, transports(tdb, client), NOW).delivered == []  # still claimed

    later = NOW + timedelta(seconds=CLAIM_S + 1)  # the claim of the dead sender ran out
    run = deliver_due(database, transports(tdb, client), later)

    assert len(run.delivered) == 1
    assert list(tdb.stored) == [puid]
    assert tdb.calls == [(SINGLE, 201), (SINGLE, 422)]  # the retry learnt it was there
    (message,) = messages(database)
    assert message.status == "acknowledged"
    assert message.remote_detail == {"stored": [], "already_held": [puid]}


def test_a_batch_a_sender_claimed_takes_no_more_statements(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    first = record(database, settings, tdb, 1)
    with pytest.raises(SenderKilled):
        deliver_due(
            database, {"dsa-tdb": DiesAfterSending(transports(tdb, client)["dsa-tdb"])}, NOW
        )

    second = record(database, settings, tdb, 2)

    batches = [[s["puid"] for s in m.payload["statements"]] for m in messages(database)]
    assert batches == [[first], [second]]  # a retry sends exactly what the first try sent


def test_statements_made_between_deliveries_go_in_calls_of_at_most_100(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    puids = [record(database, settings, tdb, n) for n in range(101)]
    assert [len(m.payload["statements"]) for m in messages(database)] == [100, 1]

    deliver_due(database, transports(tdb, client), NOW)

    assert tdb.calls == [(MULTIPLE, 201), (SINGLE, 201)]
    assert sorted(tdb.stored) == sorted(puids)


def test_a_batch_with_statements_already_held_is_sent_again_without_them(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    puids = [record(database, settings, tdb, n) for n in range(3)]
    (message,) = messages(database)
    tdb.store([message.payload["statements"][1]])  # an earlier try stored it; its answer was lost

    run = deliver_due(database, transports(tdb, client), NOW)

    assert len(run.delivered) == 1
    assert tdb.calls == [(MULTIPLE, 422), (MULTIPLE, 201)]
    assert sorted(tdb.stored) == sorted(puids)
    (message,) = messages(database)
    assert message.remote_detail == {"stored": [puids[0], puids[2]], "already_held": [puids[1]]}


def test_a_lost_answer_is_retried_with_backoff_and_stores_nothing_twice(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    puids = [record(database, settings, tdb, n) for n in range(2)]
    tdb.scripted = [0]  # the database stores the call, then the connection breaks

    run = deliver_due(database, transports(tdb, client), NOW, rng=lambda: 1.0)
    assert run.retrying and not run.delivered
    (message,) = messages(database)
    assert message.next_attempt_at == NOW + timedelta(seconds=5)  # the backoff's first step
    assert deliver_due(database, transports(tdb, client), NOW).delivered == []  # not yet due

    run = deliver_due(database, transports(tdb, client), NOW + timedelta(seconds=5))

    assert len(run.delivered) == 1
    assert sorted(tdb.stored) == sorted(puids)
    assert tdb.calls == [(MULTIPLE, 201), (MULTIPLE, 422)]


def test_a_server_error_is_retried_later(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    puid = record(database, settings, tdb, 1)
    tdb.scripted = [503]

    assert deliver_due(database, transports(tdb, client), NOW).retrying
    run = deliver_due(database, transports(tdb, client), NOW + timedelta(minutes=1))

    assert len(run.delivered) == 1 and list(tdb.stored) == [puid]


def test_a_wrong_token_fails_the_message_for_good(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    record(database, settings, tdb, 1)
    wrong = {"dsa-tdb": DsaTdbTransport(tdb.url, "1|not-the-token", client)}

    run = deliver_due(database, wrong, NOW)

    (failed,) = run.failed
    assert failed.error == "delivery_rejected"  # the code only: an answer may echo the body
    assert messages(database)[0].status == "failed"
    assert not tdb.stored


def test_decisions_recording_at_once_lose_no_statement_and_repeat_none(
    database: Database, settings: Settings, tdb: TransparencyDatabase, client: httpx.Client
) -> None:
    def record_many(start: int) -> list[str]:
        return [record(database, settings, tdb, n) for n in range(start, start + 15)]

    with ThreadPoolExecutor(max_workers=3) as pool:
        made = [puid for batch in pool.map(record_many, (0, 100, 200)) for puid in batch]
    deliver_due(database, transports(tdb, client), NOW)

    queued = [s["puid"] for m in messages(database) for s in m.payload["statements"]]
    assert sorted(queued) == sorted(made)  # each once, none lost to a concurrent append
    assert sorted(tdb.stored) == sorted(made)


def test_the_sender_has_the_transport_only_when_the_database_url_is_set(
    database: Database, settings: Settings, client: httpx.Client
) -> None:
    unset = TransportContext(settings, database, client)
    configured = TransportContext(
        dataclasses.replace(settings, dsa_tdb_url="http://127.0.0.1:9", dsa_tdb_token=TOKEN),
        database,
        client,
    )

    assert statement_transports(unset) == {}
    assert list(statement_transports(configured)) == ["dsa-tdb"]


def test_a_database_url_without_a_token_stops_the_sender_with_a_clear_error(
    database: Database, settings: Settings, client: httpx.Client
) -> None:
    no_token = dataclasses.replace(settings, dsa_tdb_url="http://127.0.0.1:9")

    with pytest.raises(ConfigurationError, match="TUTELA_DSA_TDB_TOKEN"):
        statement_transports(TransportContext(no_token, database, client))
