"""The centre's indicator database (Art 44) and its sequenced feed.

Indicators are made only from a report whose material a national authority confirmed, by a
named analyst (Art 44(3)); each keeps that generation record. Every add and withdrawal appends
a feed entry with a growing `seq`, which providers follow (Art 46).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tutela.centre.models import (
    CentreIndicator,
    CentreReport,
    CentreReportHash,
    FeedEntry,
    ReportStatus,
)
from tutela.errors import Conflict, InvalidInput, NotFound
from tutela.indicators.variants import Variants, as_json, check_variants
from tutela.signals.base import hamming_hex
from tutela.signals.pdq import PdqSignal

ADD, REMOVE = "add", "remove"
FEED_SCHEMA = "tutela.indicators/1"
MAX_PAGE = 1000
# Signal types an indicator is made of; other hashes a report carries stay in the report.
INDICATOR_TYPES = ("pdq", "md5", "sha1", "sha256")
# Any fixed 64-bit number: names the lock that orders writers of the feed.
_FEED_LOCK_KEY = 0x7475_7465_6C61_0002


@dataclass(frozen=True, slots=True)
class Confirmed:
    report_id: int
    indicator_ids: tuple[int, ...]


def confirm_indicator(
    session: Session,
    report_id: int,
    analyst: str,
    now: datetime,
    *,
    authority_confirmation: str,
    variants: Mapping[str, Variants] | None = None,
) -> Confirmed:
    """Make indicators of the report's hashes; `authority_confirmation` cites the national
    authority's confirmation of the material (Art 44(3)), without which none is made.
    `variants`: by the confirmed image's own exact PDQ, further PDQs of it (its standard crops,
    tutela.signals.crops) that the report's PDQ indicator of that image (the nearest within
    PDQ's threshold: the provider may have hashed in fast mode) carries into the feed."""
    if not analyst.strip():
        raise InvalidInput("name the analyst who confirms the indicator")
    if not authority_confirmation.strip():
        raise InvalidInput("an indicator needs the authority's confirmation (Art 44(3))")
    report = session.get(CentreReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}")
    if report.status == ReportStatus.UNFOUNDED:
        # The centre itself found the report manifestly unfounded (Art 48(2)): nothing in it
        # can become an indicator that every provider will match against.
        raise Conflict(
            f"report {report_id} was set aside as manifestly unfounded; "
            "no indicator can be made of it"
        )
    hashes = session.execute(
        select(CentreReportHash.signal_type, CentreReportHash.value).where(
            CentreReportHash.report_id == report_id,
            CentreReportHash.signal_type.in_(INDICATOR_TYPES),
        )
    ).all()
    if not hashes:
        raise InvalidInput(f"report {report_id} carries no hash an indicator can be made of")
    variants = _variants_by_report_pdq(report_id, [v for t, v in hashes if t == "pdq"], variants)
    _lock_feed(session)
    made = []
    for signal_type, value in hashes:
        indicator = session.scalar(
            select(CentreIndicator).where(
                CentreIndicator.signal_type == signal_type, CentreIndicator.value == value
            )
        )
        if indicator is not None and indicator.active:
            made.append(indicator.id)  # already published; its first generation record stands
            continue
        if indicator is None:
            indicator = CentreIndicator(signal_type=signal_type, value=value)
            session.add(indicator)
        indicator.active, indicator.withdrawn_at, indicator.withdrawn_reason = True, None, None
        indicator.report_id, indicator.analyst = report.id, analyst
        indicator.authority_confirmation, indicator.confirmed_at = authority_confirmation, now
        if signal_type == "pdq" and value in variants:
            indicator.variants = [list(pair) for pair in variants[value]]
        session.flush()
        session.add(FeedEntry(indicator_id=indicator.id, op=ADD, at=now))
        made.append(indicator.id)
    if "indicator" not in report.tags:
        report.tags = [*report.tags, "indicator"]  # Art 45(2): the report's indicators
    session.flush()
    return Confirmed(report.id, tuple(made))


def withdraw_indicator(
    session: Session, indicator_id: int, analyst: str, reason: str, now: datetime
) -> None:
    """Take an indicator out of the feed (e.g. a false positive); subscribers remove it."""
    if not reason.strip():
        raise InvalidInput("say why the indicator is withdrawn")
    indicator = session.get(CentreIndicator, indicator_id)
    if indicator is None:
        raise NotFound(f"no indicator {indicator_id}")
    if not indicator.active:
        return
    _lock_feed(session)
    indicator.active, indicator.withdrawn_at = False, now
    indicator.withdrawn_reason = f"{analyst}: {reason}"
    session.add(FeedEntry(indicator_id=indicator.id, op=REMOVE, at=now))
    session.flush()


def feed_page(session: Session, since: int, limit: int) -> dict[str, Any]:
    """Entries after `since`, oldest first; `next` is the cursor for the following page."""
    if since < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"since is 0 or more, limit 1 to {MAX_PAGE}")
    rows = session.execute(
        select(FeedEntry, CentreIndicator)
        .join(CentreIndicator, CentreIndicator.id == FeedEntry.indicator_id)
        .where(FeedEntry.seq > since)
        .order_by(FeedEntry.seq)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    items = [_feed_item(entry, indicator) for entry, indicator in rows[:limit]]
    return {
        "schema": FEED_SCHEMA,
        "since": since,
        "items": items,
        "next": items[-1]["seq"] if items else since,
        "more": more,
    }


def _feed_item(entry: FeedEntry, indicator: CentreIndicator) -> dict[str, Any]:
    item: dict[str, Any] = {
        "seq": entry.seq,
        "op": entry.op,
        "signal_type": indicator.signal_type,
        "value": indicator.value,
        # The generation record as the feed shows it: which indicator, when, on whose
        # confirmation. Analysts' names and report contents stay at the centre.
        "generation": {
            "indicator_id": indicator.id,
            "confirmed_at": indicator.confirmed_at.isoformat(),
            "authority_confirmation": indicator.authority_confirmation,
        },
    }
    if entry.op == ADD and indicator.variants:
        # A key older subscribers pass over (they read the fields above only), so the schema
        # stays tutela.indicators/1; newer ones bank the variants with the indicator.
        item["variants"] = as_json(tuple((n, v) for n, v in indicator.variants))
    return item


def _variants_by_report_pdq(
    report_id: int, report_pdqs: list[str], by_image: Mapping[str, Variants] | None
) -> dict[str, Variants]:
    """Each image's variants keyed by the report's PDQ nearest to the image's own (within PDQ's
    threshold); InvalidInput for an image that is none of the report's."""
    out: dict[str, Variants] = {}
    for image_pdq, variants in (by_image or {}).items():
        near = sorted((hamming_hex(image_pdq, value), value) for value in report_pdqs)
        if not near or near[0][0] > PdqSignal.default_threshold:
            raise InvalidInput(f"the image given is not one whose PDQ report {report_id} carries")
        out[near[0][1]] = check_variants(variants)
    return out


def _lock_feed(session: Session) -> None:
    # As for the provider's change sequence: PostgreSQL hands out seq at insert, not commit, so
    # writers are serialised to keep commit order equal to seq order and no subscriber skips one.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_LOCK_KEY})
