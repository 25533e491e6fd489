"""The centre's own Ed25519 key: it signs what the centre sends (forwarded reports, messages to
providers) and the indicator feed, so that every receiver can tell the centre spoke."""

from __future__ import annotations

from pathlib import Path

from tutela.messaging.signing import SigningKey, load_key_file
from tutela.settings import Settings

KEY_FILE_NAME = "centre-ed25519.pem"


def centre_key_file(settings: Settings) -> Path:
    return settings.centre_signing_key_file or settings.data_dir / "keys" / KEY_FILE_NAME


def load_centre_key(settings: Settings) -> SigningKey:
    return load_key_file(centre_key_file(settings))
