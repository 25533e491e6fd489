"""A provider node seeded with known decisions, complaints, removals and orders, for the yearly
figures tests. Every row is written directly, with personal-looking data (account ids, names,
addresses, item refs) that no figure may show. Not a test module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tutela.auth.user_models import User
from tutela.db.database import Database
from tutela.detection.models import Case, Item, ItemMatch
from tutela.enforcement.measure_models import Complaint, TakedownRequest
from tutela.orders.models import AuthorityKey, ReceivedOrder, ReceivedOrderItem
from tutela.review.models import ReviewDecision

YEAR = 2025
IN_YEAR = datetime(YEAR, 6, 1, 9, 0, tzinfo=UTC)
LAST_YEAR = datetime(YEAR - 1, 12, 31, 23, 0, tzinfo=UTC)
# What no figure may contain: the personal data and item refs the seeded rows carry.
PERSONAL = (
    "account-secret-7",
    "uploader_carla",
    "198.51.100.23",
    "item-ref-",
    "reviewer-rosa",
    "complaint-ref-",
    "grounds: my photo",
)


@dataclass(frozen=True, slots=True)
class Seeded:
    """One reviewed match: its bank, signal, distance and the case's final state."""

    bank: str
    signal_type: str
    distance: int
    final: str  # confirmed | dismissed | reversed
    decided_at: datetime = IN_YEAR


CASES = (
    *[Seeded("ncmec", "pdq", 0, "confirmed")] * 3,
    *[Seeded("ncmec", "pdq", 5, "confirmed")] * 2,
    Seeded("ncmec", "pdq", 5, "dismissed"),
    *[Seeded("ncmec", "pdq", 15, "dismissed")] * 2,
    Seeded("ncmec", "pdq", 15, "confirmed"),
    Seeded("ncmec", "pdq", 25, "dismissed"),
    Seeded("ncmec", "pdq", 25, "reversed"),
    *[Seeded("ncmec", "md5", 0, "confirmed")] * 2,
    Seeded("stopncii", "pdq", 8, "confirmed"),
    Seeded("stopncii", "pdq", 8, "reversed"),
    # Decided the year before: in no figure of YEAR.
    Seeded("ncmec", "pdq", 3, "dismissed", LAST_YEAR),
)
# (state, hours to decide or None, received in YEAR)
COMPLAINTS = (("upheld", 10.0, True), ("rejected", 30.0, True), ("open", None, True))
TAKEDOWNS_CONFIRMED = 4
ORDER_ITEM_HOURS = (5.0, 7.0)


def seed_node(database: Database) -> None:
    with database.unit_of_work() as session:
        reviewer = User(name="reviewer-rosa", password_hash="x", created_at=LAST_YEAR)
        session.add(reviewer)
        session.flush()
        cases: list[Case] = []
        for n, seeded in enumerate(CASES):
            item = _item(n, seeded.decided_at - timedelta(hours=1))
            session.add(item)
            session.flush()
            session.add(
                ItemMatch(
                    item_id=item.id,
                    bank_id=1 if seeded.bank == "ncmec" else 2,
                    bank=seeded.bank,
                    indicator_id=100 + n,
                    signal_type=seeded.signal_type,
                    distance=seeded.distance,
                    outcome="review",
                    created_at=item.created_at,
                )
            )
            case = Case(item_id=item.id, status=seeded.final, priority=1, evidence=[])
            session.add(case)
            session.flush()
            cases.append(case)
            confirmed = seeded.final in ("confirmed", "reversed")
            session.add(
                ReviewDecision(
                    case_id=case.id,
                    user_id=reviewer.id,
                    reviewer=reviewer.name,
                    decision="confirm" if confirmed else "dismiss",
                    status_after="confirmed" if confirmed else "dismissed",
                    created_at=seeded.decided_at,
                )
            )
        # A case still open, and an ignored match: neither is a decision.
        open_item = _item(len(CASES), IN_YEAR)
        session.add(open_item)
        session.flush()
        session.add(Case(item_id=open_item.id, status="open", priority=1, evidence=[]))
        session.add(
            ItemMatch(
                item_id=open_item.id,
                bank_id=1,
                bank="ncmec",
                indicator_id=1,
                signal_type="pdq",
                distance=30,
                outcome="review",
                created_at=IN_YEAR,
            )
        )
        for n, (state, hours, _) in enumerate(COMPLAINTS):
            session.add(
                Complaint(
                    complaint_ref=f"complaint-ref-{n}",
                    case_id=cases[n].id,
                    item_id=cases[n].item_id,
                    grounds="grounds: my photo of a beach",
                    state=state,
                    received_at=IN_YEAR,
                    decided_by=None if hours is None else "reviewer-rosa",
                    decided_at=None if hours is None else IN_YEAR + timedelta(hours=hours),
                )
            )
        session.add(
            Complaint(
                complaint_ref="complaint-ref-old",
                case_id=cases[-1].id,
                item_id=cases[-1].item_id,
                grounds="grounds: my photo",
                state="rejected",
                received_at=LAST_YEAR,
                decided_at=LAST_YEAR + timedelta(minutes=30),
            )
        )
        for n in range(TAKEDOWNS_CONFIRMED):
            session.add(
                TakedownRequest(
                    case_id=cases[n].id,
                    item_id=cases[n].item_id,
                    item_ref=f"item-ref-{n}",
                    state="confirmed",
                    account_action="none",
                    confirmed_at=IN_YEAR + timedelta(hours=2),
                )
            )
        authority = AuthorityKey(
            name="Coordinating Authority NL",
            key_id="a" * 32,
            public_key_pem="-",
            created_at=LAST_YEAR,
        )
        session.add(authority)
        session.flush()
        removal = _order(authority.id, "removal", "ord-1")
        blocking = _order(authority.id, "blocking", "ord-2")
        session.add_all([removal, blocking])
        session.flush()
        for n, hours in enumerate(ORDER_ITEM_HOURS):
            session.add(
                ReceivedOrderItem(
                    order_id=removal.id,
                    ref=f"r{n}",
                    item_id=cases[n].item_id,
                    platform="default",
                    item_ref=f"item-ref-order-{n}",
                    state="removed",
                    executed_at=IN_YEAR + timedelta(hours=hours),
                )
            )


def _item(n: int, at: datetime) -> Item:
    return Item(
        item_ref=f"item-ref-{n}",
        status="done",
        verdict="review",
        meta={
            "account_id": "account-secret-7",
            "username": "uploader_carla",
            "upload_ip": "198.51.100.23",
        },
        created_at=at,
        decided_at=at,
    )


def _order(authority_id: int, kind: str, ref: str) -> ReceivedOrder:
    return ReceivedOrder(
        authority_id=authority_id,
        order_ref=ref,
        kind=kind,
        state="executed",
        body="{}",
        signature="-",
        signed_at=IN_YEAR.isoformat(),
        received_at=IN_YEAR,
        deadline_at=IN_YEAR + timedelta(hours=24),
        completed_at=IN_YEAR + timedelta(hours=7),
    )
