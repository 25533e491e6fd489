"""A running node cuts off a client too slow to send its request (slowloris): headers trickled,
a body trickled, a connection opened and left idle, headers without end; and it keeps answering
everyone else. Raw sockets against `tutela serve` and `tutela centre serve` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from fuzzing import running_centre
from provider_fixtures import running_node
from tutela.settings import Settings

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 2.0
LIMITS = {
    "TUTELA_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "TUTELA_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
}
# Far longer than either limit: a client that is still connected after this was not cut off.
PATIENCE_S = 15.0
TRICKLE_S = 0.25


@pytest.fixture(scope="module", params=["provider", "centre"])
def node_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # The cut-offs are the HTTP server's, whatever the database: SQLite only.
    tmp_path = tmp_path_factory.mktemp(request.param)
    settings = Settings(data_dir=tmp_path / "data")
    if request.param == "provider":
        with running_node(settings, tmp_path, workers=0, env=LIMITS) as node:
            yield node.url
    else:
        with running_centre(settings, tmp_path, **LIMITS) as url:
            yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=PATIENCE_S)
    return sock


def trickle_until_cut_off(sock: socket.socket, drip: bytes) -> tuple[bytes, float]:
    """Send `drip` every TRICKLE_S until the node answers or closes; what it said, and when."""
    start = time.monotonic()
    sock.settimeout(TRICKLE_S)
    received = b""
    while time.monotonic() - start < PATIENCE_S:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            try:
                sock.sendall(drip)
            except OSError:
                break  # the node closed the connection under us
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - start


def assert_still_answers(url: str) -> None:
    assert httpx.get(url + "/healthz", timeout=10).status_code == 200


def test_trickled_headers_are_cut_off_with_408(node_url: str) -> None:
    with connect(node_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\n")
        answer, elapsed = trickle_until_cut_off(sock, b"X-Slow: 1\r\n")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"request_timeout" in answer
    assert elapsed < PATIENCE_S
    assert_still_answers(node_url)


def test_trickled_body_is_cut_off_with_408(node_url: str) -> None:
    # The login form is read by both nodes without credentials.
    with connect(node_url) as sock:
        sock.sendall(
            b"POST /ui/login HTTP/1.1\r\nHost: node\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
        )
        answer, elapsed = trickle_until_cut_off(sock, b"n")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"request_timeout" in answer
    assert elapsed < PATIENCE_S
    assert_still_answers(node_url)


def test_idle_connection_is_closed(node_url: str) -> None:
    with connect(node_url) as sock:
        start = time.monotonic()
        assert sock.recv(1) == b""
        assert time.monotonic() - start < PATIENCE_S


def test_endless_headers_are_refused_with_431(node_url: str) -> None:
    with connect(node_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\n")
        answer = b""
        with contextlib.suppress(OSError):
            for _ in range(200):
                sock.sendall(b"X-Padding: " + b"p" * 1000 + b"\r\n")
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert_still_answers(node_url)


def test_connection_answered_before_its_body_arrived_is_closed(node_url: str) -> None:
    # /healthz answers without reading a body; the client still trickling one is let go.
    with connect(node_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\nContent-Length: 100000\r\n\r\n")
        answer, elapsed = trickle_until_cut_off(sock, b"x")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert elapsed < PATIENCE_S


def test_an_answer_sent_before_its_body_arrived_says_the_connection_closes(node_url: str) -> None:
    # A keep-alive client must not send its next request into a socket the node is closing.
    with connect(node_url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: node\r\nContent-Length: 100000\r\n\r\n")
        answer, _ = trickle_until_cut_off(sock, b"x")
    headers = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert b"\r\nconnection: close" in headers, headers
