"""The one way Tutela seals data at rest: AES-256-GCM under a 32-byte key, a fresh random nonce
per value, and associated data that binds each ciphertext to its row and use (a sealed value
copied to another row or column does not open there). Used by the evidence vault, content held
for review (under per-record data keys) and stored credentials (under TUTELA_SECRETS_KEY).

Wire format: the 12-byte nonce followed by the ciphertext and its 16-byte tag."""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.errors import ConfigurationError, TamperedData

KEY_BYTES = 32
NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def key_from_base64(encoded: str | None, setting: str) -> bytes:
    """A 32-byte key given base64-encoded in the setting named `setting`."""
    if not encoded:
        raise ConfigurationError(f"{setting} is not set")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ConfigurationError(f"{setting} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{setting} must hold {KEY_BYTES} bytes (AES-256)")
    return key


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """A random nonce followed by the ciphertext and its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
    """The plaintext of `seal`, or TamperedData naming `what` (never its content): the
    ciphertext was altered, belongs to another record, or the key is not the one it was sealed
    under."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise TamperedData(
            f"{what} failed its integrity check: its ciphertext was altered or belongs to "
            "another record"
        ) from None
