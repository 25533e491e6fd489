"""Reports are canonical JSON signed with the provider's Ed25519 key (Art 13(1)(b))."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from report_samples import NOW, PROVIDER, sample_input
from tutela.errors import Conflict, InvalidInput, InvalidSignature
from tutela.messaging.canonical import canonical_json, parse_json
from tutela.messaging.signing import (
    generate_key_file,
    load_key_file,
    load_public_key,
    sign_report,
    verify_signature,
)
from tutela.reporting.report import build_report


def test_canonical_json_sorts_keys_without_whitespace() -> None:
    assert canonical_json({"b": [1, "ü"], "a": {"d": None, "c": True}}) == (
        '{"a":{"c":true,"d":null},"b":[1,"ü"]}'.encode()
    )


def test_canonical_json_refuses_floats() -> None:
    with pytest.raises(InvalidInput):
        canonical_json({"a": 1.5})
    with pytest.raises(InvalidInput):
        parse_json(b'{"a": 1.5}')


def test_signature_verifies_and_carries_its_time_stamp(tmp_path: Path) -> None:
    key = generate_key_file(tmp_path / "key.pem")
    signed = sign_report(build_report(sample_input(), PROVIDER, NOW), key, NOW)
    verify_signature(load_public_key(key.public_key_pem()), signed.body, signed.signature)
    body = json.loads(signed.body)
    assert body["signed_at"] == NOW.isoformat()
    assert body["key_id"] == key.key_id


def test_signature_fails_after_any_byte_changes(tmp_path: Path) -> None:
    key = generate_key_file(tmp_path / "key.pem")
    public = load_public_key(key.public_key_pem())
    signed = sign_report(build_report(sample_input(), PROVIDER, NOW), key, NOW)
    for position in range(len(signed.body)):
        altered = bytearray(signed.body)
        altered[position] ^= 0x01
        with pytest.raises(InvalidSignature):
            verify_signature(public, bytes(altered), signed.signature)


def test_key_file_is_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "provider.pem"
    key = generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path).key_id == key.key_id
    with pytest.raises(Conflict):
        generate_key_file(path)
