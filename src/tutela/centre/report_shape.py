"""The shape a received report must have before the centre stores any of it: the parts the centre
reads are of the right type and fit their columns, and nothing is nested deeper than a report
ever is. A report that is validly signed but fails here is refused as `malformed_report` (422),
never half stored and never a 500 (issue 12)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tutela.errors import MalformedReport

# Deeper than any report this code base builds (its deepest part is about five levels down);
# JSON nested deeper is refused before anything walks it recursively (the console's pages do).
MAX_DEPTH = 16
MAX_REPORT_ID = 64  # centre_reports.report_uid
MAX_HASHES = 1000
MAX_SIGNAL_TYPE = 32  # centre_report_hashes.signal_type
MAX_HASH_VALUE = 128  # centre_report_hashes.value
# A video's vPDQ (one line per distinct sampled frame, ~90 characters each) is far longer than
# any hash the index holds: it is checked for size and kept in the report's body, not indexed.
VIDEO_HASHES = frozenset({"vpdq"})
MAX_VIDEO_HASH_VALUE = 8 * 1024 * 1024
MAX_OMITTED = 16  # content.omitted: a report is about one item, its file or files
MAX_MEDIA_TYPE = 128
MAX_REASON = 64
SHA256 = re.compile(r"^[0-9a-f]{64}$")
REASON = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SIGNAL_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def check_depth(value: Any) -> None:
    """Walk the parsed report without recursion; refuse it past `MAX_DEPTH` levels."""
    level: list[Any] = [value]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise MalformedReport(f"the report is nested deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                below.extend(v for v in node.values() if isinstance(v, dict | list))
            elif isinstance(node, list):
                below.extend(v for v in node if isinstance(v, dict | list))
        level = below


def part(report: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    """An object inside the report (`"location.geo"`), empty when absent or null."""
    value: Any = report
    for name in path.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise MalformedReport(f"{path} is a JSON object")
    found: Mapping[str, Any] = value
    return found


def report_uid(report: Mapping[str, Any]) -> str:
    uid = report.get("report_id")
    if not isinstance(uid, str) or not 1 <= len(uid) <= MAX_REPORT_ID:
        raise MalformedReport(f"report_id is text of 1 to {MAX_REPORT_ID} characters")
    return uid


def urgent(report: Mapping[str, Any]) -> bool:
    value = part(report, "urgency").get("urgent")
    if value is not None and not isinstance(value, bool):
        raise MalformedReport("urgency.urgent is true or false")
    return bool(value)


def removed(report: Mapping[str, Any]) -> bool | None:
    value = part(report, "removal").get("removed")
    if value is not None and not isinstance(value, bool):
        raise MalformedReport("removal.removed is true, false or null")
    return value


def declared_country(report: Mapping[str, Any]) -> str | None:
    """The Member State the report points to: the upload's declared country, else the
    provider's as reported; None falls back to the registered provider's country (Art 48(3))."""
    parts = {path: part(report, path) for path in ("location.geo", "provider")}
    for path, found in parts.items():
        country = found.get("country")
        if country is None or country == "":
            continue
        if not isinstance(country, str) or not COUNTRY.match(country):
            raise MalformedReport(f"{path}.country is a two-letter ISO 3166 code")
        return country.upper()
    return None


def hash_entries(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """content.hashes as (signal type, value) pairs, each fitting its column; a video's vPDQ is
    checked but left out (it stays in the report's body)."""
    entries = part(report, "content").get("hashes") or []
    if not isinstance(entries, list):
        raise MalformedReport("content.hashes is a list")
    if len(entries) > MAX_HASHES:
        raise MalformedReport(f"a report carries at most {MAX_HASHES} hashes")
    pairs = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise MalformedReport("content.hashes holds objects of signal_type and value")
        kind, value = entry.get("signal_type"), entry.get("value")
        if not isinstance(kind, str) or not SIGNAL_TYPE.match(kind):
            raise MalformedReport(
                f"a signal_type is 1 to {MAX_SIGNAL_TYPE} lower-case letters, digits, '_.-'"
            )
        if kind in VIDEO_HASHES:
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_VIDEO_HASH_VALUE:
                raise MalformedReport(
                    f"a {kind} value is text of 1 to {MAX_VIDEO_HASH_VALUE} characters"
                )
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_HASH_VALUE:
            raise MalformedReport(f"a hash value is text of 1 to {MAX_HASH_VALUE} characters")
        pairs.append((kind, value.lower()))
    return pairs


def omitted_files(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """content.omitted: the content files a report says it leaves out, each with its
    `media_type`, `size`, `sha256`, `reason` (a code such as `too_large`) and `limit`."""
    entries = part(report, "content").get("omitted") or []
    if not isinstance(entries, list):
        raise MalformedReport("content.omitted is a list")
    if len(entries) > MAX_OMITTED:
        raise MalformedReport(f"a report names at most {MAX_OMITTED} omitted files")
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise MalformedReport("content.omitted holds objects")
        media_type, reason = entry.get("media_type"), entry.get("reason")
        if not isinstance(media_type, str) or not 1 <= len(media_type) <= MAX_MEDIA_TYPE:
            raise MalformedReport(
                f"an omitted file's media_type is text of 1 to {MAX_MEDIA_TYPE} characters"
            )
        if not isinstance(reason, str) or not REASON.match(reason):
            raise MalformedReport(
                f"an omitted file's reason is a code of 1 to {MAX_REASON} lower-case letters, "
                "digits and '_'"
            )
        sha256 = entry.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or not SHA256.match(sha256)):
            raise MalformedReport("an omitted file's sha256 is 64 lower-case hex digits")
        for name in ("size", "limit"):
            value = entry.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise MalformedReport(f"an omitted file's {name} is a whole number of bytes")
    return list(entries)
