"""Authority, provider and centre as three processes over real HTTP: the authority issues a
removal order for three items; the provider sends each to its platform as a signed webhook; a
fake platform removes two and cannot remove the third, and files an impediment (Annex V); the
authority then holds the provider's signed execution report with 2 removed and 1 impediment, and
the Centre holds the copy of the order."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from order_fixtures import AUTHORITY
from provider_fixtures import TUTELA, drawn_image, free_port, jpeg, make_key
from tutela.auth.users import create_user
from tutela.authority.providers import add_provider
from tutela.authority.reports import show_order
from tutela.centre.order_copy_models import CentreOrderCopy
from tutela.db import open_database
from tutela.detection.webhooks import register_webhook
from tutela.messaging.messages import open_message
from tutela.messaging.signing import generate_key_file, load_public_key
from tutela.orders.authority_keys import add_authority_key
from tutela.settings import Settings
from two_nodes import PROVIDER_IDENTITY, Node, base_env, closing_database, node_settings, wait_until

PASSWORD = "placeholder-passphrase-for-tests"


class FakePlatform:
    """The platform's webhook endpoint: keeps every order.removal_requested it is sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if body.get("event") == "order.removal_requested":
                    platform.requests.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@contextmanager
def fake_platform() -> Iterator[FakePlatform]:
    platform = FakePlatform()
    try:
        yield platform
    finally:
        platform.server.shutdown()
        platform.server.server_close()


