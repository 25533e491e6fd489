"""What blocking and delisting orders in force ask of this node, exported for the systems that
do the blocking: a DNS Response Policy Zone (RPZ) for BIND, Unbound or PowerDNS, and the plain
list of full URLs (for a proxy that can block a path, or a search engine's delisting).

DNS cannot block a path: for `https://host.example/a/b?c` the zone blocks the whole host
`host.example` (the name itself, not its subdomains), as a CNAME to the root (`CNAME .`, which
an RPZ resolver answers NXDOMAIN). A host named by several URLs is listed once; a URL whose host
is an IP address is not in the zone (DNS never sees it) and is counted in `skipped`. Only
blocking orders go into the zone; delisting orders concern search engines and go only into the
URL list. An order is in force from its receipt until its end: an export made after the end
leaves its URLs out, whether or not the timed step (`end_orders`) has marked it yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tutela.audit.log import SYSTEM, Subject, record
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.orders.access_models import ReceivedOrderUrl
from tutela.orders.models import ReceivedOrder
from tutela.orders.states import OrderKind, ReceivedState
from tutela.orders.url_hosts import host_of

DEFAULT_ZONE = "rpz.tutela"
# Short times: a new order, or one that ends, reaches the resolvers within minutes.
TTL_S = 60
REFRESH_S, RETRY_S, EXPIRE_S = 300, 60, 604800


@dataclass(frozen=True, slots=True)
class RpzExport:
    text: str
    hosts: tuple[str, ...]
    # URLs in force whose host is an IP address: not blockable by DNS.
    skipped: tuple[str, ...]


def urls_in_force(database: Database, kind: OrderKind, now: datetime) -> list[str]:
    """The URLs of `kind`'s orders in force at `now`, each once, in a stable order."""
    query = (
        select(ReceivedOrderUrl.url)
        .join(ReceivedOrder, ReceivedOrder.id == ReceivedOrderUrl.order_id)
        .where(
            ReceivedOrder.kind == kind,
            ReceivedOrder.state == ReceivedState.IN_FORCE,
            ReceivedOrder.ends_at > now,
        )
        .distinct()
        .order_by(ReceivedOrderUrl.url)
    )
    with database.reader() as session:
        return list(session.scalars(query))


def rpz_zone(urls: list[str], now: datetime, zone: str = DEFAULT_ZONE) -> RpzExport:
    """The RPZ zone that blocks the hosts of `urls` (see the module's docstring)."""
    zone = zone.strip(".").lower()
    hosts: set[str] = set()
    skipped: list[str] = []
    for url in urls:
        named = host_of(url)
        if named.is_address:
            skipped.append(url)
        else:
            hosts.add(named.host)
    ordered = tuple(sorted(hosts))
    # The serial is the export's time in seconds: later exports have larger serials (RFC 1982).
    serial = int(now.timestamp()) % (2**32)
    lines = [
        f"; Response Policy Zone of Tutela's blocking orders in force at {now.isoformat()}.",
        "; Each ordered URL's host answers NXDOMAIN; DNS cannot block a path.",
        f"$ORIGIN {zone}.",
        f"$TTL {TTL_S}",
        f"@ IN SOA localhost. hostmaster.localhost. "
        f"{serial} {REFRESH_S} {RETRY_S} {EXPIRE_S} {TTL_S}",
        "@ IN NS localhost.",
        *(f"{host} IN CNAME ." for host in ordered),
    ]
    return RpzExport("\n".join(lines) + "\n", ordered, tuple(skipped))


def export_rpz(
    database: Database, actor: str, zone: str = DEFAULT_ZONE, *, clock: Clock | None = None
) -> RpzExport:
    """The zone of the blocking orders in force now; the export is audited."""
    now = (clock or SystemClock()).now()
    export = rpz_zone(urls_in_force(database, OrderKind.BLOCKING, now), now, zone)
    _audit_export(database, actor, "rpz", len(export.hosts), now)
    return export


def export_urls(
    database: Database, actor: str, kind: OrderKind, *, clock: Clock | None = None
) -> list[str]:
    """The full URLs of `kind`'s orders in force now, one per line when written; audited."""
    now = (clock or SystemClock()).now()
    urls = urls_in_force(database, kind, now)
    _audit_export(database, actor, f"urls:{kind.value}", len(urls), now)
    return urls


def end_orders(database: Database, clock: Clock | None = None) -> list[int]:
    """The timed step: every order in force whose end has come is marked ended (audited), so
    its URLs leave the exports for good; their ids."""
    now = (clock or SystemClock()).now()
    ended = (ReceivedOrder.state == ReceivedState.IN_FORCE) & (ReceivedOrder.ends_at <= now)
    with database.reader() as session:
        if session.scalar(select(ReceivedOrder.id).where(ended).limit(1)) is None:
            return []  # the common case takes no write lock
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(ReceivedOrder).where(ended).with_for_update()))
        for row in rows:
            row.state, row.completed_at = ReceivedState.ENDED, now
            record(
                session,
                SYSTEM,
                "order_ended",
                Subject("order", str(row.id)),
                {"order_id": row.order_ref, "kind": row.kind},
                now=now,
            )
        return [row.id for row in rows]


def _audit_export(database: Database, actor: str, what: str, count: int, now: datetime) -> None:
    with database.unit_of_work() as session:
        record(
            session, actor, "orders_export", Subject("orders", what), {"entries": count}, now=now
        )
