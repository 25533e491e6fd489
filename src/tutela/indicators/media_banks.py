"""Banking images Tutela holds (`tutela bank add-media`): each image's MD5, SHA-256 and exact PDQ
become indicators, and the PDQ carries the image's standard crops as its variants
(tutela.indicators.variants), so that crops of the image match it. One transaction, audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tutela.audit.log import SYSTEM
from tutela.db.database import Database
from tutela.indicators.bank_audit import BankAction, record_bank_change
from tutela.indicators.banks import bank_by_name
from tutela.indicators.ledger import insert_indicators
from tutela.indicators.variants import Variants, check_variants, store_variants
from tutela.signals.media_indicator import MediaIndicator

SOURCE = "add-media"


@dataclass(frozen=True, slots=True)
class MediaBanked:
    """What banking some images did: hashes added and already present, PDQs given variants."""

    bank: str
    images: int
    added: int
    already_present: int
    variants: int

    def as_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "images": self.images,
            "added": self.added,
            "already_present": self.already_present,
            "variants": self.variants,
        }


def media_records(image: MediaIndicator) -> list[dict[str, object]]:
    """The indicator records of one hashed image (none of a PDQ when it was no usable image)."""
    records: list[dict[str, object]] = [
        {"signal_type": "md5", "value": image.md5},
        {"signal_type": "sha256", "value": image.sha256},
    ]
    if image.pdq is not None:
        records.append({"signal_type": "pdq", "value": image.pdq})
    return records


def add_media(
    database: Database,
    bank_name: str,
    images: Sequence[MediaIndicator],
    *,
    actor: str = SYSTEM,
) -> MediaBanked:
    """Bank hashed images (tutela.signals.media_indicator) in one transaction, audited as
    `actor`'s: their hashes as indicators, each PDQ's crops as its variants (a PDQ already in
    the bank gets this image's variants)."""
    records = [record for image in images for record in media_records(image)]
    by_value: dict[str, Variants] = {
        image.pdq: check_variants(image.variants) for image in images if image.pdq is not None
    }
    with database.unit_of_work() as session:
        bank = bank_by_name(session, bank_name)
        added = insert_indicators(session, bank.id, records, source=SOURCE)
        store_variants(session, bank.id, by_value)
        banked = MediaBanked(
            bank_name,
            len(images),
            added,
            len(records) - added,
            sum(len(v) for v in by_value.values()),
        )
        # What was banked, by count: no file name, no hash (Design: content never in logs).
        record_bank_change(session, actor, BankAction.ADD_MEDIA, bank_name, banked.as_dict())
    return banked
