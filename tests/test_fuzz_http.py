"""schemathesis against running nodes, on SQLite and PostgreSQL: the provider's API, the centre's
API, and the console's pages and forms of both (as a signed-in person holding every role, with
the session's CSRF token). No request, valid or not, gets a 5xx; every error is problem details
(or the console's error page) with a documented code; the node answers afterwards.

TUTELA_FUZZ_EXAMPLES raises the examples per operation and mode (see tests/fuzzing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

import tutela.api  # noqa: F401 (before tutela.ui: the console and the API import each other)
from fuzzing import Tally, answers_health, console_document, fuzz, running_centre
from password_hashing import cheap_argon2  # noqa: F401 (a fixture)
from provider_fixtures import make_bank, make_key, running_node
from review_fixtures import PASSWORD, detect, photo, with_vault
from tutela.auth.csrf import issue_csrf_token
from tutela.auth.roles import Role
from tutela.auth.sessions import log_in
from tutela.auth.users import create_user
from tutela.db.database import Database, open_database
from tutela.messaging.signing import generate_key_file
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.ui import audit_pages, auth_pages, centre_pages, oversight_pages, review_pages
from tutela.ui.access import SESSION_COOKIE
from two_nodes import PROVIDER_IDENTITY

pytestmark = pytest.mark.fuzz
# Signing out would end the session the rest of the run uses.
KEEP_SIGNED_IN = ("POST /ui/logout",)


def signed_in(database: Database) -> dict[str, str]:
    """Headers of a console session whose user holds every role, with its CSRF token."""
    create_user(database, "fuzzer", PASSWORD, list(Role), actor="test")
    token = log_in(database, "fuzzer", PASSWORD, None).token
    return {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": issue_csrf_token(token)}


def report(node: str, tally: Tally) -> None:
    print(
        f"\n{node}: {tally.total} requests ({tally.unsendable} unsendable), "
        f"statuses {dict(sorted(tally.statuses.items()))}"
    )


def assert_clean(tally: Tally, base_url: str) -> None:
    assert not tally.failures, "\n".join(tally.failures.values())
    assert answers_health(base_url)


@pytest.fixture
def provider_node(
    settings: Settings,
    tmp_path: Path,
    cheap_argon2: None,  # noqa: F811
) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """A running provider node with a case to review; its URL, API-key and console headers."""
    settings = with_vault(settings)
    database = open_database(settings)
    try:
        make_bank(database, "known", [photo("astronaut")])
        detect(database, settings, ("astronaut",))
        api = {"Authorization": f"Bearer {make_key(database)}"}
        console = signed_in(database)
    finally:
        database.close()
    # A node set up as in production: its signing key, the centre's public key, its identity.
    generate_key_file(settings.data_dir / "keys" / "provider-ed25519.pem")
    centre_public = tmp_path / "centre-public.pem"
    centre_key = generate_key_file(tmp_path / "centre-ed25519.pem")
    centre_public.write_text(centre_key.public_key_pem(), encoding="ascii")
    env = {
        "TUTELA_VAULT_KEY": str(settings.vault_key),
        "TUTELA_CENTRE_PUBLIC_KEY_FILE": str(centre_public),
        **PROVIDER_IDENTITY,
    }
    with running_node(settings, tmp_path, workers=0, env=env) as node:
        yield node.url, api, console


@pytest.fixture
def centre_node(
    settings: Settings,
    tmp_path: Path,
    cheap_argon2: None,  # noqa: F811
) -> Iterator[tuple[str, dict[str, str]]]:
    database = open_database(settings)
    try:
        console = signed_in(database)
    finally:
        database.close()
    generate_key_file(settings.data_dir / "keys" / "centre-ed25519.pem")
    with running_centre(settings, tmp_path) as url:
        yield url, console


def provider_api_document() -> dict[str, object]:
    app = create_app(Settings(), database=Database(create_engine("sqlite://")))
    return app.openapi()


def centre_api_document() -> dict[str, object]:
    return create_centre_app(Settings(), Database(create_engine("sqlite://"))).openapi()


def test_provider_api_answers_every_generated_request_without_a_server_error(
    provider_node: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, api, _ = provider_node
    tally = fuzz(provider_api_document(), url, headers=api)
    report("provider API", tally)
    assert_clean(tally, url)


def test_provider_console_answers_every_generated_form_without_a_server_error(
    provider_node: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, _, console = provider_node
    routers = (auth_pages.router, review_pages.router, oversight_pages.router, audit_pages.router)
    tally = fuzz(console_document(*routers), url, headers=console, skip=KEEP_SIGNED_IN)
    report("provider console", tally)
    assert_clean(tally, url)


def test_centre_api_answers_every_generated_request_without_a_server_error(
    centre_node: tuple[str, dict[str, str]],
) -> None:
    url, _ = centre_node
    tally = fuzz(centre_api_document(), url)
    report("centre API", tally)
    assert_clean(tally, url)


def test_centre_console_answers_every_generated_form_without_a_server_error(
    centre_node: tuple[str, dict[str, str]],
) -> None:
    url, console = centre_node
    routers = (auth_pages.router, centre_pages.router, audit_pages.router)
    tally = fuzz(console_document(*routers), url, headers=console, skip=KEEP_SIGNED_IN)
    report("centre console", tally)
    assert_clean(tally, url)
