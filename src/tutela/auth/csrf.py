"""CSRF tokens bound to a console session: an HMAC of the session token, so that a page from
another site, which cannot read the session cookie, cannot produce one."""

from __future__ import annotations

import base64
import hashlib
import hmac

from tutela.errors import CsrfRejected

PURPOSE = b"tutela-csrf-v1"


def issue_csrf_token(session_token: str) -> str:
    """The token a page embeds in its forms; the same for the whole life of the session."""
    digest = hmac.new(session_token.encode(), PURPOSE, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_csrf_token(session_token: str, submitted: str | None) -> None:
    """CsrfRejected unless `submitted` is this session's token (compared in constant time)."""
    if not submitted or not hmac.compare_digest(issue_csrf_token(session_token), submitted):
        raise CsrfRejected("the form's CSRF token is missing or belongs to another session")
