"""Benign sample inputs for reporting tests: placeholder names, documentation IP ranges, and the
hash of a plain drawn test card; nothing here depicts or describes anything."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from tutela.reporting.fields import (
    Awareness,
    ItemFacts,
    Kind,
    MatchFacts,
    ProviderIdentity,
    ReportInput,
)

PROVIDER = ProviderIdentity(
    name="Example Hosting BV",
    legal_representative="Example Legal Rep GmbH",
    point_of_contact="trust@example.org",
    country="NL",
    services=("example-photos",),
)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
# A drawn test card, standing in for "known material".
CARD = b"tutela test card: grey square on white"
CARD_MD5 = hashlib.md5(CARD).hexdigest()
PDQ_A = "f" * 16 + "0" * 48


def sample_input(case_id: int = 7, **changes: object) -> ReportInput:
    item = ItemFacts(
        item_ref=f"upload-{case_id}",
        account_id="account-42",
        username="placeholder_user",
        email="user@example.net",
        upload_ip="192.0.2.10",
        upload_port=50123,
        uploaded_at=datetime(2025, 2, 28, 21, 30, tzinfo=CET),
        url="https://photos.example/p/1",
        service="example-photos",
        content_created_at=datetime(2025, 2, 27, 9, 0, tzinfo=CET),
        geo={"country": "DE"},
    )
    values: dict[str, object] = {
        "case_id": case_id,
        "item": item,
        "matches": (MatchFacts("test-bank", 1, "pdq", PDQ_A, 4),),
        "kind": Kind.KNOWN,
        "decided_by": "reviewer-1",
        "decided_at": NOW,
        "awareness": Awareness.OWN_INITIATIVE,
        "legal_basis": "Regulation (EU) 2021/1232 Art 3",
        "signals": {"pdq": PDQ_A, "md5": CARD_MD5},
        "removed": True,
        "removed_at": NOW,
    }
    values.update(changes)
    return ReportInput(**values)  # type: ignore[arg-type]
