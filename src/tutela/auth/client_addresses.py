"""Who is on the other end of a request: the connecting address, or, when that is a reverse proxy
the operator named (TUTELA_TRUSTED_PROXIES), the client its X-Forwarded-For header names. A header
from anyone else is ignored: a client could write any address into it to dodge a login limit or
to get someone else's address locked."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]
) -> str | None:
    """The client's address. X-Forwarded-For is read from the right (each proxy appends the
    address it saw): the first address that is not itself a trusted proxy is the client."""
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]
    if peer is None or not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_address(hop):
            return peer  # a malformed chain names nobody we can believe
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
