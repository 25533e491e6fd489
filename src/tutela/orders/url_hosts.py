"""What DNS can block of a URL: its host. A URL on the Centre's list is http(s) with a host;
the host is lower-cased, stripped of a trailing dot and IDNA-encoded (`bücher.example` →
`xn--bcher-kva.example`), as a resolver sees it. A URL whose host is an IP address names no
DNS name: DNS never sees it, so it is in the plain URL export but not in the RPZ zone."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from tutela.errors import InvalidInput

URL_MAX = 2048
LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True, slots=True)
class UrlHost:
    host: str
    # True for an IP address: no DNS name to block.
    is_address: bool


def host_of(url: str) -> UrlHost:
    """The host a listed URL names; `InvalidInput` for anything but an absolute http(s) URL."""
    if not url or len(url) > URL_MAX or any(ord(c) < 33 for c in url):
        raise InvalidInput(f"a listed URL is 1 to {URL_MAX} characters without spaces")
    try:
        parts = urlsplit(url)
        raw = parts.hostname or ""
    except ValueError:
        raise InvalidInput("the URL cannot be read") from None
    if parts.scheme not in ("http", "https") or not raw:
        raise InvalidInput("a listed URL is an absolute http(s) URL with a host")
    try:
        return UrlHost(str(ipaddress.ip_address(raw)), True)
    except ValueError:
        pass
    try:
        host = raw.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidInput("the URL's host is not a valid domain name") from None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(LABEL.match(label) for label in labels):
        raise InvalidInput("the URL's host is not a valid domain name")
    return UrlHost(host, False)
