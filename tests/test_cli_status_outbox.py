"""`tutela status` (queues, deliveries, open alerts; exit 3 while one is open), `tutela outbox list`
and `tutela outbox retry` through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tutela.audit.log import list_entries
from tutela.cli import main
from tutela.db import Database, open_database
from tutela.errors import TransientDeliveryError
from tutela.messaging.outbox import deliver_due, enqueue
from tutela.messaging.transports import OutgoingMessage, SendResult, Transport
from tutela.settings import Settings

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class Unreachable(Transport):
    name = "centre"

    @classmethod
    def create(cls, context: object) -> Unreachable:
        raise NotImplementedError

    def send(self, message: OutgoingMessage) -> SendResult:
        raise TransientDeliveryError("POST /v1/reports failed: ConnectError")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def queue(settings: Settings, *keys: str, fail: tuple[str, ...] = ()) -> list[int]:
    """Messages to the centre and to NCMEC; those whose key is in `fail` failed for good."""
    database = open_database(settings)
    try:
        ids = []
        with database.unit_of_work() as session:
            for key in keys:
                destination = "ncmec" if key.startswith("ncmec") else "centre"
                ids.append(enqueue(session, destination, "report", {"k": key}, key, NOW).id)
        for key in fail:
            _fail(database, ids[keys.index(key)])
        return ids
    finally:
        database.close()


def _fail(database: Database, message_id: int) -> None:
    # Delivered oldest first: the message queued first is the one tried (and failed).
    deliver_due(database, {"centre": Unreachable()}, NOW, max_attempts=1, limit=1)


def test_status_exits_0_and_reports_empty_queues_on_a_quiet_node(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert code == 0
    assert status["items"] == {"queued": 0, "processing": 0}
    assert status["review"] == {"urgent": 0, "action": 0, "close": 0, "far": 0}
    assert status["webhooks"] == {"pending": 0, "failed": 0}
    assert status["alerts"]["open"] == 0


def test_status_exits_3_and_lists_the_alert_of_a_failed_message(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    queue(cli_env, "r1", "r2", fail=("r1",))
    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert code == 3
    assert status["outbox"] == {"centre": {"pending": 1, "failed": 1}}
    assert status["alerts"]["by_kind"]["outbox_failed"] == 1
    (alert,) = status["alerts"]["list"]
    assert alert["kind"] == "outbox_failed"


def test_status_in_text_names_each_queue_and_the_open_alerts(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    queue(cli_env, "r1", fail=("r1",))
    code, out, _ = run(capsys, "status")
    assert code == 3
    assert "outbox      centre: pending 0, failed 1" in out
    assert "alerts      1 open" in out and "outbox_failed" in out


def test_outbox_list_shows_every_message_without_its_payload(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    queue(cli_env, "r1", "ncmec-1")
    code, out, _ = run(capsys, "outbox", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["transport"], r["status"]) for r in rows] == [
        ("ncmec", "queued"),
        ("centre", "queued"),
    ]
    assert all("payload" not in r for r in rows)


def test_outbox_list_narrows_to_failed_messages_of_one_transport(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = queue(cli_env, "r1", "r2", "ncmec-1", fail=("r1",))
    _, out, _ = run(capsys, "outbox", "list", "--failed", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [ids[0]]
    _, out, _ = run(capsys, "outbox", "list", "--transport", "ncmec", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [ids[2]]


def test_outbox_retry_queues_a_failed_message_again_and_audits_it(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (message_id,) = queue(cli_env, "r1", fail=("r1",))
    code, out, _ = run(capsys, "outbox", "retry", str(message_id), "--json")
    assert code == 0
    retried = json.loads(out)
    assert (retried["status"], retried["attempts"]) == ("queued", 0)
    database = open_database(cli_env)
    try:
        with database.reader() as session:
            (entry,) = list_entries(session, action="outbox_retry")
    finally:
        database.close()
    assert entry.details["failed_with"] == "delivery_retry"
    assert run(capsys, "status", "--json")[0] == 0  # its alert resolved


def test_outbox_retry_of_a_message_that_did_not_fail_is_refused(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (message_id,) = queue(cli_env, "r1")
    code, _, err = run(capsys, "outbox", "retry", str(message_id))
    assert code == 1 and "not failed" in err


def test_outbox_retry_of_an_id_beyond_64_bits_is_not_found(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "outbox", "retry", str(2**64))
    assert code == 1 and "[not_found]" in err
