"""Secrets at rest: AES-GCM under the node's key (TUTELA_SECRETS_KEY), never stored beside it."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.errors import ConfigurationError

NONCE_BYTES = 12


def secrets_key(encoded: str | None) -> bytes:
    if not encoded:
        raise ConfigurationError("TUTELA_SECRETS_KEY is not set; stored credentials need it")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ConfigurationError("TUTELA_SECRETS_KEY is not base64") from None
    if len(key) != 32:
        raise ConfigurationError("TUTELA_SECRETS_KEY must hold 32 bytes (AES-256)")
    return key


def seal(key: bytes, plaintext: bytes, context: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext); `context` binds the secret to its use, so a sealed value copied to
    another column does not open there."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, nonce: bytes, sealed: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, sealed, context)
    except InvalidTag:
        raise ConfigurationError(
            "stored credentials do not open with TUTELA_SECRETS_KEY (wrong key or altered data)"
        ) from None
