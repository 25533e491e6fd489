"""The node's own figures in a risk assessment: per service part (the items' `metadata.service`)
and calendar month, counted from the detection, review and complaint tables, with the counts the
test expects computed from what it seeded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from password_hashing import CHEAP
from review_fixtures import PASSWORD
from tutela.auth import passwords
from tutela.auth.user_models import User
from tutela.auth.users import create_user
from tutela.db.database import Database
from tutela.detection.models import Case, CaseState, Item, ItemMatch
from tutela.enforcement.measure_models import Complaint
from tutela.review.models import ReviewDecision
from tutela.risk.figures import UNNAMED_PART, figures_by_part, window_start

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REVIEWER = "rita"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)


def add_reviewer(database: Database) -> None:
    create_user(database, REVIEWER, PASSWORD, ["reviewer"], actor="test")


def seed_item(
    database: Database,
    number: int,
    service: str | None,
    matched_at: datetime,
    *,
    outcomes: tuple[str, ...] = ("review",),
    status: str | None = None,
    decided_at: datetime | None = None,
    complaint_at: datetime | None = None,
) -> None:
    """One upload to `service` that matched (one match per outcome), and optionally its case's
    decision by a reviewer and a user's complaint about it."""
    meta = {"item_id": f"upload-{number}", **({"service": service} if service else {})}
    with database.unit_of_work() as session:
        item = Item(
            item_ref=f"upload-{number}",
            content_digest=f"{number:064x}",
            status="done",
            verdict="review",
            meta=meta,
            created_at=matched_at,
        )
        session.add(item)
        session.flush()
        for outcome in outcomes:
            session.add(
                ItemMatch(
                    item_id=item.id,
                    bank_id=1,
                    bank="known",
                    indicator_id=number,
                    signal_type="pdq",
                    distance=4,
                    outcome=outcome,
                    created_at=matched_at,
                )
            )
        if status is None:
            return
        case = Case(item_id=item.id, status=status, priority=1, created_at=matched_at)
        session.add(case)
        session.flush()
        reviewer = session.scalar(select(User.id).where(User.name == REVIEWER))
        assert reviewer is not None, "add_reviewer first"
        session.add(
            ReviewDecision(
                case_id=case.id,
                user_id=reviewer,
                reviewer=REVIEWER,
                decision="confirm"
                if status in (CaseState.CONFIRMED, CaseState.REVERSED)
                else "dismiss",
                status_after=CaseState.CONFIRMED
                if status in (CaseState.CONFIRMED, CaseState.REVERSED)
                else CaseState.DISMISSED,
                effects={},
                created_at=decided_at or matched_at,
            )
        )
        if complaint_at is not None:
            session.add(
                Complaint(
                    complaint_ref=f"complaint-{number}",
                    case_id=case.id,
                    item_id=item.id,
                    grounds="placeholder grounds",
                    state="open",
                    received_at=complaint_at,
                    note="",
                )
            )


def at(month: int, day: int = 10) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


def test_figures_count_matched_items_confirmed_reports_and_complaints_per_part_and_month(
    database: Database,
) -> None:
    add_reviewer(database)
    # chat: two items matched in May (one of them twice), one confirmed in June with a complaint.
    seed_item(database, 1, "chat", at(5), outcomes=("review", "action"))
    seed_item(
        database,
        2,
        "chat",
        at(5),
        status=CaseState.CONFIRMED,
        decided_at=at(6),
        complaint_at=at(6, 12),
    )
    # chat: matches that were ignored or safe-listed count for nothing.
    seed_item(database, 3, "chat", at(5), outcomes=("ignore", "safelisted"))
    # photos: one dismissed (a match, no report), one confirmed then reversed on complaint.
    seed_item(database, 4, "photos", at(6), status=CaseState.DISMISSED)
    seed_item(database, 5, "photos", at(4), status=CaseState.REVERSED, complaint_at=at(5))
    # No service named, and one from before the window.
    seed_item(database, 6, None, at(6), status=CaseState.CONFIRMED)
    seed_item(database, 7, "photos", datetime(2025, 5, 1, tzinfo=UTC), status=CaseState.CONFIRMED)

    start = window_start(NOW, 3)
    assert start == datetime(2026, 4, 1, tzinfo=UTC)
    with database.reader() as session:
        figures = figures_by_part(session, start, NOW)

    assert sorted(figures) == [UNNAMED_PART, "chat", "photos"]
    chat = {m.month: (m.matches, m.confirmed_reports, m.complaints) for m in figures["chat"].months}
    assert chat == {"2026-04": (0, 0, 0), "2026-05": (2, 0, 0), "2026-06": (0, 1, 1)}
    photos = {
        m.month: (m.matches, m.confirmed_reports, m.complaints) for m in figures["photos"].months
    }
    assert photos == {"2026-04": (1, 0, 0), "2026-05": (0, 0, 1), "2026-06": (1, 0, 0)}
    unnamed = figures[UNNAMED_PART]
    assert (unnamed.matches, unnamed.confirmed_reports, unnamed.complaints) == (1, 1, 0)
