"""Fixtures for the two-node tests: a provider node and a centre node as separate processes with
separate databases, keys on both sides, and an LEA stub that verifies the centre's signature.

Not a test module. Everything here is benign: drawn pictures and placeholder names.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx

from conftest import POSTGRES_ENV, fresh_postgres_database
from provider_fixtures import TUTELA, free_port
from tutela.messaging.messages import open_message
from tutela.messaging.signing import SigningKey, generate_key_file, load_public_key
from tutela.settings import Settings

PROVIDER_IDENTITY = {
    "TUTELA_PROVIDER_NAME": "Example Hosting BV",
    "TUTELA_PROVIDER_LEGAL_REPRESENTATIVE": "Example Legal Rep GmbH",
    "TUTELA_PROVIDER_CONTACT": "trust@example.org",
    "TUTELA_PROVIDER_COUNTRY": "NL",
}


class LeaStub:
    """Europol's and an LEA's delivery endpoints: counts deliveries per path and idempotency
    key, and refuses (401) a body the centre's key did not sign."""

    def __init__(self, centre_public_pem: str) -> None:
        public_key = load_public_key(centre_public_pem)
        self.deliveries: list[tuple[str, str]] = []
        self.refused = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    message = open_message(
                        public_key,
                        self.headers.get("Tutela-Key-Id", ""),
                        body,
                        self.headers.get("Tutela-Signature", ""),
                    )
                except Exception:
                    stub.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                stub.deliveries.append((self.path, message.idempotency_key))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Node:
    settings: Settings
    env: dict[str, str]
    port: int
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process; a node with a port listens on it."""
        port = ["--port", str(self.port)] if self.port else []
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [TUTELA, *self.command, *port],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def start(self, ready_path: str = "/healthz") -> None:
        self.spawn()
        self.wait_ready(ready_path)

    def wait_ready(self, ready_path: str = "/healthz") -> None:
        """Until a spawned node answers (other processes may start meanwhile). As long as
        provider_fixtures.wait_ready allows: on a loaded machine three nodes starting side by
        side took over 60 s (each imports its app for seconds of CPU); a node that exits fails
        at once."""
        wait_until(lambda: _answers(self.url + ready_path), 180, f"{self.command} ready", self)

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    check: Callable[[], bool], timeout_s: float, what: str, node: Node | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if node is not None and node.process is not None and node.process.poll() is not None:
            raise AssertionError(f"{what}: process exited\n{node.log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def node_settings(stack: ExitStack, data_dir: Path) -> Settings:
    """SQLite in its own data directory, or a database of its own on the test server."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        return Settings(data_dir=data_dir)
    url = stack.enter_context(fresh_postgres_database(server))
    return Settings(data_dir=data_dir, database_url=url)


def base_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env["TUTELA_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["TUTELA_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


@dataclass
class Keys:
    provider: SigningKey
    centre: SigningKey
    centre_public_file: Path


def make_keys(provider_dir: Path, centre_dir: Path) -> Keys:
    provider = generate_key_file(provider_dir / "keys" / "provider-ed25519.pem")
    centre = generate_key_file(centre_dir / "keys" / "centre-ed25519.pem")
    public_file = provider_dir / "centre-public.pem"
    public_file.write_text(centre.public_key_pem(), encoding="ascii")
    return Keys(provider, centre, public_file)


def vault_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


@contextmanager
def lea_stub(centre_public_pem: str) -> Iterator[LeaStub]:
    stub = LeaStub(centre_public_pem)
    try:
        yield stub
    finally:
        stub.close()


def ports() -> tuple[int, int]:
    return free_port(), free_port()


@contextmanager
def closing_database(database: Any) -> Iterator[Any]:
    try:
        yield database
    finally:
        database.close()
