"""Blocking and delisting orders (Art 16-18): the Centre lists URLs (Art 44(3)) and serves the
list as a signed feed the provider follows; the authority orders entries of it until an end at
most five years on; the provider exports what is in force as an RPZ zone that BIND's
`named-checkzone` accepts, listing exactly the ordered URLs' hosts (README: a URL with a path
blocks its whole host; an IP-address URL is left out), and as the plain list of full URLs; an
order's URLs leave both exports when it ends. Placeholder URLs only (tests/blocking_fixtures)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from blocking_fixtures import LISTED, RULES, Nodes, delivered, follow, issue, nodes, receive
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from tutela.audit.models import AuditEntry
from tutela.centre.order_copies import receive_order_copy
from tutela.clock import FixedClock, utc_now
from tutela.db.database import Database
from tutela.errors import InvalidInput, InvalidSignature, UnknownItem
from tutela.indicators.feed_subscription import FeedPage
from tutela.indicators.fetchers.checkpoints import FetchFailed
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningWindow, generate_key_file
from tutela.orders.access_documents import BLOCKING_KIND, next_review
from tutela.orders.access_exports import end_orders, export_rpz, export_urls, rpz_zone
from tutela.orders.access_models import ListedUrl, ReceivedOrderUrl
from tutela.orders.models import ReceivedOrder
from tutela.orders.receiving import receive_order
from tutela.orders.states import OrderKind, ReceivedState
from tutela.orders.url_list_feed import follow_url_list
from tutela.settings import Settings

NAMED_CHECKZONE = shutil.which("named-checkzone")
pytestmark = pytest.mark.usefixtures("cheap_argon2")


@pytest.fixture
def world(database: Database, settings: Settings, tmp_path: Path) -> Nodes:
    return nodes(database, settings, tmp_path)


def count(database: Database, table: type) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def checked_zone(text: str, tmp_path: Path, zone: str = "rpz.tutela") -> str:
    path = tmp_path / "blocking.rpz"
    path.write_text(text, encoding="ascii")
    assert NAMED_CHECKZONE, "named-checkzone is missing (apt-get install bind9-utils)"
    done = subprocess.run(
        [NAMED_CHECKZONE, zone, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_provider_follows_every_entry_of_the_centres_signed_url_list(world: Nodes) -> None:
    with world.database.reader() as session:
        held = {row.url: row.centre_id for row in session.scalars(select(ListedUrl))}
    assert held == world.entries


def test_a_url_list_page_signed_by_another_key_is_refused_and_nothing_is_taken(
    database: Database, tmp_path: Path
) -> None:
    impostor = generate_key_file(tmp_path / "impostor.pem")
    centre = generate_key_file(tmp_path / "centre.pem")

    class Forged:
        def fetch(self, url: str, since: int, limit: int, now: object) -> FeedPage:
            body = b'{"items":[],"more":false,"next":0,"schema":"tutela.urls/1","since":0}'
            return FeedPage(body, centre.key_id, impostor.sign(body))

    with pytest.raises(InvalidSignature):
        follow_url_list(
            database, Forged(), "http://centre.test", centre.private_key.public_key(), utc_now()
        )
    assert count(database, ListedUrl) == 0


def test_the_url_list_is_served_only_to_registered_providers(
    world: Nodes, settings: Settings, tmp_path: Path
) -> None:
    stranger = generate_key_file(tmp_path / "stranger.pem")
    with pytest.raises(FetchFailed, match="401"):
        follow(world.database, settings, world.centre, stranger)


def test_following_again_takes_only_new_entries(
    world: Nodes, settings: Settings, tmp_path: Path
) -> None:
    assert follow(world.database, settings, world.centre, world.provider) == 0


def test_a_blocking_order_gives_a_zone_named_checkzone_accepts_with_exactly_the_ordered_hosts(
    world: Nodes, tmp_path: Path
) -> None:
    ordered = LISTED[:4]  # two paths on one host, an IDN host, an IP address; not LISTED[4]
    receive(world, issue(world, ordered, utc_now() + timedelta(days=365)))
    export = export_rpz(world.database, "cli:test")
    output = checked_zone(export.text, tmp_path)
    assert "OK" in output
    assert export.hosts == ("blocked.example", "xn--bcher-kva.example")
    assert export.skipped == ("http://192.0.2.7/p",)
    records = [line.split() for line in export.text.splitlines() if " CNAME " in line]
    assert records == [
        ["blocked.example", "IN", "CNAME", "."],
        ["xn--bcher-kva.example", "IN", "CNAME", "."],
    ]


def test_the_url_export_keeps_the_full_ordered_urls(world: Nodes) -> None:
    receive(world, issue(world, LISTED[:4], utc_now() + timedelta(days=30)))
    urls = export_urls(world.database, "cli:test", OrderKind.BLOCKING)
    assert urls == sorted(LISTED[:4])


def test_an_empty_zone_is_still_a_valid_zone(tmp_path: Path) -> None:
    checked_zone(rpz_zone([], utc_now()).text, tmp_path)


def test_a_delisting_order_is_in_the_url_export_and_not_in_the_zone(world: Nodes) -> None:
    receive(world, issue(world, [LISTED[4]], utc_now() + timedelta(days=30), OrderKind.DELISTING))
    assert export_rpz(world.database, "cli:test").hosts == ()
    assert export_urls(world.database, "cli:test", OrderKind.DELISTING) == [LISTED[4]]


def test_an_ended_order_leaves_the_exports_and_the_timed_step_ends_it_with_an_audit_entry(
    world: Nodes,
) -> None:
    ends_at = utc_now() + timedelta(days=2)
    receive(world, issue(world, [LISTED[0]], ends_at))
    receive(world, issue(world, [LISTED[4]], ends_at + timedelta(days=10)))
    before = FixedClock(ends_at - timedelta(minutes=1))
    after = FixedClock(ends_at)
    assert export_rpz(world.database, "t", clock=before).hosts == (
        "blocked.example",
        "unordered.example",
    )
    assert export_rpz(world.database, "t", clock=after).hosts == ("unordered.example",)
    assert end_orders(world.database, before) == []
    ended = end_orders(world.database, after)
    with world.database.reader() as session:
        states = sorted(session.scalars(select(ReceivedOrder.state)))
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert len(ended) == 1
    assert states == [ReceivedState.ENDED, ReceivedState.IN_FORCE]
    assert actions[-1] == "order_ended"


def test_an_order_for_more_than_five_years_is_refused_at_issue_and_nothing_is_queued(
    world: Nodes,
) -> None:
    before = count(world.database, OutboxMessage)
    with pytest.raises(InvalidInput, match="5 years"):
        issue(world, [LISTED[0]], utc_now() + timedelta(days=5 * 366))
    assert count(world.database, OutboxMessage) == before


def test_an_order_for_more_than_five_years_is_refused_on_receipt(world: Nodes) -> None:
    order_id = issue(world, [LISTED[0]], utc_now() + timedelta(days=30))
    payload = delivered(world.database, order_id)
    document = json.loads(payload["body"])["payload"]
    document["ends_at"] = (utc_now() + timedelta(days=5 * 366)).isoformat()
    forged = sign_message(world.authority, BLOCKING_KIND, order_id, document, utc_now())
    with pytest.raises(InvalidInput, match="5 years"):
        receive_order(
            world.database, forged.key_id, forged.body, forged.signature, utc_now(), RULES
        )
    assert count(world.database, ReceivedOrder) == 0


def test_an_order_naming_an_entry_the_provider_does_not_hold_is_refused_with_nothing_written(
    world: Nodes,
) -> None:
    order_id = issue(world, [LISTED[0]], utc_now() + timedelta(days=30))
    with world.database.unit_of_work() as session:
        session.delete(session.get_one(ListedUrl, world.entries[LISTED[0]]))
    with pytest.raises(UnknownItem):
        receive(world, order_id)
    assert count(world.database, ReceivedOrder) == 0
    assert count(world.database, ReceivedOrderUrl) == 0


def test_an_order_giving_an_entry_another_url_than_the_list_is_refused(world: Nodes) -> None:
    order_id = issue(world, [LISTED[0]], utc_now() + timedelta(days=30))
    payload = delivered(world.database, order_id)
    document = json.loads(payload["body"])["payload"]
    document["items"][0]["url"] = "https://elsewhere.example/"
    forged = sign_message(world.authority, BLOCKING_KIND, order_id, document, utc_now())
    with pytest.raises(UnknownItem):
        receive_order(
            world.database, forged.key_id, forged.body, forged.signature, utc_now(), RULES
        )
    assert count(world.database, ReceivedOrder) == 0


def test_a_repeated_delivery_is_answered_as_the_first_and_stores_nothing_more(
    world: Nodes,
) -> None:
    order_id = issue(world, LISTED[:2], utc_now() + timedelta(days=30))
    first = receive(world, order_id)
    again = receive(world, order_id)
    assert again == first
    assert [item["url"] for item in first["items"]] == LISTED[:2]
    assert count(world.database, ReceivedOrderUrl) == 2


def test_the_centre_keeps_the_copy_of_a_blocking_order(world: Nodes) -> None:
    order_id = issue(world, [LISTED[0]], utc_now() + timedelta(days=30))
    with world.database.reader() as session:
        copy = session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "copy:" + order_id)
        ).one()
    payload = copy.payload
    answer, created = receive_order_copy(
        world.database,
        payload["key_id"],
        payload["body"].encode("utf-8"),
        payload["signature"],
        utc_now(),
        SigningWindow.of(Settings()),
    )
    assert created and answer["order_id"] == order_id


def test_the_yearly_review_falls_on_the_next_anniversary_of_issue() -> None:
    issued = utc_now()
    assert next_review(issued, issued + timedelta(days=1)) == issued + timedelta(days=365)
    assert next_review(issued, issued + timedelta(days=400)) == issued + timedelta(days=730)
