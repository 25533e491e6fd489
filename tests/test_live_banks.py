"""A running node follows every bank change: a bank created, filled, subscribed to the centre's
feed or deleted while `tutela serve` runs is matched (or no longer matched) by `/v1/match` within
TUTELA_MATCHER_REFRESH_MS and by uploads to `/v1/items` at the next request, with no restart (the
bounds the README states)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feed_fixtures import SignedFeed
from provider_fixtures import (
    TUTELA,
    drawn_image,
    jpeg,
    make_key,
    node_env,
    png,
    running_node,
    wait_decided,
)
from report_samples import NOW
from tutela.db.database import Database
from tutela.indicators.feed_subscription import follow_feed
from tutela.messaging.signing import generate_key_file
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

KNOWN = drawn_image(7001)
# The default TUTELA_MATCHER_REFRESH_MS (200) plus a read of the change table, with room to spare.
REFRESH_BOUND_S = 0.5
OTHER = drawn_image(7002)


def known_pdq() -> str:
    return pdq_of_bytes(png(KNOWN), mode=PdqMode.EXACT).hash


def cli(settings: Settings, *args: str) -> str:
    """Run `tutela ARGS…` as an operator would, beside the running node; its stdout."""
    done = subprocess.run(
        [TUTELA, *args], env=node_env(settings), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(params=["16", "0"], ids=["hashed-at-intake", "queued"])
def node(
    request: pytest.FixtureRequest, settings: Settings, database: Database, tmp_path: Path
) -> Iterator[httpx.Client]:
    """A node that started with no bank at all; uploads decided at intake by the API process,
    or (depth 0) queued for a detection worker that also started before any bank existed."""
    key = make_key(database)
    env = {"TUTELA_INLINE_HASHING_DEPTH": request.param}
    with (
        running_node(settings, tmp_path, workers=1, **env) as running,
        httpx.Client(
            base_url=running.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client,
    ):
        yield client


def match_hash(client: httpx.Client, pdq: str) -> list[str]:
    time.sleep(REFRESH_BOUND_S)  # lookups see a change once the background refresh has run
    answer = client.post("/v1/match", json={"signal_type": "pdq", "value": pdq})
    assert answer.status_code == 200, answer.text
    return [match["bank"] for match in answer.json()["matches"]]


def match_upload(client: httpx.Client, data: bytes) -> list[str]:
    time.sleep(REFRESH_BOUND_S)
    answer = client.post("/v1/match", files={"file": ("x.jpg", data)})
    assert answer.status_code == 200, answer.text
    return [match["bank"] for match in answer.json()["matches"]]


def verdict_of_upload(client: httpx.Client, item_id: str, data: bytes) -> str:
    answer = client.post(
        "/v1/items",
        files={"file": ("x.jpg", data)},
        data={"metadata": json.dumps({"item_id": item_id})},
    )
    assert answer.status_code == 202, answer.text
    ident = int(answer.json()["id"])
    return str(wait_decided(client, [ident], timeout_s=60)[ident]["verdict"])


@pytest.mark.slow
def test_a_bank_created_and_imported_while_the_node_runs_matches_at_once(
    node: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    assert match_hash(node, known_pdq()) == []  # the node is up, its matchers loaded
    listing = tmp_path / "late.txt"
    listing.write_text(known_pdq() + "\n")
    cli(settings, "bank", "create", "late")
    cli(settings, "bank", "import", "late", str(listing), "--signal-type", "pdq")

    assert match_hash(node, known_pdq()) == ["late"]
    assert match_upload(node, jpeg(KNOWN)) == ["late"]
    assert verdict_of_upload(node, "known-1", jpeg(KNOWN)) == "review"
    assert verdict_of_upload(node, "other-1", jpeg(OTHER)) == "no_match"


@pytest.mark.slow
def test_a_bank_deleted_while_the_node_runs_stops_matching_at_once(
    node: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    listing = tmp_path / "late.txt"
    listing.write_text(known_pdq() + "\n")
    cli(settings, "bank", "create", "late")
    cli(settings, "bank", "import", "late", str(listing), "--signal-type", "pdq")
    assert match_hash(node, known_pdq()) == ["late"]
    cli(settings, "bank", "delete", "late", "--yes")

    assert match_hash(node, known_pdq()) == []
    assert verdict_of_upload(node, "known-1", jpeg(KNOWN)) == "no_match"


@pytest.mark.slow
def test_a_bank_subscribed_to_the_centres_feed_while_the_node_runs_matches_what_it_brings(
    node: httpx.Client, settings: Settings, database: Database, tmp_path: Path
) -> None:
    centre = generate_key_file(tmp_path / "centre.pem")
    public_key = tmp_path / "centre.pub.pem"
    public_key.write_text(centre.public_key_pem())
    assert match_hash(node, known_pdq()) == []
    cli(
        settings,
        *("bank", "subscribe", "eu-centre", "--centre", "http://centre.invalid"),
        *("--public-key", str(public_key)),
    )
    report = follow_feed(database, "eu-centre", SignedFeed(centre, [("pdq", known_pdq())]), NOW)
    assert report.added == 1

    assert match_hash(node, known_pdq()) == ["eu-centre"]
    assert verdict_of_upload(node, "known-1", jpeg(KNOWN)) == "review"
