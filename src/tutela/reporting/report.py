"""Builds the report to the EU Centre from one decided case, and says what it still lacks.

The report is a plain JSON object; its layout follows Art 13(1)(a)-(k) and Annex III, and each
part names the article it answers. `missing_fields` works on the JSON form so that the centre can
run the same check on what it receives.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tutela.errors import IncompleteReport
from tutela.reporting.fields import ProviderIdentity, ReportInput

SCHEMA = "tutela.report/1"
# Location data Art 13(1)(f) names; those the provider does not hold are listed as unavailable.
LOCATION_FIELDS = ("upload_ip", "upload_port", "uploaded_at", "time_zone")
# Namespace of report ids: the same provider and case always give the same id, so a rebuilt
# report is recognised as the same one by every receiver.
REPORT_NAMESPACE = uuid.UUID("6f1d3a52-1c1e-4d3c-9a57-0b7f3e1e2a10")


@dataclass(frozen=True, slots=True)
class MissingField:
    path: str
    article: str

    def __str__(self) -> str:
        return f"{self.path} ({self.article})"


# (path in the report, the article that asks for it). A path names a value that must be present
# and not empty; "users[].unique_id" means every listed user needs one. The upload's port is not
# here: Art 13(1)(f) asks for location data "where available", and a platform that never saw the
# port cannot report it; `location.unavailable` names what the report lacks for that reason.
REQUIRED: tuple[tuple[str, str], ...] = (
    ("provider.name", "Art 13(1)(a)"),
    ("provider.legal_representative", "Art 13(1)(a)"),
    ("provider.point_of_contact", "Art 13(1)(a)"),
    ("created_at", "Art 13(1)(b)"),
    ("content.hashes", "Art 13(1)(c)"),
    ("metadata.item_id", "Art 13(1)(d)"),
    ("kind", "Art 13(1)(e)"),
    ("location.upload_ip", "Art 13(1)(f)"),
    ("location.uploaded_at", "Art 13(1)(f)"),
    ("location.time_zone", "Art 13(1)(f)"),
    ("users", "Art 13(1)(g)"),
    ("users[].unique_id", "Art 13(1)(g)"),
    ("removal.removed", "Art 13(1)(i)"),
    ("urgency.urgent", "Art 13(1)(j)"),
    ("legal_basis", "Art 13(1)(k)"),
    ("awareness", "Annex III"),
    ("decision.by", "Art 12(1)"),
)


def report_id_for(provider: ProviderIdentity, case_id: int) -> str:
    return str(uuid.uuid5(REPORT_NAMESPACE, f"{provider.name}\x00{case_id}"))


def build_report(source: ReportInput, provider: ProviderIdentity, now: datetime) -> dict[str, Any]:
    """The report as JSON-ready data; nothing is checked here (see `missing_fields`)."""
    item = source.item
    user = _drop_none(
        {
            "unique_id": item.account_id,
            "username": item.username,
            "email": item.email,
            "phone": item.phone,
            "last_login_at": _time(item.last_login_at),
        }
    )
    location = _drop_none(
        {
            "upload_ip": item.upload_ip,
            "upload_port": item.upload_port,
            "uploaded_at": _time(item.uploaded_at),
            "time_zone": _zone(item.uploaded_at),
            "geo": dict(item.geo) or None,
        }
    )
    unavailable = [name for name in LOCATION_FIELDS if name not in location]
    if unavailable:
        location["unavailable"] = unavailable
    return {
        "schema": SCHEMA,
        "report_id": report_id_for(provider, source.case_id),
        "provider": {  # Art 13(1)(a)
            "name": provider.name,
            "legal_representative": provider.legal_representative,
            "point_of_contact": provider.point_of_contact,
            "country": provider.country,
        },
        "created_at": _time(now),  # Art 13(1)(b); the signature adds its own signed time stamp
        "content": {  # Art 13(1)(c)
            "hashes": _hashes(source),
            "files": [
                {
                    "media_type": f.media_type,
                    "sha256": hashlib.sha256(f.data).hexdigest(),
                    "data": base64.b64encode(f.data).decode("ascii"),
                }
                for f in source.content
            ],
            # A file left out (a video too large to attach) is named, with why: never silence.
            **({"omitted": [f.as_dict() for f in source.omitted]} if source.omitted else {}),
        },
        "metadata": _drop_none(  # Art 13(1)(d): media date/time keep their own time zone
            {
                "item_id": item.item_ref,
                "url": item.url,
                "service": item.service,
                "content_created_at": _time(item.content_created_at),
                "content_modified_at": _time(item.content_modified_at),
            }
        ),
        "kind": source.kind.value,  # Art 13(1)(e)
        "location": location,  # Art 13(1)(f), "where available"
        "users": [user] if user else [],  # Art 13(1)(g)
        # Art 13(1)(h): a case number not known yet (NCMEC's comes with its answer) is left out
        # here and follows in a report update (tutela.reporting.report_updates).
        "reported_elsewhere": elsewhere_entries(source.reported_elsewhere),
        "removal": _drop_none(  # Art 13(1)(i)
            {"removed": source.removed, "at": _time(source.removed_at)}
        ),
        "urgency": {"urgent": source.urgent, "reason": source.urgent_reason},  # Art 13(1)(j)
        "legal_basis": source.legal_basis,  # Art 13(1)(k)
        "awareness": source.awareness.value,  # Annex III
        # Art 7-11: the detection order (or voluntary basis) the matches ran under.
        **({"detection_basis": dict(source.detection_basis)} if source.detection_basis else {}),
        "account_measures": list(source.account_measures),  # Annex III
        "victim_identifiers": list(source.victim_identifiers),  # Annex III
        "free_text": source.free_text,  # Annex III
        "matches": [
            {
                "bank": m.bank,
                "indicator_id": m.indicator_id,
                "signal_type": m.signal_type,
                "value": m.value,
                "distance": m.distance,
                # A video: which frames matched, when they are shown, and their PDQ hashes.
                **({"video": dict(m.video)} if m.video is not None else {}),
            }
            for m in source.matches
        ],
        # Art 12(1) and DESIGN rule 3: a person decided that this is reported.
        "decision": {
            "by": source.decided_by,
            "at": _time(source.decided_at),
            "case_id": source.case_id,
        },
    }


def elsewhere_entries(reported: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Art 13(1)(h) entries: the organisation, and its case number when known."""
    return [
        {"organisation": org, "case_number": number} if number else {"organisation": org}
        for org, number in reported
    ]


