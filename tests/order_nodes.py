"""The three-node setting of the order tests over real HTTP: an authority, a provider and the EU
Centre as separate `tutela` processes with a database each (SQLite, or PostgreSQL databases of
their own when TUTELA_TEST_DATABASE_URL is set), the fake platform that receives the provider's
`order.removal_requested` webhooks, and the acts of the authority's case officer through its
command line. Not a test module. Names are placeholders; uploads are drawn pictures.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx

from order_fixtures import AUTHORITY
from provider_fixtures import TUTELA, drawn_image, free_port, jpeg, make_key
from tutela.auth.users import create_user
from tutela.authority.providers import add_provider
from tutela.db import open_database
from tutela.db.database import Database
from tutela.detection.webhooks import register_webhook
from tutela.messaging.signing import SigningKey, generate_key_file
from tutela.orders.authority_keys import add_authority_key
from tutela.settings import Settings
from two_nodes import PROVIDER_IDENTITY, Node, base_env, closing_database, node_settings

PASSWORD = "placeholder-passphrase-for-tests"
PROVIDER = PROVIDER_IDENTITY["TUTELA_PROVIDER_NAME"]
# Short intervals, and a killed sender's claims run out in 2 s rather than minutes.
FAST_OUTBOX = {
    "TUTELA_OUTBOX_INTERVAL_S": "0.2",
    "TUTELA_OUTBOX_CLAIM_S": "2",
    "TUTELA_OUTBOX_BACKOFF_S": "0.2",
}


class FakePlatform:
    """The platform's webhook endpoint: keeps every `order.removal_requested` it is sent, with
    the delivery's Idempotency-Key (a platform de-duplicates by it)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if body.get("event") == "order.removal_requested":
                    with platform.lock:
                        platform.requests.append((self.headers.get("Idempotency-Key", ""), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def distinct(self, order_ref: str) -> dict[str, dict[str, Any]]:
        """The requests for one order, once per delivery (by Idempotency-Key)."""
        with self.lock:
            return {key: body for key, body in self.requests if body["order_ref"] == order_ref}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class OrderNodes:
    nodes: dict[str, Node]
    databases: dict[str, Database]
    envs: dict[str, dict[str, str]]
    platform: FakePlatform
    provider_key: SigningKey
    client: httpx.Client  # the platform's API client at the provider
    uploads: list[str] = field(default_factory=list)

    def upload(self, count: int) -> list[str]:
        """`count` more drawn pictures uploaded by the platform; their item ids."""
        made = []
        for _ in range(count):
            n = len(self.uploads) + 1
            item_id = f"upload-{n}"
            answer = self.client.post(
                "/v1/items",
                files={"file": ("x", jpeg(drawn_image(300 + n, size=96)))},
                data={"metadata": json.dumps({"item_id": item_id})},
            )
            assert answer.status_code == 202, answer.text
            self.uploads.append(item_id)
            made.append(item_id)
        return made

    def officer(self, *args: str) -> dict[str, Any]:
        """`tutela authority order ARGS --by officer-1 --json` on the authority node."""
        done = subprocess.run(
            [TUTELA, "authority", "order", *args, "--by", "officer-1", "--json"],
            env=self.envs["authority"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def issue(self, items: list[str]) -> str:
        """A removal order for `items`; its id."""
        refs = [part for item in items for part in ("--item-ref", item)]
        answer = self.officer(
            "issue",
            "--provider",
            PROVIDER,
            *refs,
            "--reasons",
            "Placeholder reasons for a test order.",
        )
        return str(answer["order_id"])

    def confirm(self, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(str(body["confirm"]), json={"action": "removed"})

    def impede(self, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            str(body["impediment"]),
            json={
                "reason": "insufficient_information",
                "explanation": "Placeholder: the order does not say which copy is meant.",
            },
        )


@contextmanager
def order_nodes(tmp_path: Path) -> Iterator[OrderNodes]:
    """The three nodes started, each set up as its operator would; stopped at the end."""
    with ExitStack() as stack:
        settings: dict[str, Settings] = {
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
        platform = FakePlatform()
        stack.callback(platform.close)
        envs = {
            "authority": base_env(
                settings["authority"],
                TUTELA_AUTHORITY_NAME=AUTHORITY,
                TUTELA_AUTHORITY_CONTACT="orders@authority.example",
                TUTELA_AUTHORITY_COUNTRY="NL",
                TUTELA_AUTHORITY_URL=url["authority"],
                TUTELA_CENTRE_URL=url["centre"],
                **FAST_OUTBOX,
            ),
            "provider": base_env(
                settings["provider"],
                **PROVIDER_IDENTITY,
                **FAST_OUTBOX,
                TUTELA_WEBHOOK_ALLOW_PRIVATE="1",  # the platform's receiver runs on this machine
            ),
            "centre": base_env(settings["centre"], **FAST_OUTBOX),
        }
        databases = {
            name: stack.enter_context(closing_database(open_database(Settings.from_env(env))))
            for name, env in envs.items()
        }
        authority_db = databases["authority"]
        create_user(authority_db, "admin-1", PASSWORD, ["administrator"], actor="test")
        create_user(authority_db, "officer-1", PASSWORD, ["case_officer"], actor="test")
        add_provider(
            authority_db,
            "admin-1",
            PROVIDER,
            provider_key.public_key_pem(),
            url["provider"] + "/v1/orders",
            "NL",
            ["photos"],
        )
        add_authority_key(databases["provider"], "test", AUTHORITY, authority_key.public_key_pem())
        add_authority_key(databases["centre"], "test", AUTHORITY, authority_key.public_key_pem())
        register_webhook(databases["provider"], platform.url, "s" * 24)
        api_key = make_key(databases["provider"])
        commands = {
            "provider": ["serve", "--workers", "1"],
            "centre": ["centre", "serve"],
            "authority": ["authority", "serve"],
        }
        nodes = {
            name: Node(
                Settings.from_env(envs[name]),
                envs[name],
                ports[name],
                commands[name],
                tmp_path / f"{name}.log",
            )
            for name in envs
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
        yield OrderNodes(nodes, databases, envs, platform, provider_key, client)
