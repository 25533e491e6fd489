"""StopNCII, against a local server that answers FetchHashes as the documented JSON API does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tutela.audit.log import list_entries
from tutela.db import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.fetchers import (
    FetchFailed,
    StopNciiCredentials,
    fetch_stopncii,
    stopncii_client,
)
from tutela.indicators.models import Indicator

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
VIDEO_MD5 = "fedcba9876543210fedcba9876543210"


def record(signal_type: str, value: str, status: str = "Active") -> dict[str, Any]:
    return {
        "lastModtimestamp": 1_700_000_000,
        "signalType": signal_type,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [],
    }


PAGE_1 = {
    "count": 2,
    "nextPageToken": "page-2",
    "nextSetTimestamp": 1_700_000_100,
    "hasMoreRecords": True,
    "hashRecords": [record("ImagePDQ", PDQ), record("VideoTMK", "abcd")],
}
PAGE_2 = {
    "count": 1,
    "nextPageToken": None,
    "nextSetTimestamp": 1_700_000_200,
    "hasMoreRecords": False,
    "hashRecords": [record("VideoMD5", VIDEO_MD5)],
}


class FakeStopNcii:
    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.pages: dict[str, dict[str, Any]] = {"": PAGE_1, "page-2": PAGE_2}
        self.fail_page_2 = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                fake.requests.append(query)
                token = query.get("nextPageToken", [""])[0]
                if not (
                    self.headers.get("x-functions-key")
                    and self.headers.get("Ocp-Apim-Subscription-Key")
                ):
                    self._answer(401, {})
                elif urlsplit(self.path).path != "/v1/FetchHashes":
                    self._answer(404, {})
                elif token == "page-2" and fake.fail_page_2:
                    self._answer(403, {})
                else:
                    self._answer(200, fake.pages[token])

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stopncii() -> Iterator[FakeStopNcii]:
    server = FakeStopNcii()
    yield server
    server.close()


@pytest.fixture
def client(stopncii: FakeStopNcii) -> object:
    return stopncii_client(StopNciiCredentials("sub-key", "fetch-key", url=stopncii.url))


def stored(database: Database) -> set[tuple[str, str]]:
    with database.reader() as session:
        rows = session.execute(select(Indicator.signal_type, Indicator.value))
        return {(r.signal_type, r.value) for r in rows}


def test_image_pdq_and_video_md5_are_fetched_across_pages(
    database: Database, client: object
) -> None:
    create_bank(database, "stopncii")
    report = fetch_stopncii(database, "stopncii", client)
    assert stored(database) == {("pdq", PDQ), ("md5", VIDEO_MD5)}
    assert (report.pages, report.added, dict(report.skipped)) == (2, 2, {"VideoTMK": 1})


def test_a_withdrawn_case_removes_its_hash(
    database: Database, client: object, stopncii: FakeStopNcii
) -> None:
    create_bank(database, "stopncii")
    fetch_stopncii(database, "stopncii", client)
    stopncii.pages[""] = {**PAGE_2, "hashRecords": [record("ImagePDQ", PDQ, "Withdrawn")]}
    report = fetch_stopncii(database, "stopncii", client)
    assert report.removed == 1
    assert stored(database) == {("md5", VIDEO_MD5)}


def test_the_next_fetch_starts_from_the_checkpointed_timestamp(
    database: Database, client: object, stopncii: FakeStopNcii
) -> None:
    create_bank(database, "stopncii")
    stopncii.fail_page_2 = True
    with pytest.raises(FetchFailed):
        fetch_stopncii(database, "stopncii", client)
    assert stored(database) == {("pdq", PDQ)}
    stopncii.fail_page_2 = False
    stopncii.requests.clear()
    report = fetch_stopncii(database, "stopncii", client)
    assert report.resumed
    assert stopncii.requests[0]["startTimestamp"] == [str(PAGE_1["nextSetTimestamp"])]
    assert stored(database) == {("pdq", PDQ), ("md5", VIDEO_MD5)}


def test_each_fetched_page_is_audited_as_the_fetcher(database: Database, client: object) -> None:
    create_bank(database, "stopncii")
    fetch_stopncii(database, "stopncii", client, actor="cli:carol")
    with database.reader() as session:
        fetches = list_entries(session, action="bank_fetch")
    assert [(e.actor, e.details["added"]) for e in fetches] == [("cli:carol", 1), ("cli:carol", 1)]
