"""The centre's feed is trusted only under the centre's key; holds bind for at most 18 months;
two identical concurrent submissions both get a clean answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from report_samples import NOW, PROVIDER, sample_input
from tutela.centre.intake import receive_report
from tutela.centre.providers import register_provider
from tutela.db import Database
from tutela.detection.models import Item
from tutela.errors import InvalidSignature
from tutela.indicators.banks import get_bank
from tutela.indicators.feed_subscription import FeedPage, follow_feed, subscribe_bank
from tutela.messaging.canonical import canonical_json
from tutela.messaging.signing import SigningKey, generate_key_file, sign_report
from tutela.reporting.filing import file_report
from tutela.reporting.holds import active_holds, may_notify_user, record_hold
from tutela.reporting.report import build_report


class ForgedFeed:
    """A page that looks right but is signed by someone other than the centre."""

    def __init__(self, forger: SigningKey) -> None:
        self.forger = forger

    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage:
        body = canonical_json(
            {
                "schema": "tutela.indicators/1",
                "since": since,
                "items": [{"seq": 1, "op": "add", "signal_type": "md5", "value": "0" * 32}],
                "next": 1,
                "more": False,
            }
        )
        return FeedPage(body, self.forger.key_id, self.forger.sign(body))


def test_a_feed_page_not_signed_by_the_centre_changes_nothing(
    tmp_path: Path, database: Database
) -> None:
    centre = generate_key_file(tmp_path / "centre.pem")
    forger = generate_key_file(tmp_path / "forger.pem")
    subscribe_bank(database, "eu-centre", "http://centre.invalid", centre.public_key_pem())
    with pytest.raises(InvalidSignature):
        follow_feed(database, "eu-centre", ForgedFeed(forger), NOW)
    assert get_bank(database, "eu-centre").indicator_count == 0


def test_a_hold_longer_than_the_law_allows_is_cut_to_the_limit(
    tmp_path: Path, database: Database
) -> None:
    key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        filed = file_report(session, sample_input(), PROVIDER, key, NOW)
        item = Item(item_ref="upload-7", status="done", meta={})
        session.add(item)
        session.flush()
        hold = record_hold(
            session,
            "hold-1",
            filed.report_id,
            item,
            "lea-de",
            no_user_notice=True,
            no_removal=False,
            until=NOW + timedelta(days=900),
            now=NOW,
            max_days=548,
        )
        assert hold.until == NOW + timedelta(days=548)
        assert not may_notify_user(session, item.id, NOW + timedelta(days=547))
        assert active_holds(session, item.id, NOW + timedelta(days=549)) == []


def test_two_identical_concurrent_submissions_get_one_created_and_one_repeat(
    tmp_path: Path, database: Database
) -> None:
    key = generate_key_file(tmp_path / "provider.pem")
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER.name, key.public_key_pem(), NOW, "NL")
    report = sign_report(build_report(sample_input(), PROVIDER, NOW), key, NOW)

    def submit(_: int) -> bool:
        accepted = receive_report(
            database, report.key_id, report.body, report.signature, "same-key", NOW
        )
        return accepted.created

    with ThreadPoolExecutor(2) as pool:
        created = sorted(pool.map(submit, range(2)))
    assert created == [False, True]
