"""Where forwarded reports go (Art 48(3)): Europol, and each Member State's competent LEA."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.centre.models import Recipient
from tutela.centre.triage import EUROPOL, set_routing_rule
from tutela.errors import InvalidInput, NotFound

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def add_recipient(
    session: Session, name: str, url: str, now: datetime, country: str | None = None
) -> Recipient:
    """Add or update a recipient; an LEA named with its country also becomes that country's
    routing rule (Europol receives every forwarded report and has none)."""
    if not NAME.match(name):
        raise InvalidInput("a recipient name is 1-64 lower-case letters, digits, '-' or '_'")
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("a recipient's URL is http(s)")
    if name == EUROPOL and country:
        raise InvalidInput("Europol serves every Member State; give it no country")
    recipient = session.scalar(select(Recipient).where(Recipient.name == name))
    if recipient is None:
        recipient = Recipient(name=name, url=url, created_at=now)
        session.add(recipient)
    recipient.url = url
    recipient.country = country.upper() if country else None
    if country:
        set_routing_rule(session, country, name, now)
    session.flush()
    return recipient


def recipient_url(session: Session, name: str) -> str:
    url = session.scalar(select(Recipient.url).where(Recipient.name == name))
    if url is None:
        raise NotFound(f"no recipient named {name!r}; add it with `tutela centre recipient add`")
    return url
