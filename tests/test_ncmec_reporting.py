"""The NCMEC transport as a persisted state machine, against a local server that acts as the
CyberTipline Reporting API does (submit, upload, fileinfo, finish; Basic auth; XML answers)."""

from __future__ import annotations

import base64
import os
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

from report_samples import CARD, NOW, PROVIDER, sample_input
from tutela.db import Database
from tutela.errors import ConfigurationError
from tutela.reporting.fields import ReportInput
from tutela.reporting.outbox import (
    ACKNOWLEDGED,
    FAILED,
    FailedMessage,
    deliver_due,
    enqueue,
    requeue,
)
from tutela.reporting.outbox_models import OutboxMessage
from tutela.reporting.report import build_report
from tutela.reporting.transports.base import TransportContext
from tutela.reporting.transports.ncmec import (
    NcmecTransport,
    load_credentials,
    ncmec_payload,
    settle_uncertain_submit,
    store_credentials,
)
from tutela.reporting.transports.ncmec_models import NcmecCredential, NcmecReport
from tutela.settings import Settings

USER, PASSWORD = "esp-test", "not-a-real-password"
SECRETS_KEY = base64.b64encode(os.urandom(32)).decode()


class FakeCyberTipline:
    """Counts what it was asked; `drop_after` names steps it carries out and then hangs up on."""

    def __init__(self) -> None:
        self.submits = 0
        self.reports: dict[str, dict[str, object]] = {}
        self.files: dict[str, str] = {}
        self.described: list[str] = []
        self.drop_after: set[str] = set()
        self.bodies: list[bytes] = []
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
                fields = getattr(server, "_" + step)(body, self.headers.get("Content-Type", ""))
                if step in server.drop_after:
                    server.drop_after.discard(step)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
                answer = f'<?xml version="1.0" encoding="UTF-8"?><reportResponse>{inner}</reportResponse>'
                data = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
        assert parts["file"].get_content() == CARD
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
    payload = ncmec_payload(report, [source.item.item_id], "A1")
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
    assert (sent.status, sent.remote_ref) == (ACKNOWLEDGED, "1001")


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
    assert message(database, message_id).status == FAILED

    # A person reads the report id off NCMEC's side; the delivery resumes after /submit.
    with database.unit_of_work() as session:
        key = message(database, message_id).idempotency_key
        settle_uncertain_submit(session, key, "1001", NOW)
        requeue(session, message_id, NOW)
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
