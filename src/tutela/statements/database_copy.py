"""The copy of a statement for the DSA Transparency Database, in the database's own API format
(https://transparency.dsa.ec.europa.eu/page/api-documentation, API v1): its field names, its
enumerations, dates as YYYY-MM-DD. Art 24(5) DSA: no personal data, so the copy holds none of
the user's or the item's identifiers, only the random `puid` and fixed texts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any


class ContentType(StrEnum):
    IMAGE = "CONTENT_TYPE_IMAGE"
    VIDEO = "CONTENT_TYPE_VIDEO"


class AccountMeasure(StrEnum):
    """`decision_account`: what happened to the uploader's account."""

    SUSPENDED = "DECISION_ACCOUNT_SUSPENDED"
    TERMINATED = "DECISION_ACCOUNT_TERMINATED"


class Source(StrEnum):
    """`source_type`: what led to the decision."""

    ARTICLE_16 = "SOURCE_ARTICLE_16"  # a notice by a user (Art 16 DSA)
    TRUSTED_FLAGGER = "SOURCE_TRUSTED_FLAGGER"
    OTHER_NOTIFICATION = "SOURCE_TYPE_OTHER_NOTIFICATION"  # an authority, an order
    VOLUNTARY = "SOURCE_VOLUNTARY"  # the provider's own detection


class AutomatedDecision(StrEnum):
    FULLY = "AUTOMATED_DECISION_FULLY"
    PARTIALLY = "AUTOMATED_DECISION_PARTIALLY"
    NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"


CONTENT_REMOVED = "DECISION_VISIBILITY_CONTENT_REMOVED"
ILLEGAL_CONTENT = "DECISION_GROUND_ILLEGAL_CONTENT"
PROTECTION_OF_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
CSAM_KEYWORD = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"
YES, NO = "Yes", "No"
# The database's limits on free text (characters) and on the puid's form.
FACTS_MAX = 5000
LEGAL_GROUND_MAX = 500
EXPLANATION_MAX = 2000
PUID_FORM = re.compile(r"^[a-zA-Z0-9_-]{1,500}$")
PUID_PREFIX = "tutela-sor-"
# The database accepts the countries of the EU and the EEA in `territorial_scope`.
EEA_COUNTRIES = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IS",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "NO",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]


def new_puid() -> str:
    """A fresh platform unique identifier: random, so it links to nothing about the user."""
    return PUID_PREFIX + uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class DatabaseFields:
    """What the database copy says, already free of personal data (the caller's duty: texts are
    fixed sentences, never user input or identifiers)."""

    puid: str
    content_type: ContentType
    content_date: date
    application_date: date
    account: AccountMeasure | None
    source: Source
    automated_detection: bool
    automated_decision: AutomatedDecision
    facts: str
    legal_ground: str
    explanation: str
    territorial_scope: tuple[str, ...] = tuple(EEA_COUNTRIES)


def database_copy(fields: DatabaseFields) -> dict[str, Any]:
    """The JSON body of one statement for `POST /api/v1/statement` (or one element of
    `statements` for `POST /api/v1/statements`)."""
    if not PUID_FORM.match(fields.puid):
        raise ValueError("a puid is 1-500 letters, digits, '-' or '_'")
    body: dict[str, Any] = {
        # Art 17(3)(a): the content is removed, and the account measure if there is one.
        "decision_visibility": [CONTENT_REMOVED],
        "decision_ground": ILLEGAL_CONTENT,
        "illegal_content_legal_ground": fields.legal_ground[:LEGAL_GROUND_MAX],
        "illegal_content_explanation": fields.explanation[:EXPLANATION_MAX],
        "category": PROTECTION_OF_MINORS,
        "category_specification": [CSAM_KEYWORD],
        "content_type": [fields.content_type.value],
        "territorial_scope": sorted(fields.territorial_scope),
        "content_date": fields.content_date.isoformat(),
        "application_date": fields.application_date.isoformat(),
        "decision_facts": fields.facts[:FACTS_MAX],
        "source_type": fields.source.value,
        "automated_detection": YES if fields.automated_detection else NO,
        "automated_decision": fields.automated_decision.value,
        "puid": fields.puid,
    }
    if fields.account is not None:
        body["decision_account"] = fields.account.value
    return body
