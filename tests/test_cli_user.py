"""`tutela user` and `tutela vault` through the real entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.cli import main
from tutela.settings import Settings

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("cheap_argon2")


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_a_user_is_created_from_a_piped_password_listed_and_disabled(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys, monkeypatch, "user", "create", "ana", "--role", "reviewer", "--role", "auditor",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, out) == (0, "created user ana with roles auditor reviewer\n")
    code, out, _ = run(capsys, monkeypatch, "user", "disable", "ana")
    assert code == 0
    code, out, _ = run(capsys, monkeypatch, "user", "list", "--json")
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert listed["roles"] == ["auditor", "reviewer"] and listed["disabled_at"] is not None


def test_a_short_piped_password_is_refused_without_echoing_it(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        capsys, monkeypatch, "user", "create", "ana", "--role", "reviewer", stdin="tiny-secret\n"
    )
    assert code == 1 and "at least 12" in err
    assert "tiny-secret" not in out + err


def test_vault_purge_without_a_key_tells_how_to_make_one(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUTELA_VAULT_KEY", raising=False)
    monkeypatch.delenv("TUTELA_VAULT_KEY_FILE", raising=False)
    code, _, err = run(capsys, monkeypatch, "vault", "purge")
    assert code == 1 and "tutela vault keygen" in err and "[configuration]" in err


def test_vault_keygen_purge_and_rotate(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    assert run(capsys, monkeypatch, "vault", "keygen", "--out", str(old))[0] == 0
    assert run(capsys, monkeypatch, "vault", "keygen", "--out", str(new))[0] == 0
    monkeypatch.setenv("TUTELA_VAULT_KEY_FILE", str(old))
    code, out, _ = run(capsys, monkeypatch, "vault", "purge", "--json")
    assert (code, json.loads(out)) == (0, {"destroyed": []})
    code, out, _ = run(capsys, monkeypatch, "vault", "rotate", "--new-key-file", str(new))
    assert code == 0 and out.startswith("re-wrapped 0 records")
    code, out, _ = run(capsys, monkeypatch, "audit", "verify")
    assert code == 0 and out.startswith("audit log intact: 1 entries")
