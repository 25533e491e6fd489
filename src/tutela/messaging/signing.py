"""The one way Tutela signs and verifies: Ed25519 key pairs of nodes (a provider's reports, Art
13(1)(b); the centre's and authorities' messages), and the HMAC that signs webhooks to platforms
and operators (docs/webhooks.md).

An Ed25519 signature is detached: the body is the canonical JSON of the document with the signing
time and key id inside it, so the signed time stamp cannot be changed without breaking it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature as _BadSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tutela.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    InvalidSignature,
    StaleSignature,
)
from tutela.messaging.canonical import canonical_json
from tutela.settings import Settings

KEY_FILE_NAME = "provider-ed25519.pem"


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey = field(repr=False)
    key_id: str

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(private_key, key_id_of(private_key.public_key()))

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private_key.sign(data)).decode("ascii")

    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key.public_key())


@dataclass(frozen=True, slots=True)
class SignedReport:
    """What travels: the exact signed bytes, the detached signature and who signed when."""

    body: bytes
    signature: str
    key_id: str
    signed_at: str


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise InvalidInput("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the public key must be Ed25519")
    return key


def default_key_file(settings: Settings) -> Path:
    return settings.signing_key_file or settings.data_dir / "keys" / KEY_FILE_NAME


def generate_key_file(path: Path, *, overwrite: bool = False) -> SigningKey:
    """Write a new private key, readable by its owner only; never replaces one unless told to,
    since reports already signed with the old key would lose their registered key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise Conflict(f"a signing key already exists at {path}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)
    return SigningKey.of(key)


def load_key_file(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the signing key {path}: {error.strerror}; run `tutela keys generate`"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key")
    return SigningKey.of(key)


def sign_report(report: dict[str, Any], key: SigningKey, now: datetime) -> SignedReport:
    signed_at = now.isoformat()
    body = canonical_json({**report, "signed_at": signed_at, "key_id": key.key_id})
    return SignedReport(body, key.sign(body), key.key_id, signed_at)


def verify_signature(public_key: Ed25519PublicKey, body: bytes, signature: str) -> None:
    """Raise `InvalidSignature` unless `signature` is the key's signature of exactly `body`."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, body)
    except (binascii.Error, ValueError, _BadSignature):
        raise InvalidSignature("the signature does not verify against the provider's key") from None


@dataclass(frozen=True, slots=True)
class SigningWindow:
    """How old, and how far ahead of the receiver's clock, a signing time may be. Receivers
    refuse messages outside it, so that a signature stored to recognise replays need be kept
    only for as long as the window (DESIGN contracts: receivers refuse stale messages)."""

    max_age: timedelta = timedelta(days=7)
    max_skew: timedelta = timedelta(minutes=5)

    @classmethod
    def of(cls, settings: Settings) -> SigningWindow:
        return cls(
            timedelta(seconds=settings.signed_message_max_age_s),
            timedelta(seconds=settings.signed_message_max_skew_s),
        )

    def check(self, signed_at: object, now: datetime) -> datetime:
        """The signing time, parsed; `StaleSignature` unless it lies within the window."""
        if not isinstance(signed_at, str) or len(signed_at) > 40:
            raise InvalidSignature("the signed time stamp is missing or not ISO 8601")
        try:
            at = datetime.fromisoformat(signed_at)
        except ValueError:
            raise InvalidSignature("the signed time stamp is not ISO 8601") from None
        if at.tzinfo is None:
            raise InvalidSignature("the signed time stamp has no time zone")
        if at < now - self.max_age:
            raise StaleSignature("the message was signed too long ago to be taken now")
        if at > now + self.max_skew:
            raise StaleSignature("the message is signed at a time still to come")
        return at


def signature_digest(signature: str) -> str:
    """SHA-256 of the signature's bytes: what a receiver stores to recognise a replay. Ed25519
    is deterministic and OpenSSL refuses non-canonical signatures, so one signed body has one
    signature, whatever base64 spelling or idempotency key travels with it."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("the signature is not base64") from None
    return hashlib.sha256(raw).hexdigest()


def request_signing_base(method: str, path: str, timestamp: str) -> bytes:
    """What a signed request without a body (a status poll) signs."""
    return f"{method.upper()} {path} {timestamp}".encode()


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`X-Tutela-Signature` value: HMAC-SHA256 over `timestamp + "." + body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
