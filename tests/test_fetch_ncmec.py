"""NCMEC hash sharing, against a local server that answers as the documented XML API does.

The bank keeps every image's MD5 and SHA-1 as well as its PDQ (HMA drops the first two), and an
interrupted fetch resumes at the page it stopped on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tutela.clock import FixedClock
from tutela.db import Database
from tutela.indicators.banks import create_bank
from tutela.indicators.fetchers import FetchFailed, NcmecCredentials, fetch_ncmec, ncmec_client
from tutela.indicators.models import Indicator

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
AT = datetime.fromtimestamp(1_700_000_000, UTC)
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
VIDEO_MD5 = "fedcba9876543210fedcba9876543210"
NS = 'xmlns="https://hashsharing.ncmec.org/hashsharing/v2"'


def image(entry_id: str, fingerprints: str, tag: str = "image") -> str:
    return (
        f"<{tag}><id>{entry_id}</id><member id='42'>Some ESP</member>"
        f"<classification>A1</classification><fingerprints>{fingerprints}</fingerprints></{tag}>"
    )


PAGE_1 = (
    f"<queryResult {NS}><images count='1' maxTimestamp='2024-01-01T00:00:00Z'>"
    + image("e1", f"<md5>{MD5}</md5><sha1>{SHA1}</sha1><pdq>{PDQ}</pdq><pdna>AAAA</pdna>")
    + "</images><paging><next>/v2/entries?from=x&amp;to=y&amp;start=2&amp;size=1&amp;max=2"
    "</next></paging></queryResult>"
)
PAGE_2 = (
    f"<queryResult {NS}><videos count='1' maxTimestamp='2024-01-01T00:00:00Z'>"
    + image("v1", f"<md5>{VIDEO_MD5}</md5><tmk_pdqf>BBBB</tmk_pdqf>", "video")
    + "</videos></queryResult>"
)
DELETION = (
    f"<queryResult {NS}><images count='1' maxTimestamp='2024-01-02T00:00:00Z'>"
    "<deletedImage><id>e1</id><member id='42'>Some ESP</member></deletedImage>"
    "</images></queryResult>"
)


class FakeNcmec:
    """Serves /v2/entries: page 1, then page 2 via the `next` link; can fail page 2 once."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.fail_page_2 = False
        self.first_page = PAGE_1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                query = parse_qs(urlsplit(self.path).query)
                if self.headers.get("Authorization", "")[:6] != "Basic ":
                    self._answer(401, "")
                elif urlsplit(self.path).path != "/v2/entries":
                    self._answer(404, "")
                elif "start" not in query:
                    self._answer(200, fake.first_page)
                elif fake.fail_page_2:
                    self._answer(403, "")
                else:
                    self._answer(200, PAGE_2)

            def _answer(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    server = FakeNcmec()
    yield server
    server.close()


@pytest.fixture
def client(ncmec: FakeNcmec) -> object:
    return ncmec_client(NcmecCredentials("user", "secret", url=ncmec.url))


def stored(database: Database) -> set[tuple[str, str, str | None]]:
    with database.reader() as session:
        rows = session.execute(
            select(Indicator.signal_type, Indicator.value, Indicator.external_id)
        )
        return {(r.signal_type, r.value, r.external_id) for r in rows}


def test_image_md5_and_sha1_are_kept_along_with_pdq(database: Database, client: object) -> None:
    create_bank(database, "ncmec")
    report = fetch_ncmec(database, "ncmec", client)
    assert stored(database) == {
        ("md5", MD5, "42-e1"),
        ("sha1", SHA1, "42-e1"),
        ("pdq", PDQ, "42-e1"),
        ("md5", VIDEO_MD5, "42-v1"),
    }
    assert (report.pages, report.entries, report.added) == (2, 2, 4)
    assert dict(report.skipped) == {"pdna": 1, "tmk_pdqf": 1}


def test_a_deleted_entry_removes_its_hashes(
    database: Database, client: object, ncmec: FakeNcmec
) -> None:
    create_bank(database, "ncmec")
    fetch_ncmec(database, "ncmec", client)
    ncmec.first_page = DELETION
    report = fetch_ncmec(database, "ncmec", client)
    assert report.removed == 3
    assert stored(database) == {("md5", VIDEO_MD5, "42-v1")}


def test_an_interrupted_fetch_resumes_at_the_page_it_stopped_on(
    database: Database, client: object, ncmec: FakeNcmec
) -> None:
    create_bank(database, "ncmec")
    ncmec.fail_page_2 = True
    with pytest.raises(FetchFailed, match="HTTP 403"):
        fetch_ncmec(database, "ncmec", client)
    assert len(stored(database)) == 3  # page 1 was kept
    ncmec.fail_page_2 = False
    ncmec.requests.clear()
    report = fetch_ncmec(database, "ncmec", client)
    assert report.resumed
    assert len(ncmec.requests) == 1 and "start=2" in ncmec.requests[0]
    assert len(stored(database)) == 4


def test_a_completed_fetch_starts_the_next_from_where_it_ended(
    database: Database, client: object, ncmec: FakeNcmec
) -> None:
    create_bank(database, "ncmec")
    fetch_ncmec(database, "ncmec", client, clock=FixedClock(AT))
    ncmec.requests.clear()
    fetch_ncmec(database, "ncmec", client, clock=FixedClock(AT + timedelta(minutes=10)))
    first = parse_qs(urlsplit(ncmec.requests[0]).query)
    # The new range starts at the old end (the client formats it as a date).
    assert first["from"] != ["1970-01-01T00:00:00Z"]
    assert first["from"] != first["to"]


def test_credentials_never_appear_in_errors(
    database: Database, client: object, ncmec: FakeNcmec
) -> None:
    create_bank(database, "ncmec")
    ncmec.fail_page_2 = True
    with pytest.raises(FetchFailed) as caught:
        fetch_ncmec(database, "ncmec", client)
    assert "secret" not in str(caught.value)
    assert "secret" not in repr(NcmecCredentials("user", "secret"))
