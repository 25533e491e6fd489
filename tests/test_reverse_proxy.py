"""The reverse proxy the replica tests put in front of two `tutela serve` (tests/reverse_proxy.py)
does what nginx's example in docs/replicas.md does: round robin, an upstream that refuses the
connection skipped for a while and the request passed on, and a POST whose upstream died under it
answered 502, never sent to another upstream (a GET is)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from reverse_proxy import access_log, running_proxy


class _Echo(BaseHTTPRequestHandler):
    """Answers what it was sent: its own port, the method, the body's length and some headers."""

    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        text = "|".join(
            [
                str(self.connection.getsockname()[1]),
                self.command,
                str(len(body)),
                self.headers.get("X-Forwarded-For", ""),
                self.headers.get("Host", ""),
                self.headers.get("Connection", ""),
            ]
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = answer

    def log_message(self, *args: object) -> None:
        pass


def _serve_dying(listener: socket.socket) -> None:
    """Take each request and drop the connection (RST) without answering: a process killed
    while it was handling the request."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.recv(65536)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()


@pytest.fixture
def upstreams() -> Iterator[dict[str, str]]:
    """Two answering upstreams, one that dies under every request, one that refuses."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Echo) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    dying = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve_dying, args=(dying,), daemon=True).start()
    closed = socket.create_server(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    yield {
        "a": f"127.0.0.1:{servers[0].server_address[1]}",
        "b": f"127.0.0.1:{servers[1].server_address[1]}",
        "dying": f"127.0.0.1:{dying.getsockname()[1]}",
        "refused": f"127.0.0.1:{refused_port}",
    }
    for server in servers:
        server.shutdown()
        server.server_close()
    dying.close()


def test_round_robin_with_forwarded_headers_and_bodies_kept(
    tmp_path: Path, upstreams: dict[str, str]
) -> None:
    a, b = upstreams["a"], upstreams["b"]
    with (
        running_proxy(tmp_path, [f"http://{a}", f"http://{b}"]) as (url, log),
        httpx.Client(base_url=url) as client,
    ):
        answers = [client.get("/x").text.split("|") for _ in range(4)]
        posted = client.post("/y", content=b"z" * 100_000).text.split("|")
        chunked = client.post("/y", content=iter([b"a" * 10, b"b" * 20])).text.split("|")
    ports = [a.rsplit(":")[-1], b.rsplit(":")[-1]]
    assert [answer[0] for answer in answers] == ports * 2
    host = url.removeprefix("http://")
    assert all(answer[1:] == ["GET", "0", "127.0.0.1", host, "close"] for answer in answers)
    assert posted[1:3] == ["POST", "100000"] and chunked[1:3] == ["POST", "30"]
    assert [tried for _, _, _, tried in access_log(log)] == [[a], [b], [a], [b], [a], [b]]


def test_a_refused_upstream_is_passed_over_and_skipped(
    tmp_path: Path, upstreams: dict[str, str]
) -> None:
    refused, b = upstreams["refused"], upstreams["b"]
    with (
        running_proxy(tmp_path, [f"http://{refused}", f"http://{b}"]) as (url, log),
        httpx.Client(base_url=url) as client,
    ):
        statuses = [client.post("/v1/items", content=b"x").status_code for _ in range(4)]
    assert statuses == [200] * 4
    # Not sent to the refusing upstream, so passed on even though POST is not idempotent; then
    # left out while it is marked down.
    assert [tried for _, _, _, tried in access_log(log)] == [[refused, b], [b], [b], [b]]


def test_a_post_whose_upstream_died_under_it_answers_502_and_is_not_sent_again(
    tmp_path: Path, upstreams: dict[str, str]
) -> None:
    dying, b = upstreams["dying"], upstreams["b"]
    with (
        running_proxy(tmp_path, [f"http://{dying}", f"http://{b}"]) as (url, log),
        httpx.Client(base_url=url) as client,
    ):
        post = client.post("/v1/items", content=b"x")
        again = client.post("/v1/items", content=b"x")  # the platform's retry: b (dying is down)
        get = client.get("/v1/items/1")  # round robin would pick dying: it is down, so b
    assert (post.status_code, again.status_code, get.status_code) == (502, 200, 200)
    assert [(status, tried) for _, _, status, tried in access_log(log)] == [
        (502, [dying]),
        (200, [b]),
        (200, [b]),
    ]


def test_a_get_whose_upstream_died_under_it_goes_to_the_next(
    tmp_path: Path, upstreams: dict[str, str]
) -> None:
    dying, b = upstreams["dying"], upstreams["b"]
    with (
        running_proxy(tmp_path, [f"http://{dying}", f"http://{b}"]) as (url, log),
        httpx.Client(base_url=url) as client,
    ):
        assert client.get("/v1/items/1").status_code == 200
    assert [(status, tried) for _, _, status, tried in access_log(log)] == [(200, [dying, b])]
