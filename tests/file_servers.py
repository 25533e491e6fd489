"""In-test servers that `tutela scan` fetches from: a web server of files (and of misbehaving
answers: too large, trickling, missing, redirecting) and a small S3-compatible store that
checks every request's Signature Version 4 with its own code, not Tutela's. Not a test module."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

ACCESS_KEY = "AKIDTUTELATEST"
SECRET_KEY = "tutela/test+secret"
REGION = "eu-central-1"


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)


def web_files(files: dict[str, bytes], *, big: int = 0) -> type[BaseHTTPRequestHandler]:
    """A handler serving `files` by path, and: /big (`big` bytes, chunked, no length),
    /big-declared (a Content-Length over anything allowed), /slow (a byte a second),
    /redirect (302 to /a.jpg), anything else 404. It records the Accept-Encoding asked for."""

    class Files(Quiet):
        encodings: ClassVar[list[str]] = []

        def do_GET(self) -> None:
            Files.encodings.append(self.headers.get("Accept-Encoding", ""))
            path = urlsplit(self.path).path
            if path in files:
                self.answer(200, files[path], Content_Type="image/jpeg")
            elif path == "/big":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\xff" * 65536
                try:
                    for _ in range(big // len(chunk) + 1):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up at its limit, as it should
            elif path == "/big-declared":
                self.send_response(200)
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    pass
            elif path == "/redirect":
                self.answer(302, b"", Location="/a.jpg")
            else:
                self.answer(404, b"not here")

    return Files


def _encode(text: str, *, keep_slash: bool) -> str:
    return quote(text, safe="-._~/" if keep_slash else "-._~")


def expected_signature(
    method: str, raw_path: str, raw_query: str, headers: dict[str, str], signed: list[str]
) -> str:
    """SigV4 as the AWS documentation spells it, written here independently of Tutela's."""
    pairs = sorted(
        (_encode(k, keep_slash=False), _encode(v, keep_slash=False))
        for k, v in parse_qsl(raw_query, keep_blank_values=True)
    )
    canonical = "\n".join(
        [
            method,
            _encode(unquote(raw_path), keep_slash=True),
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{name}:{headers[name].strip()}\n" for name in signed),
            ";".join(signed),
            headers["x-amz-content-sha256"],
        ]
    )
    stamp = headers["x-amz-date"]
    scope = f"{stamp[:8]}/{REGION}/s3/aws4_request"
    text = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (stamp[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def s3_store(
    buckets: dict[str, dict[str, bytes]], *, page: int = 2
) -> type[BaseHTTPRequestHandler]:
    """A handler answering path-style ListObjectsV2 (at most `page` keys a page, whatever
    max-keys asks, so that paging is exercised) and GET Object for `buckets`, after checking
    the request's signature: 403 SignatureDoesNotMatch when it is wrong or missing."""

    class Store(Quiet):
        requests: ClassVar[list[str]] = []

        def do_GET(self) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            Store.requests.append(self.path)
            if not self._signed(raw_path, raw_query):
                self._error(403, "SignatureDoesNotMatch")
                return
            bucket, _, key = unquote(raw_path).lstrip("/").partition("/")
            if bucket not in buckets:
                self._error(404, "NoSuchBucket")
                return
            if not key:
                self._list(bucket, dict(parse_qsl(raw_query, keep_blank_values=True)))
                return
            if key not in buckets[bucket]:
                self._error(404, "NoSuchKey")
                return
            self.answer(200, buckets[bucket][key], ETag='"e"')

        def _signed(self, raw_path: str, raw_query: str) -> bool:
            authorization = self.headers.get("Authorization", "")
            if not authorization.startswith("AWS4-HMAC-SHA256 "):
                return False
            fields = dict(
                part.strip().split("=", 1) for part in authorization[17:].split(",") if "=" in part
            )
            signed = fields.get("SignedHeaders", "").split(";")
            headers = {name.lower(): value for name, value in self.headers.items()}
            if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed):
                return False
            if not fields.get("Credential", "").startswith(f"{ACCESS_KEY}/"):
                return False
            try:
                wanted = expected_signature("GET", raw_path, raw_query, headers, signed)
            except KeyError:
                return False
            return hmac.compare_digest(wanted, fields.get("Signature", ""))

        def _list(self, bucket: str, query: dict[str, str]) -> None:
            if query.get("list-type") != "2":
                self._error(400, "InvalidArgument")
                return
            prefix = query.get("prefix", "")
            keys = sorted(k for k in buckets[bucket] if k.startswith(prefix))
            after = query.get("continuation-token", "")
            keys = [k for k in keys if k > after]
            shown, rest = keys[:page], keys[page:]
            url = query.get("encoding-type") == "url"
            contents = "".join(
                f"<Contents><Key>{escape(quote(k) if url else k)}</Key>"
                f"<Size>{len(buckets[bucket][k])}</Size>"
                f"<ETag>&quot;{hashlib.md5(buckets[bucket][k]).hexdigest()}&quot;</ETag>"
                "</Contents>"
                for k in shown
            )
            more = (
                f"<IsTruncated>true</IsTruncated>"
                f"<NextContinuationToken>{escape(shown[-1])}</NextContinuationToken>"
                if rest
                else "<IsTruncated>false</IsTruncated>"
            )
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>{bucket}</Name><KeyCount>{len(shown)}</KeyCount>"
                f"{'<EncodingType>url</EncodingType>' if url else ''}{more}{contents}"
                "</ListBucketResult>"
            )
            self.answer(200, body.encode(), Content_Type="application/xml")

        def _error(self, status: int, code: str) -> None:
            body = f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode()
            self.answer(status, body, Content_Type="application/xml")

    return Store
