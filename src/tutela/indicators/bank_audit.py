"""Audit entries for changes to banks: a bank decides what uploads are flagged, so who created,
switched, re-tuned, filled, fetched or deleted one is recorded with the change itself."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tutela.audit.log import Subject, record

SUBJECT_TYPE = "bank"


class BankAction(StrEnum):
    CREATE = "bank_create"
    DELETE = "bank_delete"
    ENABLE = "bank_enable"
    DISABLE = "bank_disable"
    THRESHOLDS = "bank_thresholds"
    IMPORT = "bank_import"
    ADD_MEDIA = "bank_add_media"
    FETCH = "bank_fetch"
    SUBSCRIBE = "bank_subscribe"


def record_bank_change(
    session: Session,
    actor: str,
    action: BankAction,
    bank_name: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """One audit entry, in the caller's transaction: it commits (or not) with the change."""
    record(session, actor, action.value, Subject(SUBJECT_TYPE, bank_name), details)


def record_fetched_page(
    session: Session,
    actor: str,
    bank_name: str,
    exchange: str,
    *,
    entries: int,
    added: int,
    removed: int,
) -> None:
    """A page fetched from an exchange, in the page's own transaction (each page commits alone,
    so that an interrupted fetch resumes; its entry commits with it)."""
    details = {"exchange": exchange, "entries": entries, "added": added, "removed": removed}
    record_bank_change(session, actor, BankAction.FETCH, bank_name, details)
