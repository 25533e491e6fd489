"""Tutela's one error tree: every failure a user can meet has a stable machine code and a status.

    TutelaError                      code             status
    ├── MediaError                   (untrusted bytes could not become pixels)
    │   ├── EmptyMedia               empty             422
    │   ├── UnsupportedFormat        unsupported_format 415
    │   ├── CorruptMedia             corrupt           422
    │   │   └── TruncatedMedia       truncated         422
    │   ├── MediaTooLarge            too_large         413
    │   └── DecodeTimeout            timeout           422
    ├── InvalidInput                 invalid_input     422
    │   ├── InvalidHash              invalid_hash      422
    │   ├── IncompleteReport         incomplete_report 422
    │   ├── MalformedReport          malformed_report  422
    │   ├── IncompleteOrder          incomplete_order  422
    │   ├── UnknownItem              unknown_item      422
    │   └── RequestTooLarge          too_large         413
    ├── Unauthorized                 unauthorized      401
    │   ├── InvalidSignature         invalid_signature 401
    │   │   └── StaleSignature       stale_signature   401
    │   ├── UnknownProvider          unknown_provider  401
    │   ├── UnknownRequester         unknown_requester 401
    │   ├── UnknownAuthority         unknown_authority 401
    │   └── TooManyAttempts          too_many_attempts 429
    ├── Forbidden                    forbidden         403
    │   └── CsrfRejected             csrf_rejected     403
    ├── NotFound                     not_found         404
    │   └── EvidenceExpired          expired           410
    ├── MethodNotAllowed             method_not_allowed 405
    ├── NotSupported                 not_supported     400
    ├── RequestTimeout               request_timeout   408
    ├── Unreadable                   unreadable        422
    ├── Unprocessable                unprocessable     422
    ├── Conflict                     conflict          409
    ├── ConfigurationError           configuration     500
    ├── InternalError                internal          500
    ├── TamperedData                 tampered          500
    └── DeliveryError                delivery_failed   502
        ├── TransientDeliveryError   delivery_retry    503
        └── PermanentDeliveryError   delivery_rejected 502
            └── RefusedTarget        refused_target    502

The API renders these as RFC 9457 problem details, the CLI as one line and an exit code.
Messages never carry content bytes (DESIGN ground rule 2).
"""

from __future__ import annotations

from typing import ClassVar


class TutelaError(Exception):
    """Root of every error Tutela raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class MediaError(TutelaError):
    """Untrusted bytes could not be turned into pixels."""

    code = "media_error"
    status = 422


class EmptyMedia(MediaError):
    """The file has no bytes."""

    code = "empty"


class UnsupportedFormat(MediaError):
    """Not an image or video format Tutela decodes, judged by the content, never the name."""

    code = "unsupported_format"
    status = 415


class CorruptMedia(MediaError):
    """The bytes claim a supported format but do not decode (or the decoder failed on them)."""

    code = "corrupt"


class TruncatedMedia(CorruptMedia):
    """A video that ends before its header says it does, or whose decoding broke off part way:
    the frames it held are hashed and matched, and the result carries this error beside them."""

    code = "truncated"


class MediaTooLarge(MediaError):
    """Over a size limit: bytes, pixels from the header, video length, or a worker's memory."""

    code = "too_large"
    status = 413


class DecodeTimeout(MediaError):
    """Decoding ran past its time limit; the worker was stopped."""

    code = "timeout"


class InvalidInput(TutelaError):
    """A request or command argument that is malformed or out of range."""

    code = "invalid_input"
    status = 422


class InvalidHash(InvalidInput):
    """A hash that is not of its signal type's form (e.g. PDQ: 64 hex digits)."""

    code = "invalid_hash"


class IncompleteReport(InvalidInput):
    """A report lacks fields the law requires (Art 13, Annex III); `missing` lists them."""

    code = "incomplete_report"

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class MalformedReport(InvalidInput):
    """A validly signed report or message the receiver cannot take as it is: a field too long or
    of the wrong type, JSON nested too deeply. Refused before anything is written."""

    code = "malformed_report"


class IncompleteOrder(InvalidInput):
    """An order lacks fields its template requires (Annex IV); `missing` lists them."""

    code = "incomplete_order"

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


class UnknownItem(InvalidInput):
    """An order names an item the provider does not hold."""

    code = "unknown_item"


class RequestTooLarge(InvalidInput):
    """A request body past the receiver's limit, refused while it streams in."""

    code = "too_large"
    status = 413


