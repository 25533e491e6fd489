"""The `ncmec` transport: a CyberTipline report as a persisted state machine.

`POST /submit` → report id, `POST /upload` per file → file id, `POST /fileinfo` per file,
`POST /finish`. Each answer is stored before the next step, so a resumed delivery picks up where
the last one stopped. A report id once stored is never submitted for again; a /submit whose
answer was lost leaves the report `submitting` and its outbox message failed, and only a person
(who can see NCMEC's side) settles it, because the API offers no way to ask: see
tutela.reporting.transports.ncmec_settlement and `tutela outbox ncmec uncertain|settle`.

Once NCMEC's report id is known, the EU Centre is told it in a signed report update (Art
13(1)(h)); a `retract` message (a complaint reversed the decision) asks NCMEC's `POST /retract`
to withdraw the report, and waits while the report has no NCMEC id yet.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TamperedData,
    TransientDeliveryError,
)
from tutela.messaging.crypto import NONCE_BYTES, key_from_base64, seal, unseal
from tutela.messaging.retry import classify_response, raise_for
from tutela.messaging.transports import (
    ContentSource,
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
)
from tutela.reporting.report_updates import (
    RETRACT,
    KeySource,
    lazy_key,
    queue_ncmec_case_number,
)
from tutela.reporting.transports.ncmec_models import (
    NcmecCredential,
    NcmecFile,
    NcmecFileState,
    NcmecReport,
    NcmecReportState,
)
from tutela.reporting.transports.ncmec_xml import file_details_xml, parse_response, report_xml

CREDENTIAL_NAME = "cybertipline"
CREDENTIAL_CONTEXT = b"tutela/ncmec-reporting-credentials"
DEFAULT_URL = "https://exttest.cybertip.org/ispws"
XML = {"Content-Type": "text/xml; charset=utf-8"}


def ncmec_payload(
    report: dict[str, Any], item_refs: list[str], classification: str | None
) -> dict[str, Any]:
    """The outbox payload: the report without content bytes (those are uploaded from the
    provider's store at send time), the items to upload, and the reviewer's A1-B2 class."""
    content = dict(report.get("content") or {})
    content["files"] = []
    return {
        "report": {**report, "content": content},
        "files": item_refs,
        "classification": classification,
    }


def store_credentials(
    session: Session, encoded_key: str | None, username: str, password: str, url: str
) -> None:
    """Seal the CyberTipline credentials into the database (inside the caller's transaction)."""
    key = secrets_key(encoded_key)
    secret = json.dumps({"username": username, "password": password, "url": url}).encode()
    # Nonce and ciphertext keep their two columns: the one sealed format, split where it joins.
    sealed = seal(key, secret, CREDENTIAL_CONTEXT)
    nonce, sealed = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    row = session.scalar(select(NcmecCredential).where(NcmecCredential.name == CREDENTIAL_NAME))
    if row is None:
        row = NcmecCredential(name=CREDENTIAL_NAME)
        session.add(row)
    row.nonce, row.sealed, row.updated_at = nonce, sealed, utc_now()


def load_credentials(session: Session, encoded_key: str | None) -> tuple[str, str, str]:
    row = session.scalar(select(NcmecCredential).where(NcmecCredential.name == CREDENTIAL_NAME))
    if row is None:
        raise ConfigurationError(
            "no NCMEC reporting credentials are stored; store them with "
            "`tutela outbox ncmec credentials --username NAME`"
        )
    key = secrets_key(encoded_key)
    try:
        secret = unseal(key, row.nonce + row.sealed, CREDENTIAL_CONTEXT, "stored credentials")
    except TamperedData:
        raise ConfigurationError(
            "stored credentials do not open with TUTELA_SECRETS_KEY (wrong key or altered data)"
        ) from None
    data = json.loads(secret)
    return str(data["username"]), str(data["password"]), str(data.get("url") or DEFAULT_URL)


def secrets_key(encoded: str | None) -> bytes:
    """The node's key for secrets at rest (TUTELA_SECRETS_KEY), never stored beside them."""
    if not encoded:
        raise ConfigurationError("TUTELA_SECRETS_KEY is not set; stored credentials need it")
    return key_from_base64(encoded, "TUTELA_SECRETS_KEY")


class NcmecTransport(Transport):
    name: ClassVar[str] = "ncmec"

    def __init__(
        self,
        database: Database,
        client: httpx.Client,
        base_url: str,
        auth: tuple[str, str],
        content_source: ContentSource | None,
        centre_key: KeySource | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        self.authorization = f"Basic {token}"
        self.content_source = content_source
        # Signs the report update that tells the EU Centre NCMEC's report id; None: no centre.
        self.centre_key = centre_key

    @classmethod
    def create(cls, context: TransportContext) -> NcmecTransport:
        with context.database.reader() as session:
            username, password, url = load_credentials(session, context.settings.secrets_key)
        return cls(
            context.database,
            context.client,
            str(context.options.get("ncmec_url") or url),
            (username, password),
            context.content_source,
            lazy_key(context.settings) if context.settings.centre_url else None,
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = message.payload
        if message.kind == RETRACT:
            return self._retract(str(payload.get("report_key") or ""))
        row_id = self._open(message)
        report_id = self._submit(row_id, payload)
        self._upload_files(row_id, report_id)
        self._describe_files(row_id, report_id, payload)
        self._finish(row_id, report_id)
        self._tell_centre(message.idempotency_key, report_id)
        return SendResult(status="acknowledged", remote_ref=report_id)

    def _retract(self, report_key: str) -> SendResult:
        with self.database.reader() as session:
            report_id = session.scalar(
                select(NcmecReport.report_id).where(NcmecReport.message_key == report_key)
            )
        if not report_id:
            # Not submitted yet (or its submission is being settled): retract once it has an id.
            raise TransientDeliveryError("the NCMEC report to retract has no NCMEC id yet")
        parse_response(self._post("/retract", data={"id": report_id}).content)
        return SendResult(status="acknowledged", remote_ref=report_id)

    def _tell_centre(self, report_key: str, report_id: str) -> None:
        if self.centre_key is None:
            return
        with self.database.unit_of_work() as session:
            queue_ncmec_case_number(session, self.centre_key, report_key, report_id, utc_now())

    # -- steps; each stores its answer before the next one starts ------------------------------

    def _open(self, message: OutgoingMessage) -> int:
        with self.database.unit_of_work() as session:
            row = session.scalar(
                select(NcmecReport).where(NcmecReport.message_key == message.idempotency_key)
            )
            if row is not None:
                return row.id
            users = message.payload["report"].get("users") or [{}]
            row = NcmecReport(
                message_key=message.idempotency_key,
                state=NcmecReportState.NEW,
                account_id=users[0].get("unique_id"),
            )
            session.add(row)
            session.flush()
            for position, item_ref in enumerate(message.payload.get("files") or []):
                session.add(
                    NcmecFile(ncmec_report_id=row.id, position=position, item_ref=str(item_ref))
                )
            return row.id

    def _submit(self, row_id: int, payload: dict[str, Any]) -> str:
        with self.database.unit_of_work() as session:
            row = session.get_one(NcmecReport, row_id)
            if row.report_id:
                return row.report_id
            if row.state == NcmecReportState.SUBMITTING:
                raise PermanentDeliveryError(
                    "NCMEC may hold this report already (the answer to /submit was lost); "
                    "settle it with `tutela outbox ncmec settle` before it is sent again"
                )
            prior = self._prior_reports(session, row)
            row.state, row.updated_at = NcmecReportState.SUBMITTING, utc_now()
        body = report_xml(payload["report"], prior)
        try:
            response = self._post("/submit", content=body, headers=XML)
            report_id = parse_response(response.content, want="reportId")["reportId"]
        except _AnswerLost:
            # NCMEC may have created the report: stays `submitting`, for a person to settle.
            raise PermanentDeliveryError(
                "the answer to NCMEC /submit was lost; settle the report with "
                "`tutela outbox ncmec settle`"
            ) from None
        except DeliveryError:
            # Never sent, or NCMEC answered with a refusal: nothing was created there.
            self._set_state(row_id, NcmecReportState.NEW)
            raise
        with self.database.unit_of_work() as session:
            row = session.get_one(NcmecReport, row_id)
            row.report_id, row.state, row.updated_at = (
                report_id,
                NcmecReportState.SUBMITTED,
                utc_now(),
            )
        return report_id

    def _upload_files(self, row_id: int, report_id: str) -> None:
        for file_id, item_ref in self._files(row_id, NcmecFileState.PENDING):
            data = self.content_source(item_ref) if self.content_source else None
            if data is None:
                self._set_file(file_id, NcmecFileState.UNAVAILABLE, None)
                continue
            response = self._post(
                "/upload", data={"id": report_id}, files={"file": (f"{file_id}.bin", data)}
            )
            ncmec_file_id = parse_response(response.content, want="fileId")["fileId"]
            self._set_file(file_id, NcmecFileState.UPLOADED, ncmec_file_id)

    def _describe_files(self, row_id: int, report_id: str, payload: dict[str, Any]) -> None:
        report = payload["report"]
        hashes = (report.get("content") or {}).get("hashes") or []
        url = (report.get("metadata") or {}).get("url")
        with self.database.reader() as session:
            uploaded = session.scalars(
                select(NcmecFile).where(
                    NcmecFile.ncmec_report_id == row_id, NcmecFile.state == NcmecFileState.UPLOADED
                )
            ).all()
            pending = [(f.id, str(f.file_id)) for f in uploaded]
        for row_file_id, ncmec_file_id in pending:
            body = file_details_xml(
                report_id, ncmec_file_id, hashes, payload.get("classification"), url
            )
            parse_response(self._post("/fileinfo", content=body, headers=XML).content)
            self._set_file(row_file_id, NcmecFileState.DESCRIBED, ncmec_file_id)

    def _finish(self, row_id: int, report_id: str) -> None:
        with self.database.reader() as session:
            if session.get_one(NcmecReport, row_id).state == NcmecReportState.FINISHED:
                return
        parse_response(self._post("/finish", data={"id": report_id}).content)
        self._set_state(row_id, NcmecReportState.FINISHED)

    # -- plumbing ------------------------------------------------------------------------------

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        request = self.client.build_request("POST", self.base_url + path, **kwargs)
        request.headers["Authorization"] = self.authorization
        try:
            response = self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise TransientDeliveryError(f"NCMEC {path} could not be reached") from None
        except httpx.HTTPError as error:
            raise _AnswerLost(f"NCMEC {path}: {type(error).__name__}") from None
        raise_for(classify_response(response), f"NCMEC {path}")
        return response

    def _prior_reports(self, session: Session, row: NcmecReport) -> list[str]:
        if not row.account_id:
            return []
        earlier = session.scalars(
            select(NcmecReport.report_id)
            .where(
                NcmecReport.account_id == row.account_id,
                NcmecReport.id != row.id,
                NcmecReport.report_id.is_not(None),
            )
            .order_by(NcmecReport.id)
        )
        return [str(r) for r in earlier]

    def _files(self, row_id: int, state: str) -> list[tuple[int, str]]:
        with self.database.reader() as session:
            rows = session.scalars(
                select(NcmecFile)
                .where(NcmecFile.ncmec_report_id == row_id, NcmecFile.state == state)
                .order_by(NcmecFile.position)
            ).all()
            return [(f.id, f.item_ref) for f in rows]

    def _set_state(self, row_id: int, state: str) -> None:
        with self.database.unit_of_work() as session:
            row = session.get_one(NcmecReport, row_id)
            row.state, row.updated_at = state, utc_now()

    def _set_file(self, file_row_id: int, state: str, ncmec_file_id: str | None) -> None:
        with self.database.unit_of_work() as session:
            row = session.get_one(NcmecFile, file_row_id)
            row.state, row.file_id = state, ncmec_file_id


class _AnswerLost(TransientDeliveryError):
    """The request left but its answer did not come back: the server may have acted on it."""
