"""Envelope encryption's inner layer, shared by the evidence vault and content held for review:
AES-256-GCM under a fresh data key, with associated data binding each ciphertext to its row."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.errors import TamperedData

DATA_KEY_BYTES = 32
NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * DATA_KEY_BYTES)


def seal(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """A random nonce followed by the ciphertext and its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def unseal(data_key: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
    """The plaintext of `seal`, or TamperedData naming `what` (never its content)."""
    try:
        return AESGCM(data_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise TamperedData(
            f"{what} failed its integrity check: its ciphertext was altered or belongs to "
            "another record"
        ) from None
