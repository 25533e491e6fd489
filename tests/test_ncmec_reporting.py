"""The NCMEC transport as a persisted state machine, against a local server that acts as the
CyberTipline Reporting API does (submit, upload, fileinfo, finish; Basic auth; XML answers)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from report_samples import CARD, NOW, PROVIDER, sample_input
from review_fixtures import PASSWORD as CONSOLE_PASSWORD
from review_fixtures import detect, jpeg_bytes, photo, review_db, with_vault
from tutela.audit.log import Subject, list_entries, user_actor
from tutela.auth.user_models import User
from tutela.auth.users import create_user
from tutela.cli import main
from tutela.clock import utc_now
from tutela.db import Database
from tutela.errors import ConfigurationError, Conflict
from tutela.messaging.messages import open_message
from tutela.messaging.outbox import FailedMessage, deliver_due, enqueue, requeue
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.messaging.signing import (
    SigningKey,
    default_key_file,
    generate_key_file,
    load_public_key,
)
from tutela.messaging.transports import TransportContext
from tutela.nodes.provider_sending import NCMEC_ACTOR, NCMEC_PURPOSE, provider_transports
from tutela.reporting.fields import ReportInput
from tutela.reporting.filing import file_report
from tutela.reporting.report import build_report
from tutela.reporting.report_updates import queue_retraction
from tutela.reporting.transports.ncmec import (
    NcmecTransport,
    load_credentials,
    ncmec_payload,
    store_credentials,
)
from tutela.reporting.transports.ncmec_models import NcmecCredential, NcmecReport
from tutela.reporting.transports.ncmec_settlement import (
    SETTLE_ACTION,
    settle_uncertain_submit,
    uncertain_submits,
)
from tutela.review.decisions import Decision, decide
from tutela.settings import Settings

__all__ = ["review_db"]
USER, PASSWORD = "esp-test", "not-a-real-password"
SECRETS_KEY = base64.b64encode(os.urandom(32)).decode()

# Settling creates a compliance officer's account; its password hash need not be costly.
pytestmark = pytest.mark.usefixtures("cheap_argon2")


class FakeCyberTipline:
    """Counts what it was asked; `drop_after` names steps it carries out and then hangs up on,
    `drop_before` steps it hangs up on without carrying them out."""

    def __init__(self) -> None:
        self.submits = 0
        self.reports: dict[str, dict[str, object]] = {}
        self.files: dict[str, str] = {}
        self.described: list[str] = []
        self.drop_after: set[str] = set()
        self.drop_before: set[str] = set()
        self.bodies: list[bytes] = []
        self.uploads: list[bytes] = []
        self.expected_upload: bytes | None = CARD  # None: whatever comes is kept in `uploads`
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                step = self.path.rsplit("/", 1)[-1]
                if step in server.drop_before:
                    server.drop_before.discard(step)
                    self.hang_up()
                    return
                fields = getattr(server, "_" + step)(body, self.headers.get("Content-Type", ""))
                if step in server.drop_after:
                    server.drop_after.discard(step)
                    self.hang_up()
                    return
                inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
                answer = f'<?xml version="1.0" encoding="UTF-8"?><reportResponse>{inner}</reportResponse>'
                data = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def hang_up(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ispws"

    def _submit(self, body: bytes, _type: str) -> dict[str, str]:
        ET.fromstring(body)
        self.bodies.append(body)
        self.submits += 1
        report_id = str(1000 + self.submits)
        self.reports[report_id] = {"finished": False}
        return _ok(reportId=report_id)

    def _upload(self, body: bytes, content_type: str) -> dict[str, str]:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        report_id = str(parts["id"].get_content()).strip()
        content = parts["file"].get_content()
        assert self.expected_upload is None or content == self.expected_upload
        self.uploads.append(content)
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = report_id
        return _ok(reportId=report_id, fileId=file_id)

    def _fileinfo(self, body: bytes, _type: str) -> dict[str, str]:
        root = ET.fromstring(body)
        file_id = root.findtext("fileId") or ""
        assert self.files[file_id] == root.findtext("reportId")
        self.described.append(file_id)
        return _ok(reportId=root.findtext("reportId") or "")

    def _finish(self, body: bytes, _type: str) -> dict[str, str]:
        report_id = parse_qs(body.decode())["id"][0]
        self.reports[report_id]["finished"] = True
        return _ok(reportId=report_id)

    def _retract(self, body: bytes, _type: str) -> dict[str, str]:
        report_id = parse_qs(body.decode())["id"][0]
        self.reports[report_id]["retracted"] = True
        return _ok(reportId=report_id)


def _ok(**fields: str) -> dict[str, str]:
    return {"responseCode": "0", "responseDescription": "Success", **fields}


@pytest.fixture
def cybertipline() -> Iterator[FakeCyberTipline]:
    fake = FakeCyberTipline()
    thread = threading.Thread(target=fake.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.httpd.shutdown()
        fake.httpd.server_close()


def transport_for(database: Database, fake: FakeCyberTipline) -> NcmecTransport:
    with database.unit_of_work() as session:
        store_credentials(session, SECRETS_KEY, USER, PASSWORD, fake.url)
    context = TransportContext(
        settings=Settings(secrets_key=SECRETS_KEY),
        database=database,
        client=httpx.Client(timeout=5),
        content_source=lambda ref: CARD if ref.startswith("upload-") else None,
    )
    return NcmecTransport.create(context)


def queue_report(database: Database, source: ReportInput | None = None) -> int:
    source = source or sample_input()
    report = build_report(source, PROVIDER, NOW)
    payload = ncmec_payload(report, [source.item.item_ref], "A1")
    with database.unit_of_work() as session:
        message = enqueue(session, "ncmec", "report", payload, str(report["report_id"]), NOW)
        return message.id


def message(database: Database, message_id: int) -> OutboxMessage:
    with database.reader() as session:
        return session.get_one(OutboxMessage, message_id)


def test_report_goes_through_submit_upload_fileinfo_finish(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    message_id = queue_report(database)
    transport = transport_for(database, cybertipline)
    assert deliver_due(database, {"ncmec": transport}, NOW).delivered == [message_id]
    assert cybertipline.submits == 1
    assert cybertipline.reports == {"1001": {"finished": True}}
    assert cybertipline.described == ["file-1"]
    sent = message(database, message_id)
    assert (sent.status, sent.remote_ref) == (MessageStatus.ACKNOWLEDGED, "1001")


def test_report_xml_follows_schema_order_and_carries_the_port(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    queue_report(database)
    deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, NOW)
    root = ET.fromstring(cybertipline.bodies[0])
    assert [child.tag for child in root] == [
        "incidentSummary",
        "internetDetails",
        "reporter",
        "personOrUserReported",
    ]
    capture = root.find("personOrUserReported/ipCaptureEvent")
    assert capture is not None
    assert capture.findtext("ipAddress") == "192.0.2.10"
    assert capture.findtext("port") == "50123"


def test_lost_answer_to_submit_never_leads_to_a_second_report(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    message_id = queue_report(database)
    transport = transport_for(database, cybertipline)
    cybertipline.drop_after = {"submit"}
    alerts: list[FailedMessage] = []
    run = deliver_due(database, {"ncmec": transport}, NOW, alert=alerts.append)
    # NCMEC created report 1001 but the answer was lost: the node cannot know, so it stops.
    assert cybertipline.submits == 1
    assert [a.id for a in alerts] == [message_id]
    assert run.delivered == []
    assert message(database, message_id).status == MessageStatus.FAILED

    # A person reads the report id off NCMEC's side; the delivery resumes after /submit.
    add_operator(database)
    with database.unit_of_work() as session:
        (uncertain,) = uncertain_submits(session)
        settle_uncertain_submit(session, uncertain.id, "1001", by=OPERATOR, now=NOW)
    assert deliver_due(database, {"ncmec": transport}, NOW).delivered == [message_id]
    assert cybertipline.submits == 1
    assert cybertipline.reports == {"1001": {"finished": True}}


@pytest.mark.parametrize("step", ["upload", "fileinfo", "finish"])
def test_each_later_step_resumes_after_a_lost_answer_without_resubmitting(
    database: Database, cybertipline: FakeCyberTipline, step: str
) -> None:
    message_id = queue_report(database)
    transport = transport_for(database, cybertipline)
    cybertipline.drop_after = {step}
    first = deliver_due(database, {"ncmec": transport}, NOW)
    assert first.retrying == [message_id]
    later = NOW.replace(hour=13)
    assert deliver_due(database, {"ncmec": transport}, later).delivered == [message_id]
    assert cybertipline.submits == 1
    assert cybertipline.reports == {"1001": {"finished": True}}
    with database.reader() as session:
        row = session.scalars(select(NcmecReport)).one()
        assert (row.state, row.report_id) == ("finished", "1001")


def test_follow_up_report_cites_the_earlier_one(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    queue_report(database, sample_input(case_id=1))
    queue_report(database, sample_input(case_id=2))
    deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, NOW)
    second = ET.fromstring(cybertipline.bodies[1])
    assert second.findtext("personOrUserReported/priorCTReports") == "1001"


def test_credentials_are_sealed_at_rest(database: Database) -> None:
    with database.unit_of_work() as session:
        store_credentials(session, SECRETS_KEY, USER, PASSWORD, "https://ncmec.invalid")
    with database.reader() as session:
        row = session.scalars(select(NcmecCredential)).one()
        assert PASSWORD.encode() not in row.sealed
        assert load_credentials(session, SECRETS_KEY)[:2] == (USER, PASSWORD)
        other_key = base64.b64encode(os.urandom(32)).decode()
        with pytest.raises(ConfigurationError):
            load_credentials(session, other_key)


# -- settling a lost /submit: `tutela outbox ncmec uncertain|settle` ------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def lose_submit(
    database: Database, fake: FakeCyberTipline, *, created: bool, case_id: int = 7
) -> tuple[int, NcmecTransport]:
    """Queue a report and deliver it while the answer to /submit is lost; whether NCMEC created
    the report is `created`. The outbox message fails and the report waits for a person."""
    message_id = queue_report(database, sample_input(case_id=case_id))
    transport = transport_for(database, fake)
    if created:
        fake.drop_after = {"submit"}
    else:
        fake.drop_before = {"submit"}
    run = deliver_due(database, {"ncmec": transport}, utc_now())
    assert [failed.id for failed in run.failed] == [message_id]
    add_operator(database)
    return message_id, transport


OPERATOR = "a.operator"


def add_operator(database: Database) -> None:
    """The compliance officer who settles reports (the settlement names a real account)."""
    create_user(database, OPERATOR, CONSOLE_PASSWORD, ["compliance_officer"], actor="test")


def operator_id(database: Database) -> int:
    with database.reader() as session:
        return session.scalars(select(User.id).where(User.name == OPERATOR)).one()


def ncmec_row(database: Database) -> NcmecReport:
    """The newest local NCMEC report."""
    with database.reader() as session:
        return session.scalars(select(NcmecReport).order_by(NcmecReport.id.desc()).limit(1)).one()


def test_uncertain_lists_a_lost_submit_with_its_time_transport_and_account(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = utc_now()
    message_id, _ = lose_submit(database, cybertipline, created=True)
    code, out, _ = run_cli(capsys, "outbox", "ncmec", "uncertain", "--json")
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert listed["id"] == ncmec_row(database).id
    assert listed["message_id"] == message_id
    assert listed["transport"] == "ncmec"
    assert listed["report"] == message(database, message_id).idempotency_key
    assert listed["reported_account"] == "account-42"
    assert before <= datetime.fromisoformat(listed["submitted_at"]) <= utc_now()
    code, out, _ = run_cli(capsys, "outbox", "ncmec", "uncertain")
    assert out.split()[:3] == [str(listed["id"]), listed["submitted_at"], "ncmec"]


def test_uncertain_says_so_when_every_submit_was_answered(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue_report(database)
    deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, NOW)
    code, out, _ = run_cli(capsys, "outbox", "ncmec", "uncertain")
    assert (code, out) == (0, "no NCMEC report awaits a settlement\n")


def test_settling_as_existing_records_the_id_and_resumes_without_a_second_submit(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message_id, transport = lose_submit(database, cybertipline, created=True)
    local = ncmec_row(database).id
    code, out, _ = run_cli(
        capsys, "outbox", "ncmec", "settle", str(local), "--exists", "1001", "--by", OPERATOR
    )
    assert code == 0
    assert "CyberTipline report 1001" in out
    assert deliver_due(database, {"ncmec": transport}, utc_now()).delivered == [message_id]
    assert cybertipline.submits == 1
    assert cybertipline.reports == {"1001": {"finished": True}}
    assert cybertipline.described == ["file-1"]
    assert (ncmec_row(database).state, message(database, message_id).remote_ref) == (
        "finished",
        "1001",
    )


def test_settling_as_absent_submits_the_report_afresh(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message_id, transport = lose_submit(database, cybertipline, created=False)
    assert cybertipline.submits == 0
    local = ncmec_row(database).id
    code, out, _ = run_cli(
        capsys, "outbox", "ncmec", "settle", str(local), "--absent", "--by", OPERATOR
    )
    assert code == 0
    assert "submit it afresh" in out
    assert deliver_due(database, {"ncmec": transport}, utc_now()).delivered == [message_id]
    assert cybertipline.submits == 1
    assert cybertipline.reports == {"1001": {"finished": True}}


def test_each_settlement_is_audited_naming_the_operator(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message_id, _ = lose_submit(database, cybertipline, created=True)
    local = ncmec_row(database).id
    run_cli(capsys, "outbox", "ncmec", "settle", str(local), "--exists", "1001", "--by", OPERATOR)
    with database.reader() as session:
        (entry,) = list_entries(session, action=SETTLE_ACTION)
    assert entry.actor == user_actor(operator_id(database))
    assert entry.details["by"] == OPERATOR
    assert entry.subject == Subject("ncmec_report", str(local))
    assert entry.details["outcome"] == "exists"
    assert entry.details["ncmec_report_id"] == "1001"
    assert entry.details["message_id"] == message_id
    assert str(entry.details["via"]).startswith("cli")


def test_settle_refuses_a_report_that_is_not_awaiting_a_settlement(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue_report(database)
    deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, NOW)
    add_operator(database)
    local = ncmec_row(database).id
    code, _, err = run_cli(
        capsys, "outbox", "ncmec", "settle", str(local), "--absent", "--by", OPERATOR
    )
    assert code == 1
    assert err.startswith(f"error: NCMEC report {local} is finished, not awaiting a settlement")
    assert err.rstrip().endswith("[conflict]")
    assert ncmec_row(database).state == "finished"
    with database.reader() as session:
        assert list_entries(session, action=SETTLE_ACTION) == []


def test_settle_refuses_a_report_whose_submit_may_still_be_under_way(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    # A sender died during /submit: the report is `submitting` but its message is still queued.
    message_id, _ = lose_submit(database, cybertipline, created=True)
    with database.unit_of_work() as session:
        requeue(session, message_id, utc_now())
    with database.unit_of_work() as session, pytest.raises(Conflict, match="being submitted"):
        settle_uncertain_submit(session, ncmec_row(database).id, None, by=OPERATOR, now=utc_now())


def test_settle_refuses_an_id_another_report_already_holds(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    queue_report(database, sample_input(case_id=1))
    deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, utc_now())
    lose_submit(database, cybertipline, created=True, case_id=2)  # NCMEC made it 1002
    local = ncmec_row(database).id
    with database.unit_of_work() as session, pytest.raises(Conflict, match="already recorded"):
        settle_uncertain_submit(session, local, "1001", by=OPERATOR, now=utc_now())
    with database.unit_of_work() as session:
        settle_uncertain_submit(session, local, "1002", by=OPERATOR, now=utc_now())
    assert ncmec_row(database).report_id == "1002"


@pytest.mark.parametrize(
    "answer",
    [["--absent", "--exists", "1001"], [], ["--exists", "10O1"]],
    ids=["both", "neither", "not-a-number"],
)
def test_settle_needs_one_clear_answer(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    answer: list[str],
) -> None:
    lose_submit(database, cybertipline, created=True)
    local = str(ncmec_row(database).id)
    code, _, err = run_cli(capsys, "outbox", "ncmec", "settle", local, *answer, "--by", OPERATOR)
    assert (code, err.rstrip()[-len("[invalid_input]") :]) == (1, "[invalid_input]")
    assert ncmec_row(database).state == "submitting"


@pytest.mark.parametrize(("by", "code"), [("nobody", "unauthorized"), ("a.reviewer", "forbidden")])
def test_settle_names_a_compliance_officers_account_or_is_refused(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    by: str,
    code: str,
) -> None:
    lose_submit(database, cybertipline, created=True)
    create_user(database, "a.reviewer", CONSOLE_PASSWORD, ["reviewer"], actor="test")
    local = str(ncmec_row(database).id)
    exit_code, _, err = run_cli(capsys, "outbox", "ncmec", "settle", local, "--absent", "--by", by)
    assert (exit_code, err.rstrip()[-len(code) - 2 :]) == (1, f"[{code}]")
    assert ncmec_row(database).state == "submitting"
    with database.reader() as session:
        assert list_entries(session, action=SETTLE_ACTION) == []


def test_settle_needs_the_operators_name(
    database: Database,
    cybertipline: FakeCyberTipline,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lose_submit(database, cybertipline, created=True)
    local = str(ncmec_row(database).id)
    code, _, err = run_cli(capsys, "outbox", "ncmec", "settle", local, "--absent")
    assert code == 2
    assert "--by" in err
    code, _, err = run_cli(capsys, "outbox", "ncmec", "settle", local, "--absent", "--by", " ")
    assert (code, err.rstrip()[-len("[invalid_input]") :]) == (1, "[invalid_input]")
    assert ncmec_row(database).state == "submitting"


# -- a confirmed case reported to NCMEC by the node (TUTELA_REPORT_NCMEC) ---------------------------


def ncmec_node(review_db: tuple[Database, Settings], fake: FakeCyberTipline) -> Settings:
    """The review node set to report to NCMEC only, its credentials stored."""
    database, settings = review_db
    settings = dataclasses.replace(
        settings,
        report_ncmec=True,
        secrets_key=SECRETS_KEY,
        provider_name="Example Hosting BV",
        provider_legal_representative="Example Legal Rep GmbH",
        provider_contact="trust@example.org",
        provider_country="NL",
    )
    with database.unit_of_work() as session:
        store_credentials(session, SECRETS_KEY, USER, PASSWORD, fake.url)
    return settings


def test_a_confirmed_case_reaches_the_cybertipline_with_the_content_from_the_vault(
    review_db: tuple[Database, Settings], cybertipline: FakeCyberTipline
) -> None:
    database, _ = review_db
    settings = ncmec_node(review_db, cybertipline)
    (case_id,) = detect(database, settings, ("astronaut",))
    view = decide(database, case_id, "rita", Decision.CONFIRM_KNOWN, settings=settings)
    assert view.effects["report"]["destinations"] == ["ncmec"]
    cybertipline.expected_upload = None

    run = deliver_due(database, provider_transports(settings, database), utc_now())

    assert len(run.delivered) == 1 and not run.failed and not run.retrying
    assert cybertipline.submits == 1
    assert cybertipline.uploads == [jpeg_bytes(photo("astronaut"))]  # the upload, unsealed
    assert cybertipline.described == ["file-1"]
    assert cybertipline.reports == {"1001": {"finished": True}}
    with database.reader() as session:
        opened = list_entries(session, action="vault_open")
    assert [entry.actor for entry in opened] == [NCMEC_ACTOR]
    assert opened[0].details["purpose"] == NCMEC_PURPOSE


def test_reporting_to_ncmec_needs_the_vault_key_on_the_sending_node(
    review_db: tuple[Database, Settings], cybertipline: FakeCyberTipline
) -> None:
    database, _ = review_db
    settings = dataclasses.replace(ncmec_node(review_db, cybertipline), vault_key=None)
    with pytest.raises(ConfigurationError, match="TUTELA_VAULT_KEY"):
        provider_transports(settings, database)


def test_reporting_to_ncmec_without_stored_credentials_says_how_to_store_them(
    database: Database,
) -> None:
    settings = with_vault(Settings(secrets_key=SECRETS_KEY, report_ncmec=True))
    with pytest.raises(ConfigurationError, match="tutela outbox ncmec credentials"):
        provider_transports(settings, database)


def store_with_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> tuple[int, str, str]:
    """`tutela outbox ncmec credentials`, the password given on standard input."""
    monkeypatch.setenv("TUTELA_SECRETS_KEY", SECRETS_KEY)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return run_cli(
        capsys,
        *("outbox", "ncmec", "credentials", "--username", USER, "--url", url),
        "--password-stdin",
    )


def test_the_cli_stores_the_credentials_sealed_and_audits_it_without_the_password(
    database: Database,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = store_with_cli(capsys, monkeypatch, "https://ncmec.invalid/ispws")
    assert code == 0 and PASSWORD not in out
    with database.reader() as session:
        assert load_credentials(session, SECRETS_KEY) == (
            USER,
            PASSWORD,
            "https://ncmec.invalid/ispws",
        )
        (entry,) = list_entries(session, action="setting_change")
    assert entry.subject == Subject("ncmec_credentials", "cybertipline")
    assert PASSWORD not in json.dumps(entry.details)


def test_the_cli_refuses_a_url_that_is_not_http(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = store_with_cli(capsys, monkeypatch, "ftp://x")
    assert code != 0 and "--url must be an http(s) URL" in err


def test_a_retraction_withdraws_the_report_at_ncmec_once_it_has_an_id(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    queue_report(database)
    key = str(build_report(sample_input(), PROVIDER, NOW)["report_id"])
    with database.unit_of_work() as session:
        queue_retraction(session, _no_key, key, "complaint_upheld", NOW)
    transport = transport_for(database, cybertipline)

    deliver_due(database, {"ncmec": transport}, NOW)

    assert cybertipline.reports["1001"] == {"finished": True, "retracted": True}


def test_a_retraction_waits_while_the_report_has_no_ncmec_id(
    database: Database, cybertipline: FakeCyberTipline
) -> None:
    queue_report(database)
    key = str(build_report(sample_input(), PROVIDER, NOW)["report_id"])
    with database.unit_of_work() as session:
        retract_id = queue_retraction(session, _no_key, key, "complaint_upheld", NOW)["ncmec"]
    with database.unit_of_work() as session:
        # The report itself is not due yet: the retraction must not run ahead of it.
        session.get_one(OutboxMessage, retract_id - 1).next_attempt_at = NOW + timedelta(hours=1)

    run = deliver_due(database, {"ncmec": transport_for(database, cybertipline)}, NOW)

    assert run.retrying == [retract_id] and cybertipline.submits == 0


def test_ncmecs_report_id_follows_to_the_centre_in_a_signed_update(
    tmp_path: Path, database: Database, cybertipline: FakeCyberTipline
) -> None:
    settings = Settings(data_dir=tmp_path, secrets_key=SECRETS_KEY, centre_url="http://c.invalid")
    key = generate_key_file(default_key_file(settings))
    source = sample_input(reported_elsewhere=(("NCMEC", ""),))
    with database.unit_of_work() as session:
        filed = file_report(session, source, PROVIDER, key, NOW, destinations=("centre", "ncmec"))
        store_credentials(session, SECRETS_KEY, USER, PASSWORD, cybertipline.url)
    context = TransportContext(
        settings, database, httpx.Client(timeout=5), content_source=lambda ref: CARD
    )

    deliver_due(database, {"ncmec": NcmecTransport.create(context)}, NOW)

    with database.reader() as session:
        update = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "report_update")
        ).one()
    message = open_message(
        load_public_key(key.public_key_pem()),
        update.payload["key_id"],
        update.payload["body"].encode(),
        update.payload["signature"],
    )
    assert message.payload == {
        "report_id": filed.report_id,
        "reported_elsewhere": [{"organisation": "NCMEC", "case_number": "1001"}],
    }


def _no_key() -> SigningKey:
    raise AssertionError("an NCMEC-only retraction signs nothing")
