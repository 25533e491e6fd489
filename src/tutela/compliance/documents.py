"""What provider and authority agree on about compliance documents: the kinds of signed message
(`tutela.reporting.messages`), the path the authority takes them at, each document's
idempotency key (derived from the document, so that a key cannot be reused for another one),
and the checks of a payload's shape that the authority makes before it stores anything."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tutela.errors import InvalidInput
from tutela.messaging.canonical import canonical_json
from tutela.risk.art5_report import DOCUMENT_TYPE
from tutela.transparency.periods import FIRST_YEAR, LAST_YEAR

RISK_REPORT = DOCUMENT_TYPE  # Art 5(1): the risk assessment and mitigation measures
YEARLY_FIGURES = "csa_yearly_figures"  # Art 83(2): the provider's yearly figures
KINDS = frozenset({RISK_REPORT, YEARLY_FIGURES})
# Where the authority node takes them, under its base URL (TUTELA_COORDINATING_AUTHORITY_URL).
COMPLIANCE_PATH = "/v1/compliance-documents"
SERVICE_MAX = 128


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What a compliance document is about: a service's assessment version, or a year."""

    kind: str
    service: str | None = None
    version: int | None = None
    year: int | None = None


def risk_report_key(service: str, version: int) -> str:
    """One key per assessment version: sending it again queues and stores nothing new."""
    digest = hashlib.sha256(service.encode("utf-8")).hexdigest()[:24]
    return f"art5:{digest}:v{version}"


def figures_key(year: int, figures: dict[str, Any]) -> str:
    """One key per year and set of figures: corrected figures of a year travel as a new
    document, the same figures sent twice as one."""
    digest = hashlib.sha256(canonical_json(figures)).hexdigest()[:32]
    return f"figures:{year}:{digest}"


def without_floats(value: Any) -> Any:
    """`value` with every float written as its shortest decimal string ("0.125"): canonical
    JSON carries no floating-point numbers, and the figures' rates and bounds are floats (already
    rounded to six places, so the string is short and the same on every machine)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {key: without_floats(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [without_floats(inner) for inner in value]
    return value


def read_document(kind: str, idempotency_key: str, payload: dict[str, Any]) -> DocumentFacts:
    """The facts of a compliance document, or `InvalidInput` naming what is wrong with it."""
    if kind not in KINDS:
        raise InvalidInput(f"a compliance document is {' or '.join(sorted(KINDS))}, not {kind!r}")
    if payload.get("type") != kind:
        raise InvalidInput("the document's type is not the message's kind")
    _provider(payload.get("provider"))
    if kind == RISK_REPORT:
        facts = _risk_report(payload)
        assert facts.service is not None and facts.version is not None
        expected = risk_report_key(facts.service, facts.version)
    else:
        facts = _yearly_figures(payload)
        assert facts.year is not None
        expected = figures_key(facts.year, payload["figures"])
    if idempotency_key != expected:
        raise InvalidInput("the document's idempotency key is not the one its content implies")
    return facts


def _provider(value: Any) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise InvalidInput("the document names its provider")


def _risk_report(payload: dict[str, Any]) -> DocumentFacts:
    service, version = payload.get("service"), payload.get("version")
    if not isinstance(service, str) or not 0 < len(service) <= SERVICE_MAX:
        raise InvalidInput(f"a risk report names its service in 1 to {SERVICE_MAX} characters")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput("a risk report names the assessment's version, a positive number")
    _timestamp(payload.get("signed_off_at"), "signed_off_at")
    _timestamp(payload.get("reassess_by"), "reassess_by")
    if not isinstance(payload.get("assessment"), dict):
        raise InvalidInput("a risk report holds its assessment")
    if not isinstance(payload.get("mitigation_measures"), list):
        raise InvalidInput("a risk report lists its mitigation measures")
    return DocumentFacts(RISK_REPORT, service=service, version=version)


def _yearly_figures(payload: dict[str, Any]) -> DocumentFacts:
    year, figures = payload.get("year"), payload.get("figures")
    if not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"the figures' year lies between {FIRST_YEAR} and {LAST_YEAR}")
    if not isinstance(figures, dict) or figures.get("kind") != "provider":
        raise InvalidInput("yearly figures hold a provider's figures")
    if figures.get("year") != year:
        raise InvalidInput("the figures are of another year than the document says")
    if not isinstance(payload.get("complete"), bool):
        raise InvalidInput("yearly figures say whether their year had ended (complete)")
    return DocumentFacts(YEARLY_FIGURES, year=year)


def _timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{name} is an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is an ISO 8601 time") from None
    if at.tzinfo is None:
        raise InvalidInput(f"{name} carries its time zone")
    return at