@pytest.mark.slow
def test_a_removal_order_is_executed_in_part_impeded_in_part_and_reported_back_signed(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        settings = {
            name: node_settings(stack, tmp_path / name)
            for name in ("authority", "provider", "centre")
        }
        ports = {name: free_port() for name in settings}
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        provider_key = generate_key_file(
            settings["provider"].data_dir / "keys" / "provider-ed25519.pem"
        )
        authority_key = generate_key_file(
            settings["authority"].data_dir / "keys" / "authority-ed25519.pem"
        )
        generate_key_file(settings["centre"].data_dir / "keys" / "centre-ed25519.pem")
        platform = stack.enter_context(fake_platform())

        authority_env = base_env(
            settings["authority"],
            TUTELA_AUTHORITY_NAME=AUTHORITY,
            TUTELA_AUTHORITY_CONTACT="orders@authority.example",
            TUTELA_AUTHORITY_COUNTRY="NL",
            TUTELA_AUTHORITY_URL=url["authority"],
            TUTELA_CENTRE_URL=url["centre"],
            TUTELA_OUTBOX_INTERVAL_S="0.2",
        )
        authority_db = stack.enter_context(
            closing_database(open_database(Settings.from_env(authority_env)))
        )
        create_user(authority_db, "admin-1", PASSWORD, ["administrator"], actor="test")
        create_user(authority_db, "officer-1", PASSWORD, ["case_officer"], actor="test")
        create_user(authority_db, "supervisor-1", PASSWORD, ["supervisor"], actor="test")
        add_provider(
            authority_db,
            "admin-1",
            PROVIDER_IDENTITY["TUTELA_PROVIDER_NAME"],
            provider_key.public_key_pem(),
            url["provider"] + "/v1/orders",
            "NL",
            ["photos"],
        )

        provider_env = base_env(
            settings["provider"],
            **PROVIDER_IDENTITY,
            TUTELA_OUTBOX_INTERVAL_S="0.2",
            TUTELA_WEBHOOK_ALLOW_PRIVATE="1",  # the platform's receiver runs on this machine
        )
        provider_db = stack.enter_context(
            closing_database(open_database(Settings.from_env(provider_env)))
        )
        add_authority_key(provider_db, "test", AUTHORITY, authority_key.public_key_pem())
        register_webhook(provider_db, platform.url, "s" * 24)
        api_key = make_key(provider_db)

        centre_env = base_env(settings["centre"], TUTELA_OUTBOX_INTERVAL_S="0.2")
        centre_db = stack.enter_context(closing_database(open_database(settings["centre"])))
        add_authority_key(centre_db, "test", AUTHORITY, authority_key.public_key_pem())

        nodes = {
            "provider": Node(
                settings["provider"],
                provider_env,
                ports["provider"],
                ["serve", "--workers", "1"],
                tmp_path / "provider.log",
            ),
            "centre": Node(
                settings["centre"],
                centre_env,
                ports["centre"],
                ["centre", "serve"],
                tmp_path / "centre.log",
            ),
            "authority": Node(
                settings["authority"],
                authority_env,
                ports["authority"],
                ["authority", "serve"],
                tmp_path / "authority.log",
            ),
        }
        # Side by side: each process takes seconds to import and migrate-check, and none needs
        # another to be up before it starts (their outboxes retry).
        for node in nodes.values():
            node.spawn()
            stack.callback(node.stop)
        for node in nodes.values():
            node.wait_ready()

        client = stack.enter_context(
            httpx.Client(base_url=url["provider"], headers={"Authorization": f"Bearer {api_key}"})
        )
        for n in (1, 2, 3):
            answer = client.post(
                "/v1/items",
                files={"file": ("x", jpeg(drawn_image(200 + n, size=96)))},
                data={"metadata": json.dumps({"item_id": f"upload-{n}"})},
            )
            assert answer.status_code == 202, answer.text

        def issue(by: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    TUTELA,
                    "authority",
                    "order",
                    "issue",
                    "--provider",
                    PROVIDER_IDENTITY["TUTELA_PROVIDER_NAME"],
                    "--item-ref",
                    "upload-1",
                    "--item-ref",
                    "upload-2",
                    "--item-ref",
                    "upload-3",
                    "--reasons",
                    "Placeholder reasons for a test order.",
                    "--by",
                    by,
                    "--json",
                ],
                env=authority_env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        # Only a case officer issues orders.
        assert issue("supervisor-1").returncode != 0
        issued = issue("officer-1")
        assert issued.returncode == 0, issued.stderr
        order_id = json.loads(issued.stdout)["order_id"]

        wait_until(
            lambda: len(platform.requests) == 3, 60, "three removal requests at the platform"
        )
        requests = sorted(platform.requests, key=lambda r: str(r["item_id"]))
        for request in requests[:2]:
            done = client.post(str(request["confirm"]), json={"action": "removed"})
            assert done.status_code == 200, done.text
        impeded = client.post(
            str(requests[2]["impediment"]),
            json={
                "reason": "de_facto_impossibility",
                "explanation": "Placeholder: the item sits on storage the platform cannot reach.",
            },
        )
        assert impeded.status_code == 200, impeded.text
        assert impeded.json()["order_state"] == "impediment"

        wait_until(
            lambda: show_order(authority_db, order_id).report_signature is not None,
            60,
            "the execution report at the authority",
        )
        view = show_order(authority_db, order_id)
        assert view.state == "impediment"
        assert view.delivery == "acknowledged"
        outcomes = {item["item_id"]: item for item in view.items}
        assert [outcomes[f"upload-{n}"]["outcome"] for n in (1, 2, 3)] == [
            "removed",
            "removed",
            "impediment",
        ]
        assert outcomes["upload-1"]["at"] and outcomes["upload-2"]["at"]
        assert outcomes["upload-3"]["impediment"] == "de_facto_impossibility"
        # The report is the provider's signed document, verifiable by anyone holding its key.
        with authority_db.reader() as session:
            from tutela.authority.models import IssuedOrder

            row = session.scalars(
                select(IssuedOrder).where(IssuedOrder.order_ref == order_id)
            ).one()
        assert row.report_body is not None and row.report_signature is not None
        report = open_message(
            load_public_key(provider_key.public_key_pem()),
            provider_key.key_id,
            row.report_body.encode("utf-8"),
            row.report_signature,
        )
        assert report.payload["order_id"] == order_id

        def copies() -> list[str]:
            with centre_db.reader() as session:
                return list(session.scalars(select(CentreOrderCopy.order_ref)))

        wait_until(lambda: copies() == [order_id], 30, "the order's copy at the centre")
