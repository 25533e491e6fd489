"""Webhook hosts named by a platform are checked by what they resolve to, not only by their
literal address: a name resolving to a loopback, private, link-local or reserved address is
refused at registration (422) and at every delivery (a permanent failure on the delivery, not a
retry), and a delivery connects to the very address it checked (no second lookup to rebind).

No test needs the internet: names resolve through a replaced resolver, or are `localhost`."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpcore
import httpx
import pytest
from sqlalchemy import select

from provider_fixtures import decide_signals, in_process_client
from tutela import egress
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.deliveries import deliver_due, webhook_client
from tutela.detection.models import DeliveryAttempt, WebhookDelivery
from tutela.detection.webhooks import register_webhook
from tutela.egress import Address, PinnedTransport, is_private
from tutela.errors import RefusedTarget
from tutela.settings import Settings

SECRET = "a-webhook-secret-of-some-length"
MD5 = "5d41402abc4b2a76b9719d911017c592"
PUBLIC = ipaddress.ip_address("93.184.215.14")
PRIVATE = ipaddress.ip_address("10.20.30.40")


def addresses(*values: str) -> list[Address]:
    return [ipaddress.ip_address(v) for v in values]


class Names:
    """A resolver for tests: name → the addresses of each lookup in turn (the last repeats)."""

    def __init__(self, table: dict[str, list[list[Address]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[Address]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise OSError("name does not resolve")
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Names:
    resolver = Names(
        {
            "hooks.platform.example": [[PUBLIC]],
            "internal.platform.example": [[PRIVATE]],
            "mixed.platform.example": [[PUBLIC, PRIVATE]],
            "metadata.platform.example": addresses_list("169.254.169.254"),
            "mapped.platform.example": addresses_list("::ffff:127.0.0.1"),
            "nat64.platform.example": addresses_list("64:ff9b::a00:1"),
            # Public when registered, loopback when delivered to (DNS rebinding).
            "rebind.platform.example": [[PUBLIC], addresses("127.0.0.1")],
        }
    )
    monkeypatch.setattr(egress, "resolve", resolver)
    return resolver


def addresses_list(value: str) -> list[list[Address]]:
    return [addresses(value)]


def register(settings: Settings, database: Database, url: str) -> httpx.Response:
    async def post() -> httpx.Response:
        async with in_process_client(settings, database) as client:
            return await client.post("/v1/webhooks", json={"url": url})

    return asyncio.run(post())


# -- which addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "2002:a00:1::",
        "64:ff9b::7f00:1",
    ],
)
def test_loopback_private_link_local_and_reserved_addresses_are_private(value: str) -> None:
    assert is_private(ipaddress.ip_address(value))


@pytest.mark.parametrize("value", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_not(value: str) -> None:
    assert not is_private(ipaddress.ip_address(value))


# -- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "internal.platform.example",
        "mixed.platform.example",
        "metadata.platform.example",
        "mapped.platform.example",
        "nat64.platform.example",
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused_at_registration(
    settings: Settings, database: Database, names: Names, host: str
) -> None:
    answer = register(settings, database, f"https://{host}/tutela")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"
    assert "resolves to" in answer.json()["detail"]


def test_a_name_resolving_to_public_addresses_is_registered(
    settings: Settings, database: Database, names: Names
) -> None:
    assert register(settings, database, "https://hooks.platform.example/tutela").status_code == 201
    assert names.lookups == ["hooks.platform.example"]


def test_a_name_that_does_not_resolve_yet_is_registered_and_checked_when_delivered(
    settings: Settings, database: Database, names: Names
) -> None:
    assert register(settings, database, "https://later.platform.example/h").status_code == 201


def test_the_operator_may_allow_names_resolving_to_private_addresses(
    settings: Settings, database: Database, names: Names
) -> None:
    allowed = dataclasses.replace(settings, webhook_allow_private=True)
    answer = register(allowed, database, "http://internal.platform.example/hook")
    assert answer.status_code == 201
    assert names.lookups == []  # not even looked up


# -- delivery --------------------------------------------------------------------------------


@dataclass
class Receiver:
    port: int = 0
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on this machine's loopback."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state.hosts.append(self.headers["Host"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.port = server.server_port
    yield state
    server.shutdown()
    server.server_close()


def tries(database: Database) -> list[tuple[str, int, list[str | None]]]:
    with database.reader() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [
            (
                row.state,
                row.attempts,
                list(
                    session.scalars(
                        select(DeliveryAttempt.error).where(DeliveryAttempt.delivery_id == row.id)
                    )
                ),
            )
            for row in rows
        ]


def test_a_delivery_to_localhost_is_refused_for_good_without_a_connection(
    database: Database, receiver: Receiver
) -> None:
    """Registered while private targets were allowed (or by the operator); the node no longer
    allows them: the delivery fails at once, with its reason, and is not tried again."""
    register_webhook(database, f"http://localhost:{receiver.port}/hook", SECRET)
    decide_signals(database, [{"md5": MD5}])
    with webhook_client(allow_private=False) as client:
        assert deliver_due(database, client, now=utc_now()) == 1
        ((state, attempts, errors),) = tries(database)
        assert (state, attempts) == ("failed", 1)
        assert errors[0] is not None and "localhost" in errors[0]
        assert deliver_due(database, client, now=utc_now()) == 0  # no retry storm
    assert receiver.hosts == []


def test_a_delivery_to_localhost_goes_out_where_the_operator_allows_it(
    database: Database, receiver: Receiver
) -> None:
    register_webhook(database, f"http://localhost:{receiver.port}/hook", SECRET)
    decide_signals(database, [{"md5": MD5}])
    with webhook_client(allow_private=True) as client:
        assert deliver_due(database, client, now=utc_now()) == 1
    assert [t[:2] for t in tries(database)] == [("delivered", 1)]
    assert receiver.hosts == [f"localhost:{receiver.port}"]


def test_a_name_rebound_to_loopback_after_registration_is_refused_when_delivered(
    settings: Settings, database: Database, names: Names, receiver: Receiver
) -> None:
    url = f"http://rebind.platform.example:{receiver.port}/hook"
    assert register(settings, database, url).status_code == 201
    decide_signals(database, [{"md5": MD5}])
    with webhook_client(allow_private=False) as client:
        assert deliver_due(database, client, now=utc_now()) == 1
    ((state, attempts, errors),) = tries(database)
    assert (state, attempts) == ("failed", 1)
    assert errors[0] is not None and "127.0.0.1" in errors[0]
    assert receiver.hosts == []


class ToReceiver(httpcore.NetworkBackend):
    """Stands in for the internet: records the address each connection is opened to, and opens
    it to the local receiver instead."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened: list[tuple[str, int]] = []
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.opened.append((host, port))
        return self.inner.connect_tcp("127.0.0.1", self.port, timeout)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise AssertionError("no unix sockets")

    def sleep(self, seconds: float) -> None:
        pass


def test_the_connection_goes_to_the_checked_address_and_the_request_names_the_host(
    names: Names, receiver: Receiver
) -> None:
    network = ToReceiver(receiver.port)
    with httpx.Client(transport=PinnedTransport(backend=network)) as client:
        answer = client.post(f"http://hooks.platform.example:{receiver.port}/hook", content=b"{}")
    assert answer.status_code == 204
    assert network.opened == [(str(PUBLIC), receiver.port)]  # the address, never the name
    assert names.lookups == ["hooks.platform.example"]  # one lookup: checked and used
    assert receiver.hosts == [f"hooks.platform.example:{receiver.port}"]


def test_a_name_with_any_private_address_is_never_connected_to(
    names: Names, receiver: Receiver
) -> None:
    network = ToReceiver(receiver.port)
    with (
        httpx.Client(transport=PinnedTransport(backend=network)) as client,
        pytest.raises(RefusedTarget),
    ):
        client.post("http://mixed.platform.example/hook", content=b"{}")
    assert network.opened == []


def test_a_name_that_does_not_resolve_is_a_connection_error_tried_again(names: Names) -> None:
    with (
        httpx.Client(transport=PinnedTransport()) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.post("http://later.platform.example/hook", content=b"{}")