class Unauthorized(TutelaError):
    """No credentials, or credentials that match no active key."""

    code = "unauthorized"
    status = 401


class InvalidSignature(Unauthorized):
    """A signed message whose signature does not verify against the sender's registered key."""

    code = "invalid_signature"


class StaleSignature(InvalidSignature):
    """A signed message whose signing time lies outside the receiver's window (replays of old
    messages, clocks far off): TUTELA_SIGNED_MESSAGE_MAX_AGE_S and _MAX_SKEW_S."""

    code = "stale_signature"


class UnknownProvider(Unauthorized):
    """A signed message from a key no registered provider holds."""

    code = "unknown_provider"


class UnknownRequester(Unauthorized):
    """No registered authority or hotline holds the key a victim's request is signed with."""

    code = "unknown_requester"


class UnknownAuthority(Unauthorized):
    """A signed order from a key no registered authority holds."""

    code = "unknown_authority"


class TooManyAttempts(Unauthorized):
    """Logins refused for a while after repeated failures, per account or per client address."""

    code = "too_many_attempts"
    status = 429


class Forbidden(TutelaError):
    """Valid credentials that lack the scope the request needs."""

    code = "forbidden"
    status = 403


class CsrfRejected(Forbidden):
    """A state-changing request without the CSRF token of its session."""

    code = "csrf_rejected"


class NotFound(TutelaError):
    """No such object (or not one the caller may see)."""

    code = "not_found"
    status = 404


class EvidenceExpired(NotFound):
    """Preserved evidence whose retention ran out and which was destroyed (Art 22(2))."""

    code = "expired"
    status = 410


class MethodNotAllowed(TutelaError):
    """A path that exists, asked with a method it does not answer."""

    code = "method_not_allowed"
    status = 405


class NotSupported(TutelaError):
    """A request another system's API takes (HMA's, under /hma) that Tutela deliberately does
    not serve, e.g. fetching content from a URL; the message says what to do instead."""

    code = "not_supported"
    # A client error, not a server fault: the same request will never be served.
    status = 400


class RequestTimeout(TutelaError):
    """A client too slow to send its request (headers or body), cut off: TUTELA_HTTP_*_TIMEOUT_S."""

    code = "request_timeout"
    status = 408


class Unreadable(TutelaError):
    """A local file exists but could not be read (permissions, a directory, an I/O error)."""

    code = "unreadable"
    status = 422


class Unprocessable(TutelaError):
    """An item whose processing failed too often (its job was claimed again and again, each time
    killing or stalling its worker); it is given this error verdict instead of another try."""

    code = "unprocessable"
    status = 422


class Conflict(TutelaError):
    """The change contradicts the current state (a duplicate, or a step already taken)."""

    code = "conflict"
    status = 409


class ConfigurationError(TutelaError):
    """The node's settings or environment are wrong (a bad setting, a missing key)."""

    code = "configuration"
    status = 500


class InternalError(TutelaError):
    """A failure the node did not expect (a defect): the request's transaction was rolled back,
    and the answer says no more than this."""

    code = "internal"
    status = 500


class TamperedData(TutelaError):
    """Stored data failed its integrity check: encrypted evidence that does not authenticate."""

    code = "tampered"
    status = 500


class DeliveryError(TutelaError):
    """A message to another node (centre, NCMEC, an authority) could not be delivered.

    `status_code` is the receiver's HTTP answer when one came; `retry_after_s` what its
    Retry-After asked for (tutela.messaging.retry)."""

    code = "delivery_failed"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class TransientDeliveryError(DeliveryError):
    """Worth trying again later: a timeout, a dropped connection, a 5xx or 429 answer."""

    code = "delivery_retry"
    status = 503


class PermanentDeliveryError(DeliveryError):
    """The receiver rejected the message; sending it again cannot help."""

    code = "delivery_rejected"


class RefusedTarget(PermanentDeliveryError):
    """A platform's webhook names this machine or a private network (SSRF), by its address or
    by a name that resolves there: never connected to (tutela.egress)."""

    code = "refused_target"


MEDIA_ERRORS_BY_CODE: dict[str, type[MediaError]] = {
    cls.code: cls
    for cls in (
        EmptyMedia,
        UnsupportedFormat,
        CorruptMedia,
        TruncatedMedia,
        MediaTooLarge,
        DecodeTimeout,
    )
}
