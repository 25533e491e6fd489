"""`tutela apikey`: keys belong to a platform, the list shows it, and creating and revoking a key
are in the audit log."""

from __future__ import annotations

import json

import pytest

from test_cli_user import run
from tutela.audit.log import list_entries
from tutela.db.database import open_database
from tutela.settings import Settings


def test_a_key_is_created_for_a_platform_listed_with_it_and_both_acts_are_audited(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys, monkeypatch, "apikey", "create", "--name", "photos-app", "--platform", "photos",
        "--scope", "items:write",
    )  # fmt: skip
    assert code == 0 and out.startswith("created key photos-app of platform photos")
    assert run(capsys, monkeypatch, "apikey", "create", "--name", "solo", "--scope", "hash")[0] == 0
    code, out, _ = run(capsys, monkeypatch, "apikey", "list", "--json")
    listed = {line["name"]: line["platform"] for line in map(json.loads, out.splitlines())}
    assert listed == {"photos-app": "photos", "solo": "solo"}
    assert run(capsys, monkeypatch, "apikey", "revoke", "solo")[0] == 0
    database = open_database(cli_env)
    try:
        with database.reader() as session:
            entries = [
                (e.action, e.subject.id if e.subject else None, e.details.get("platform"))
                for e in list_entries(session)
                if e.action.startswith("api_key_")
            ]
            actors = {e.actor for e in list_entries(session) if e.action.startswith("api_key_")}
    finally:
        database.close()
    assert entries == [
        ("api_key_create", "photos-app", "photos"),
        ("api_key_create", "solo", "solo"),
        ("api_key_revoke", "solo", "solo"),
    ]
    assert all(actor.startswith("cli") for actor in actors)