def missing_fields(report: Mapping[str, Any]) -> list[MissingField]:
    """Every required field the report lacks, by article, in the order of `REQUIRED`."""
    missing = []
    for path, article in REQUIRED:
        if path.startswith("users[]."):
            users = report.get("users") or []
            key = path.removeprefix("users[].")
            if not isinstance(users, list) or any(
                not isinstance(u, Mapping) or _empty(u.get(key)) for u in users
            ):
                missing.append(MissingField(path, article))
        elif _empty(_lookup(report, path)):
            missing.append(MissingField(path, article))
    return missing


def require_complete(report: Mapping[str, Any]) -> None:
    """Raise `IncompleteReport` naming every missing field; a report is sent only when whole."""
    missing = missing_fields(report)
    if missing:
        names = tuple(str(m) for m in missing)
        raise IncompleteReport("the report lacks required fields: " + ", ".join(names), names)


def _hashes(source: ReportInput) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for signal_type, value in source.signals.items():
        seen[(signal_type, value.lower())] = None
    for match in source.matches:
        seen.setdefault((match.signal_type, match.value.lower()), None)
    return [{"signal_type": s, "value": v} for s, v in seen]


def signable(value: Any) -> Any:
    """The report as it is signed: a video match's shares and frame times (floats) as decimal
    text, since canonical JSON, which a signed report is, carries no floating-point numbers."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): signable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [signable(v) for v in value]
    return value


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise IncompleteReport("a report time lacks its time zone", ("time zone",))
    return value.isoformat()


def _zone(value: datetime | None) -> str | None:
    if value is None or value.tzinfo is None:
        return None
    offset = value.strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"
