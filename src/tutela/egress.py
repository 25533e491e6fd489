"""Where the node may send a request on a platform's word (its webhook URLs): never to this
machine or a private network (SSRF), unless the operator allows it (TUTELA_WEBHOOK_ALLOW_PRIVATE).

A webhook's host is checked twice. When a platform registers it (`refuse_private_host`): a
literal private address, `localhost`, or a name that resolves to a private address is refused.
When each request is made (`PinnedTransport`): the name is resolved again, every address it
resolves to must be public, and the connection goes to one of exactly those checked addresses, so
a name that resolves to a public address at registration and to a private one later (DNS
rebinding) cannot reach the node's neighbours. TLS is still verified against the name.

Refused: loopback, private (RFC 1918, ULA), link-local (cloud metadata at 169.254.169.254),
shared (100.64/10), unspecified, multicast and reserved addresses, and IPv6 addresses that embed
such an IPv4 address (::ffff:10.0.0.1, 6to4, NAT64).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence

import httpcore
import httpx

from tutela.errors import RefusedTarget

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) → the addresses a TCP connection to it may use; OSError when it does not resolve.
Resolver = Callable[[str, int], Sequence[Address]]
TIMEOUT_S = 10.0
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own
# Well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address a gateway connects to.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def system_resolve(host: str, port: int) -> list[Address]:
    """The addresses the system's resolver gives for `host` (in its order, each once)."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def resolve(host: str, port: int) -> Sequence[Address]:
    """The resolver every check uses (tests replace it: they never need the internet)."""
    return system_resolve(host, port)


def is_private(address: Address) -> bool:
    """True for any address a platform must not make the node connect to."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_private(embedded):
            return True
    return not address.is_global or address.is_multicast or address.is_reserved


def is_local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def public_addresses(host: str, port: int) -> list[Address]:
    """The addresses `host` resolves to, when every one of them is public.

    RefusedTarget when any is not (a name with one private address among public ones could
    still reach the private one); httpcore.ConnectError when the name does not resolve (that
    may pass: the delivery is tried again later)."""
    if is_local_name(host):
        raise RefusedTarget(f"webhook host {host!r} is this machine (localhost)")
    try:
        addresses = list(resolve(host, port))
    except (OSError, UnicodeError) as error:
        raise httpcore.ConnectError(
            f"webhook host does not resolve: {type(error).__name__}"
        ) from None
    if not addresses:
        raise httpcore.ConnectError("webhook host resolves to no address")
    refused = [str(a) for a in addresses if is_private(a)]
    if refused:
        raise RefusedTarget(
            f"webhook host {host!r} resolves to a loopback, private, link-local or reserved "
            f"address ({', '.join(refused)}); TUTELA_WEBHOOK_ALLOW_PRIVATE=1 allows it"
        )
    return addresses


def refuse_private_host(host: str, port: int) -> None:
    """At registration: refuse a literal private address, `localhost`, or a name resolving to a
    private address. A name that does not resolve yet is let through (its receiver may not be
    in DNS yet); every delivery checks it again (PinnedTransport)."""
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if is_private(literal):
            raise RefusedTarget(
                f"webhook url must not point at a private, loopback or reserved address ({host})"
            )
        return
    try:
        public_addresses(host, port)
    except httpcore.ConnectError:
        return


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to public addresses of the requested host, resolved and
    checked here, and connects to the checked address itself (no second lookup)."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in public_addresses(host, port):
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None, "public_addresses returns at least one address"
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise RefusedTarget("webhooks are not delivered to local sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with its connections opened by a PinnedBackend. No proxy: a proxy
    would resolve the name itself, out of this check's reach."""

    def __init__(
        self,
        *,
        verify: bool = True,
        limits: httpx.Limits = LIMITS,
        backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx takes no network backend; its pool is rebuilt with one (checked by the tests).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(backend),
        )
