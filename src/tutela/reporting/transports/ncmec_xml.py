"""CyberTipline Reporting API documents: the `<report>` and `<fileDetails>` XML, built in schema
order, and the `<reportResponse>` answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from tutela.errors import PermanentDeliveryError, TransientDeliveryError

# The API's incident types for the report kinds (Art 13(1)(e)).
INCIDENT_TYPES = {
    "known": "Child Pornography (possession, manufacture, and distribution)",
    "new": "Child Pornography (possession, manufacture, and distribution)",
    "solicitation": "Online Enticement of Children for Sexual Acts",
}
INDUSTRY_CLASSIFICATIONS = frozenset({"A1", "A2", "B1", "B2"})
HASH_TYPES = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256"}


def report_xml(report: Mapping[str, Any], prior_report_ids: Sequence[str] = ()) -> bytes:
    root = ET.Element("report")
    summary = _child(root, "incidentSummary")
    _text(summary, "incidentType", INCIDENT_TYPES[str(report["kind"])])
    urgency = report.get("urgency") or {}
    if urgency.get("urgent"):
        # Art 13(1)(j): an imminent threat escalates the report at NCMEC too.
        _text(summary, "escalateToHighPriority", urgency.get("reason") or "Imminent risk")
    location = report.get("location") or {}
    when = location.get("uploaded_at") or report["created_at"]
    _text(summary, "incidentDateTime", when)

    metadata = report.get("metadata") or {}
    if metadata.get("url"):
        page = _child(_child(root, "internetDetails"), "webPageIncident")
        _text(page, "url", metadata["url"])

    provider = report["provider"]
    reporter = _child(root, "reporter")
    _text(_child(reporter, "reportingPerson"), "email", provider["point_of_contact"])
    _text(
        reporter,
        "companyTemplate",
        f"{provider['name']}; legal representative: {provider['legal_representative']}",
    )

    users = report.get("users") or []
    if users or location:
        _person(root, users[0] if users else {}, metadata, location, prior_report_ids)
    info = "\n".join(
        part for part in [str(report.get("free_text") or ""), *video_lines(report)] if part
    )
    if info:
        _text(root, "additionalInfo", info)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def video_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per video match of the report: the CyberTipline has no field for vPDQ, so its
    shares and the matched frames (time, PDQ, distance) go to the report's additional info."""
    lines = []
    for match in report.get("matches") or []:
        video = match.get("video") if isinstance(match, Mapping) else None
        if not isinstance(video, Mapping):
            continue
        shares = [
            f"{video[key]} % of the {whose} frames"
            for key, whose in (
                ("query_match_percent", "file's"),
                ("compared_match_percent", "listed video's"),
            )
            if video.get(key) is not None
        ]
        frames = [
            f"{frame.get('time')} s"
            + (f" PDQ {frame['pdq']}" if frame.get("pdq") else "")
            + f" (distance {frame.get('distance')})"
            for frame in video.get("frames") or []
            if isinstance(frame, Mapping)
        ]
        lines.append(
            f"Video match ({match.get('signal_type')}, list {match.get('bank')}, "
            f"indicator {match.get('indicator_id')})"
            + (": " + ", ".join(shares) if shares else "")
            + f"; {video.get('matched_frames', len(frames))} matched frames, at "
            + "; ".join(frames)
        )
    return lines


def file_details_xml(
    report_id: str,
    file_id: str,
    hashes: Sequence[Mapping[str, str]],
    classification: str | None,
    location_of_file: str | None,
) -> bytes:
    root = ET.Element("fileDetails")
    _text(root, "reportId", report_id)
    _text(root, "fileId", file_id)
    if location_of_file:
        _text(root, "locationOfFile", location_of_file)
    # DESIGN rule 3: a person looked at the match before anything is reported.
    _text(root, "fileViewedByEsp", "true")
    if classification:
        if classification not in INDUSTRY_CLASSIFICATIONS:
            raise PermanentDeliveryError(f"unknown industry classification {classification!r}")
        _text(root, "industryClassification", classification)
    for entry in hashes:
        hash_type = HASH_TYPES.get(entry["signal_type"])
        if hash_type:
            _text(root, "originalFileHash", entry["value"]).set("hashType", hash_type)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def parse_response(body: bytes, *, want: str | None = None) -> dict[str, str]:
    """The fields of a `<reportResponse>`; a non-zero responseCode is a refusal."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise TransientDeliveryError("NCMEC answered something that is not XML") from None
    fields = {child.tag: (child.text or "").strip() for child in root}
    code = fields.get("responseCode", "")
    if code != "0":
        raise PermanentDeliveryError(f"NCMEC refused the request (responseCode {code or 'none'})")
    if want and not fields.get(want):
        raise PermanentDeliveryError(f"NCMEC's answer lacks {want}")
    return fields


def _person(
    root: ET.Element,
    user: Mapping[str, Any],
    metadata: Mapping[str, Any],
    location: Mapping[str, Any],
    prior_report_ids: Sequence[str],
) -> None:
    reported = _child(root, "personOrUserReported")
    if user.get("email") or user.get("phone"):
        person = _child(reported, "personOrUserReportedPerson")
        if user.get("phone"):
            _text(person, "phone", user["phone"])
        if user.get("email"):
            _text(person, "email", user["email"])
    if user.get("unique_id"):
        _text(reported, "espIdentifier", user["unique_id"])
    if metadata.get("service"):
        _text(reported, "espService", metadata["service"])
    if user.get("username"):
        _text(reported, "screenName", user["username"])
    if location.get("upload_ip"):
        capture = _child(reported, "ipCaptureEvent")
        _text(capture, "ipAddress", location["upload_ip"])
        _text(capture, "eventName", "Upload")
        if location.get("uploaded_at"):
            _text(capture, "dateTime", location["uploaded_at"])
        if location.get("upload_port") is not None:
            # Art 13(1)(f): behind carrier-grade NAT the address alone names no one.
            _text(capture, "port", str(location["upload_port"]))
    for prior in prior_report_ids:
        _text(reported, "priorCTReports", prior)


def _child(parent: ET.Element, tag: str) -> ET.Element:
    return ET.SubElement(parent, tag)


def _text(parent: ET.Element, tag: str, value: Any) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value)
    return element
