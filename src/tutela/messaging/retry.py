"""One retry rule for every transport: which answers mean delivered, try again later, or never;
how long to wait before the next try (exponential backoff with jitter, or what the receiver's
Retry-After asked for, whichever is longer); and how many tries before a message is dead."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx

from tutela.clock import SystemClock
from tutela.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError

# Answers that say "later", not "never".
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
# A receiver may not push a retry further out than a day with Retry-After.
MAX_RETRY_AFTER_S = 24 * 3600.0


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one try came to. `error` names a status or an exception class, never a body (it
    could echo what was sent)."""

    verdict: Verdict
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def classify_response(response: httpx.Response) -> Answer:
    """2xx delivered; 408, 425, 429 and 500-504 retried, honouring Retry-After; any other answer
    (3xx included: redirects are not followed) refused for good."""
    status = response.status_code
    if 200 <= status < 300:
        return Answer(Verdict.DELIVERED, status)
    error = f"endpoint answered {status}"
    if status in RETRYABLE:
        after = retry_after_s(response.headers.get("Retry-After"), _answered_at(response))
        return Answer(Verdict.RETRY, status, error, after)
    return Answer(Verdict.PERMANENT, status, error)


def _answered_at(response: httpx.Response) -> datetime:
    """The receiver's own time (its Date header), against which an HTTP-date Retry-After is
    meant; this machine's clock when it sent none."""
    try:
        at = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        at = None
    if at is None or at.tzinfo is None:
        return SystemClock().now()
    return at


def classify_exception(error: BaseException) -> Answer:
    """A failure on the way (no answer came): always worth another try."""
    return Answer(Verdict.RETRY, None, type(error).__name__)


def raise_for(answer: Answer, where: str) -> None:
    """Raise the delivery error `answer` stands for (nothing when delivered); `where` names the
    request (method and path), never its body."""
    if answer.verdict is Verdict.DELIVERED:
        return
    if answer.status_code is not None:
        text = f"{where} answered {answer.status_code}"
    else:
        text = f"{where} failed: {answer.error}"
    cls = TransientDeliveryError if answer.verdict is Verdict.RETRY else PermanentDeliveryError
    raise cls(text, status_code=answer.status_code, retry_after_s=answer.retry_after_s)


def answer_of(error: DeliveryError) -> Answer:
    """The answer a transport's delivery error stands for."""
    verdict = Verdict.PERMANENT if isinstance(error, PermanentDeliveryError) else Verdict.RETRY
    return Answer(verdict, error.status_code, error.code, error.retry_after_s)


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delay-seconds or an HTTP date); None when
    absent or unreadable; bounded by MAX_RETRY_AFTER_S."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        return None
    return min(max(0.0, (at - now).total_seconds()), MAX_RETRY_AFTER_S)


@dataclass(frozen=True)
class RetryPolicy:
    """Tries and waits of one outbox: after the `n`-th failed try the wait lies between half and
    all of base·2^(n-1), capped at `max_s`, so that many senders do not retry in step; a
    receiver's Retry-After lengthens it. After `max_attempts` tries the message is dead."""

    max_attempts: int = 12
    base_s: float = 5.0
    max_s: float = 6 * 3600.0
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def backoff_s(self, attempts: int, retry_after: float | None = None) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))
        wait = float(ceiling * (0.5 + 0.5 * self.rng()))
        return max(wait, retry_after) if retry_after is not None else wait

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
