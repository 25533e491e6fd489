"""A small HTTP/1.1 reverse proxy that stands in for nginx in front of API replicas in the tests
(docs/replicas.md) where nginx is not installed. It does what that page's nginx example does with
open-source nginx's defaults:

- **round robin** over the upstreams;
- **passive health** (`max_fails=1 fail_timeout=10s`, nginx's defaults): an upstream whose
  connection is refused, reset or times out is marked down for FAIL_TIMEOUT_S, and round robin
  skips it (while every upstream is down, all are tried again);
- **`proxy_next_upstream error timeout`**: a request whose connection to its upstream failed
  before the request was sent goes to the next upstream. Once it has been sent, a non-idempotent
  request (POST, PATCH, LOCK) is never sent to another upstream (nginx passes those on only with
  `non_idempotent`): an upstream that dies under it answers the client 502, one that times out
  504. An idempotent request (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) goes to the next upstream;
- the request body is read whole before an upstream is chosen (nginx's default
  `proxy_request_buffering on`); the upstream's answer is read whole and sent on with its length;
- `Host` kept, `X-Forwarded-For` (the client's address appended) and `X-Forwarded-Proto` set;
  hop-by-hop headers dropped; keep-alive with clients, one connection per request to an upstream.

An access log line per request (ACCESS_LOG, like nginx's `$upstream_addr`): method, path, status
and every upstream tried, comma separated.

Run: `python tests/reverse_proxy.py --access-log FILE URL…` prints `listening on PORT` (a free
port on 127.0.0.1) and serves until SIGTERM; `running_proxy` does so for a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

FAIL_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 120.0  # the example's proxy_read_timeout
CLIENT_IDLE_S = 75.0  # nginx's keepalive_timeout
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 512 * 1024 * 1024  # the example's client_max_body_size
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}

Headers = list[tuple[str, str]]


class BadMessage(Exception):
    """A message that is not HTTP/1.1 as this proxy reads it."""


class UpstreamFailed(Exception):
    """The upstream failed; `sent`: after the request had been written to it; `timeout`: it
    did not answer in time (rather than refusing or dropping the connection)."""

    def __init__(self, sent: bool, timeout: bool, cause: BaseException) -> None:
        super().__init__(f"{'sent' if sent else 'not sent'}: {cause!r}")
        self.sent = sent
        self.timeout = timeout


@dataclass
class Upstream:
    host: str
    port: int
    down_until: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers
    body: bytes


@dataclass
class Proxy:
    upstreams: list[Upstream]
    log: TextIO
    _next: int = 0
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    def candidates(self) -> list[Upstream]:
        """The upstreams in this request's round-robin order, those marked down left out (all of
        them, in order, when every one is down)."""
        start = self._next
        self._next = (self._next + 1) % len(self.upstreams)
        ordered = self.upstreams[start:] + self.upstreams[:start]
        now = time.monotonic()
        up = [u for u in ordered if u.down_until <= now]
        return up or ordered

    async def serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._open.add(writer)
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "unknown"
        try:
            while True:
                try:
                    request = await asyncio.wait_for(read_request(reader, writer), CLIENT_IDLE_S)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return  # the client went away, or stayed idle
                except BadMessage as error:
                    await send(writer, error_response(400, str(error)), keep=False)
                    return
                if request is None:
                    return
                response, tried = await self.forward(request, client)
                keep = wants_keep_alive(request)
                self.log.write(
                    f"{request.method} {request.target} {response.status} {', '.join(tried)}\n"
                )
                self.log.flush()
                await send(writer, response, keep=keep, head=request.method == "HEAD")
                if not keep:
                    return
        except ConnectionError:
            return
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def forward(self, request: Request, client: str) -> tuple[Response, list[str]]:
        """The answer of the first upstream that takes the request, and the upstreams tried."""
        tried: list[str] = []
        failure: UpstreamFailed | None = None
        for upstream in self.candidates():
            tried.append(upstream.name)
            try:
                return await exchange(upstream, request, client), tried
            except UpstreamFailed as error:
                upstream.down_until = time.monotonic() + FAIL_TIMEOUT_S
                failure = error
                if error.sent and request.method not in IDEMPOTENT:
                    break  # never sent twice: the client decides whether to send it again
        assert failure is not None
        return error_response(504 if failure.timeout else 502, str(failure)), tried

    async def close_clients(self) -> None:
        for writer in list(self._open):
            writer.close()


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Request | None:
    """The next request on a client connection (None: closed cleanly between requests)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial.strip():
            return None
        raise BadMessage("truncated request head") from error
    except asyncio.LimitOverrunError as error:
        raise BadMessage("request head too large") from error
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadMessage(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers = parse_headers(lines[1:])
    request = Request(method, target, version, headers, b"")
    if (request.header("expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    request.body = await read_body(reader, headers, default_empty=True)
    return request


def parse_headers(lines: list[str]) -> Headers:
    headers: Headers = []
    for line in lines:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadMessage(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    return headers


async def read_body(
    reader: asyncio.StreamReader, headers: Headers, *, default_empty: bool
) -> bytes:
    """A message body framed by chunked transfer coding or Content-Length; without either, empty
    for a request, everything until the connection closes for a response."""
    values = {k.lower(): v for k, v in headers}
    if "chunked" in values.get("transfer-encoding", "").lower():
        return await read_chunked(reader)
    if "content-length" in values:
        try:
            length = int(values["content-length"])
        except ValueError as error:
            raise BadMessage("bad Content-Length") from error
        if length < 0 or length > MAX_BODY_BYTES:
            raise BadMessage("Content-Length out of range")
        return await reader.readexactly(length)
    if default_empty:
        return b""
    return await reader.read()


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as error:
            raise BadMessage("bad chunk size") from error
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers, dropped
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise BadMessage("body too large")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise BadMessage("bad chunk end")


def end_to_end(headers: Headers) -> Headers:
    """`headers` without the hop-by-hop ones (and those the Connection header names)."""
    named = {
        token.strip().lower()
        for k, v in headers
        if k.lower() == "connection"
        for token in v.split(",")
    }
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP | named]


async def exchange(upstream: Upstream, request: Request, client: str) -> Response:
    """Send `request` to `upstream` on a new connection and read its whole answer."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(upstream.host, upstream.port, limit=MAX_HEAD_BYTES),
            CONNECT_TIMEOUT_S,
        )
    except TimeoutError as error:
        raise UpstreamFailed(sent=False, timeout=True, cause=error) from error
    except OSError as error:
        raise UpstreamFailed(sent=False, timeout=False, cause=error) from error
    try:
        headers = [
            (k, v)
            for k, v in end_to_end(request.headers)
            if k.lower() not in {"content-length", "x-forwarded-for", "x-forwarded-proto"}
        ]
        forwarded = request.header("x-forwarded-for")
        headers += [
            ("X-Forwarded-For", f"{forwarded}, {client}" if forwarded else client),
            ("X-Forwarded-Proto", "http"),
            ("Connection", "close"),
        ]
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            headers.append(("Content-Length", str(len(request.body))))
        head = f"{request.method} {request.target} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        try:
            writer.write(head.encode("latin-1") + request.body)
        except OSError as error:  # the connection broke before anything was written
            raise UpstreamFailed(sent=False, timeout=False, cause=error) from error
        try:
            await writer.drain()
            return await asyncio.wait_for(read_response(reader, request.method), READ_TIMEOUT_S)
        except TimeoutError as error:
            raise UpstreamFailed(sent=True, timeout=True, cause=error) from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, BadMessage) as e:
            raise UpstreamFailed(sent=True, timeout=False, cause=e) from e
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def read_response(reader: asyncio.StreamReader, method: str) -> Response:
    while True:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise BadMessage(f"bad status line {lines[0]!r}")
        status = int(code)
        headers = parse_headers(lines[1:])
        if 100 <= status < 200:
            continue  # an interim answer: the final one follows
        if method == "HEAD" or status in (204, 304):
            return Response(status, reason, headers, b"")
        body = await read_body(reader, headers, default_empty=False)
        return Response(status, reason, headers, body)


def wants_keep_alive(request: Request) -> bool:
    tokens = {t.strip().lower() for t in (request.header("connection") or "").split(",")}
    if request.version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def error_response(status: int, detail: str) -> Response:
    body = f"{status} {REASONS[status]}\n".encode()
    headers = [("Content-Type", "text/plain"), ("X-Proxy-Error", detail[:200].replace("\r\n", " "))]
    return Response(status, REASONS[status], headers, body)


async def send(
    writer: asyncio.StreamWriter, response: Response, *, keep: bool, head: bool = False
) -> None:
    headers = [(k, v) for k, v in end_to_end(response.headers) if k.lower() != "content-length"]
    if head:
        length = next((v for k, v in response.headers if k.lower() == "content-length"), None)
        if length is not None:
            headers.append(("Content-Length", length))
    elif response.status not in (204, 304):
        headers.append(("Content-Length", str(len(response.body))))
    headers.append(("Connection", "keep-alive" if keep else "close"))
    text = f"HTTP/1.1 {response.status} {response.reason}\r\n"
    text += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    writer.write(text.encode("latin-1") + (b"" if head else response.body))
    await writer.drain()


@contextlib.contextmanager
def running_proxy(directory: Path, upstreams: list[str]) -> Iterator[tuple[str, Path]]:
    """This proxy in its own process in front of `upstreams` (http://HOST:PORT): its URL and its
    access log, both in `directory` with what it wrote to stderr."""
    log = directory / "proxy-access.log"
    with (directory / "proxy.err").open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, __file__, "--access-log", str(log), *upstreams],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("listening on "), (directory / "proxy.err").read_text()
        yield f"http://127.0.0.1:{int(line.split()[-1])}", log
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def access_log(path: Path) -> list[tuple[str, str, int, list[str]]]:
    """The access log's lines: method, path, status and the upstreams tried, in order."""
    lines = [line.split(" ", 3) for line in path.read_text().splitlines()]
    return [
        (method, target, int(status), tried.split(", ")) for method, target, status, tried in lines
    ]


def upstream_of(url: str) -> Upstream:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(f"an upstream is http://HOST:PORT, not {url!r}")
    return Upstream(parts.hostname, parts.port)


async def main(arguments: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-log", type=Path, required=True)
    parser.add_argument("upstreams", nargs="+")
    options = parser.parse_args(arguments)
    with options.access_log.open("a") as log:
        proxy = Proxy([upstream_of(u) for u in options.upstreams], log)
        server = await asyncio.start_server(
            proxy.serve_client, "127.0.0.1", options.port, limit=MAX_HEAD_BYTES, backlog=512
        )
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with server:
            await stop.wait()
            server.close()
            await proxy.close_clients()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
