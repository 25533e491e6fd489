"""Flood protection: an indicator matching more than its bank's flood count within the window gives
`review` only and raises one alert; the count is exact under concurrent batches."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from provider_fixtures import decide_signals
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.detection.items import accept_signals
from tutela.detection.models import FloodAlert
from tutela.detection.policy import set_bank_policy
from tutela.detection.verdicts import Outcome, write_outcomes
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import MatchResult

MD5 = "5d41402abc4b2a76b9719d911017c592"


def flood_bank(database: Database, count: int) -> int:
    create_bank(database, "known", verified=True)
    indicator = add_indicator(database, "known", "md5", MD5)
    set_bank_policy(database, "known", action_exact=True, flood_count=count, flood_window_s=600)
    return indicator.id


def alerts(database: Database) -> list[tuple[int, int]]:
    with database.reader() as session:
        rows = session.scalars(select(FloodAlert).order_by(FloodAlert.id))
        return [(a.indicator_id, a.matches) for a in rows]


def test_indicator_matching_past_its_flood_count_gives_review_only_and_one_alert(
    database: Database,
) -> None:
    indicator_id = flood_bank(database, count=2)
    items = decide_signals(database, [{"md5": MD5}] * 4)
    assert [item.verdict for item in items] == ["action", "action", "review", "review"]
    assert alerts(database) == [(indicator_id, 3)]


def test_flood_counts_of_concurrent_batches_see_each_other(database: Database) -> None:
    """Two transactions recording a match of one indicator at once, flood count 1: the second
    must count the first's match (it waits for the indicator's lock) and raise the alert."""
    indicator_id = flood_bank(database, count=1)
    first, second = (
        accept_signals(database, f"race-{i}", {"item_id": f"race-{i}"}, {"md5": MD5}).id
        for i in range(2)
    )
    match = MatchResult(bank="known", indicator_id=indicator_id, signal_type="md5", distance=0)
    judged, release = threading.Event(), threading.Event()

    def record(item_id: int, hold: bool) -> None:
        with database.unit_of_work() as session:
            write_outcomes(session, [(item_id, Outcome({"md5": MD5}, [match]))], utc_now())
            judged.set()
            if hold:
                release.wait(10)

    holder = threading.Thread(target=record, args=(first, True))
    holder.start()
    assert judged.wait(10)
    racer = threading.Thread(target=record, args=(second, False))
    racer.start()
    time.sleep(0.5)  # long enough for the racer to count, were it not made to wait
    release.set()
    holder.join(10)
    racer.join(10)
    assert alerts(database) == [(indicator_id, 2)]
