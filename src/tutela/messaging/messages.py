"""Signed messages between nodes other than reports: the centre's word to a provider (status,
holds) and to Europol and LEAs (forwarded reports), each signed with the sender's Ed25519 key.

The body is canonical JSON holding the kind, the idempotency key, the payload, the signing time
and key id, so none of them can be changed in transit; the signature travels in a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tutela.errors import InvalidInput, InvalidSignature
from tutela.messaging.canonical import canonical_json, parse_json
from tutela.messaging.signing import SigningKey, key_id_of, verify_signature

SCHEMA = "tutela.message/1"
KEY_ID_HEADER = "Tutela-Key-Id"
SIGNATURE_HEADER = "Tutela-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class SignedMessage:
    body: bytes
    signature: str
    key_id: str

    def headers(self, idempotency_key: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            KEY_ID_HEADER: self.key_id,
            SIGNATURE_HEADER: self.signature,
            IDEMPOTENCY_HEADER: idempotency_key,
        }


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    signed_at: str


def sign_message(
    key: SigningKey, kind: str, idempotency_key: str, payload: dict[str, Any], now: datetime
) -> SignedMessage:
    body = canonical_json(
        {
            "schema": SCHEMA,
            "kind": kind,
            "idempotency_key": idempotency_key,
            "payload": payload,
            "signed_at": now.isoformat(),
            "key_id": key.key_id,
        }
    )
    return SignedMessage(body, key.sign(body), key.key_id)


def open_message(public_key: Ed25519PublicKey, key_id: str, body: bytes, signature: str) -> Message:
    """Verify and read a message; raise InvalidSignature unless the expected key signed it."""
    if key_id != key_id_of(public_key):
        raise InvalidSignature("the message is signed with a key this node does not trust")
    verify_signature(public_key, body, signature)
    data = parse_json(body)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InvalidInput(f"the body is not a {SCHEMA} message")
    if data.get("key_id") != key_id:
        raise InvalidSignature("the message names another key than the one it is signed with")
    kind, key, payload = data.get("kind"), data.get("idempotency_key"), data.get("payload")
    if not isinstance(kind, str) or not isinstance(key, str) or not isinstance(payload, dict):
        raise InvalidInput("a message carries kind, idempotency_key and payload")
    return Message(kind, key, payload, str(data.get("signed_at")))
