"""Tutela's one error tree: every failure a user can meet has a stable machine code and a status.

    TutelaError                      code             status
    ├── MediaError                   (untrusted bytes could not become pixels)
    │   ├── EmptyMedia               empty             422
    │   ├── UnsupportedFormat        unsupported_format 415
    │   ├── CorruptMedia             corrupt           422
    │   ├── MediaTooLarge            too_large         413
    │   └── DecodeTimeout            timeout           422
    ├── InvalidInput                 invalid_input     422
    │   └── InvalidHash              invalid_hash      422
    ├── NotFound                     not_found         404
    ├── Unreadable                   unreadable        422
    ├── Conflict                     conflict          409
    └── ConfigurationError           configuration     500

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
    code = "empty"


class UnsupportedFormat(MediaError):
    code = "unsupported_format"
    status = 415


class CorruptMedia(MediaError):
    code = "corrupt"


class MediaTooLarge(MediaError):
    code = "too_large"
    status = 413


class DecodeTimeout(MediaError):
    code = "timeout"


class InvalidInput(TutelaError):
    code = "invalid_input"
    status = 422


class InvalidHash(InvalidInput):
    code = "invalid_hash"


class NotFound(TutelaError):
    code = "not_found"
    status = 404


class Unreadable(TutelaError):
    """A local file exists but could not be read (permissions, a directory, an I/O error)."""

    code = "unreadable"
    status = 422


class Conflict(TutelaError):
    code = "conflict"
    status = 409


class ConfigurationError(TutelaError):
    code = "configuration"
    status = 500


MEDIA_ERRORS_BY_CODE: dict[str, type[MediaError]] = {
    cls.code: cls
    for cls in (EmptyMedia, UnsupportedFormat, CorruptMedia, MediaTooLarge, DecodeTimeout)
}
