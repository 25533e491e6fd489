"""Fixtures for the order tests: an authority's key registered at a provider, uploads the orders
name, and signed removal orders built as an authority node builds them.

Not a test module. Every upload is a drawn picture (DESIGN ground rule 1); names are placeholders.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from provider_fixtures import drawn_image, jpeg
from tutela.db.database import Database
from tutela.detection.items import accept_upload
from tutela.messaging.messages import SignedMessage, sign_message
from tutela.messaging.signing import SigningKey, generate_key_file
from tutela.orders.authority_keys import add_authority_key
from tutela.orders.documents import REMOVAL_KIND, OrderedItem, RemovalOrder

AUTHORITY = "Example Coordinating Authority"
PROVIDER = "Example Hosting BV"


@dataclass(frozen=True)
class Upload:
    id: int
    item_ref: str
    sha256: str


def authority_key(directory: Path, name: str = "authority") -> SigningKey:
    return generate_key_file(directory / "keys" / f"{name}-ed25519.pem")


def trusted_authority(database: Database, directory: Path) -> SigningKey:
    """A new authority key, registered at the node as `tutela authority-key add` does."""
    key = authority_key(directory)
    add_authority_key(database, "cli:test", AUTHORITY, key.public_key_pem())
    return key


def uploads(database: Database, count: int, *, platform: str = "default") -> list[Upload]:
    """`count` drawn pictures uploaded as items upload-1…upload-N of `platform`."""
    made = []
    for n in range(1, count + 1):
        data = jpeg(drawn_image(100 + n, size=64))
        item_ref = f"upload-{n}"
        meta = {"item_id": item_ref, "url": f"https://photos.example/p/{n}"}
        accepted = accept_upload(database, item_ref, meta, data, platform=platform)
        made.append(Upload(accepted.id, item_ref, hashlib.sha256(data).hexdigest()))
    return made


def removal_order(item_refs: list[str], issued_at: datetime, **changes: Any) -> RemovalOrder:
    fields: dict[str, Any] = {
        "order_id": str(uuid.uuid4()),
        "issued_at": issued_at,
        "authority_name": AUTHORITY,
        "authority_contact": "orders@authority.example",
        "authority_country": "NL",
        "authority_url": "http://authority.example",
        "provider_name": PROVIDER,
        "provider_legal_representative": "Example Legal Rep GmbH",
        "items": tuple(OrderedItem(str(n), item_id=i) for n, i in enumerate(item_refs, 1)),
        "reasons": "Placeholder reasons for a test order.",
        "legal_basis": "Art 14 (test)",
        "redress": "Placeholder redress.",
        "non_disclosure_weeks": 0,
    }
    fields.update(changes)
    return RemovalOrder(**fields)


def signed_order(
    key: SigningKey,
    order: RemovalOrder,
    signed_at: datetime,
    document: dict[str, Any] | None = None,
) -> SignedMessage:
    body = order.document() if document is None else document
    return sign_message(key, REMOVAL_KIND, order.order_id, body, signed_at)
