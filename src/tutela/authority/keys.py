"""The authority's own Ed25519 key: it signs the orders it issues, so that providers and the EU
Centre can tell the authority spoke (the key pair code is `tutela.messaging.signing`'s)."""

from __future__ import annotations

from pathlib import Path

from tutela.messaging.signing import SigningKey, load_key_file
from tutela.settings import Settings

KEY_FILE_NAME = "authority-ed25519.pem"


def authority_key_file(settings: Settings) -> Path:
    return settings.authority_signing_key_file or settings.data_dir / "keys" / KEY_FILE_NAME


def load_authority_key(settings: Settings) -> SigningKey:
    return load_key_file(authority_key_file(settings))
