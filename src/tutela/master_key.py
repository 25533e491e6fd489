"""The vault's master key: made, stored and loaded here, and used only to wrap data keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tutela.errors import ConfigurationError, Conflict, TamperedData, Unreadable
from tutela.settings import Settings

KEY_BYTES = 32
KEY_ID_CHARS = 16
HOW_TO_MAKE_ONE = (
    "make one with `tutela vault keygen --out FILE` and set TUTELA_VAULT_KEY_FILE=FILE "
    "(or put its base64 in TUTELA_VAULT_KEY); keep a copy offline, without it nothing in the "
    "vault can be read"
)


@dataclass(frozen=True, slots=True)
class MasterKey:
    """A 256-bit AES key-wrapping key. Its id, not the key, is stored beside each record."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ConfigurationError(f"a vault master key is {KEY_BYTES} bytes; {HOW_TO_MAKE_ONE}")

    @property
    def key_id(self) -> str:
        """The first bytes of a (domain-separated) SHA-256 of the key: names it, reveals nothing."""
        digest = hashlib.sha256(b"tutela-vault-master-key\x00" + self.material).hexdigest()
        return digest[:KEY_ID_CHARS]

    def encode(self) -> str:
        return base64.b64encode(self.material).decode()


def generate_master_key() -> MasterKey:
    return MasterKey(secrets.token_bytes(KEY_BYTES))


def decode_master_key(text: str, source: str) -> MasterKey:
    """A key from its base64 text; `source` names where it came from, for the error message."""
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{source} is not base64; {HOW_TO_MAKE_ONE}") from None
    if len(material) != KEY_BYTES:
        raise ConfigurationError(
            f"{source} holds {len(material)} bytes, not {KEY_BYTES}; {HOW_TO_MAKE_ONE}"
        )
    return MasterKey(material)


def read_master_key_file(path: Path) -> MasterKey:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigurationError(
            f"vault key file {path} does not exist; {HOW_TO_MAKE_ONE}"
        ) from None
    except OSError as error:
        raise Unreadable(f"vault key file {path} could not be read: {error.strerror}") from None
    return decode_master_key(text, f"vault key file {path}")


def write_master_key_file(path: Path, key: MasterKey) -> None:
    """Write a key readable by its owner only; never over an existing file (that key may still
    be the only way to read the vault)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"{path} already exists; a vault key is never overwritten") from None
    with os.fdopen(fd, "w") as out:
        out.write(key.encode() + "\n")


def load_master_key(settings: Settings) -> MasterKey:
    """The configured master key, or a ConfigurationError that says how to make one."""
    if settings.vault_key and settings.vault_key_file:
        raise ConfigurationError("set TUTELA_VAULT_KEY or TUTELA_VAULT_KEY_FILE, not both")
    if settings.vault_key:
        return decode_master_key(settings.vault_key, "TUTELA_VAULT_KEY")
    if settings.vault_key_file:
        return read_master_key_file(settings.vault_key_file)
    raise ConfigurationError(f"the evidence vault has no master key; {HOW_TO_MAKE_ONE}")


def configured_master_key(settings: Settings) -> MasterKey | None:
    """The master key when one is configured, else None (callers that can work without one)."""
    if settings.vault_key or settings.vault_key_file:
        return load_master_key(settings)
    return None


def wrap_data_key(master: MasterKey, data_key: bytes) -> bytes:
    """AES key wrap (RFC 3394): the data key sealed under the master key."""
    return aes_key_wrap(master.material, data_key)


def refuse_other_keys(
    session: Session,
    key_id: InstrumentedAttribute[str | None],
    old: MasterKey,
    new: MasterKey,
    what: str,
) -> None:
    """Before a rotation: ConfigurationError when a row's `key_id` names a master key that is
    neither `old` nor `new` (it could not be re-wrapped, and would be lost to the rotation)."""
    other = session.scalar(
        select(key_id).where(key_id.is_not(None), key_id.not_in([old.key_id, new.key_id])).limit(1)
    )
    if other is not None:
        raise ConfigurationError(
            f"{what} under master key {other}, which is neither the old ({old.key_id}) nor the "
            f"new ({new.key_id}); nothing was changed"
        )


def unwrap_data_key(master: MasterKey, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(master.material, wrapped)
    except InvalidUnwrap:
        raise TamperedData(
            "a vault data key does not unwrap under the master key with its id: the wrapped key "
            "was altered"
        ) from None
