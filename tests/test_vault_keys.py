"""The vault's master key: required, generated, written safely, identified by a key id."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutela.enforcement.vault import Vault
from tutela.errors import ConfigurationError, Conflict
from tutela.master_key import (
    generate_master_key,
    load_master_key,
    read_master_key_file,
    write_master_key_file,
)
from tutela.settings import Settings


def test_without_a_master_key_the_vault_refuses_and_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tutela vault keygen"):
        Vault.from_settings(Settings(data_dir=tmp_path))


def test_a_key_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="holds 18 bytes"):
        load_master_key(Settings(data_dir=tmp_path, vault_key="A" * 24))


def test_a_key_file_round_trips_and_is_private(tmp_path: Path) -> None:
    key = generate_master_key()
    path = tmp_path / "vault.key"
    write_master_key_file(path, key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_master_key_file(path) == key
    settings = Settings(data_dir=tmp_path, vault_key_file=path, vault_retention_days=30)
    assert Vault.from_settings(settings).master_key.key_id == key.key_id


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    write_master_key_file(path, generate_master_key())
    with pytest.raises(Conflict):
        write_master_key_file(path, generate_master_key())


def test_key_ids_differ_between_keys_and_hide_the_key() -> None:
    first, second = generate_master_key(), generate_master_key()
    assert first.key_id != second.key_id and len(first.key_id) == 16
    assert first.encode() not in repr(first)
