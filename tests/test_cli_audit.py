"""`tutela audit verify` and `tutela audit list` through the real entry point."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.log import Action, Subject, record, user_actor
from tutela.auth.users import create_user
from tutela.cli import main
from tutela.db import open_database
from tutela.settings import Settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def seed(settings: Settings, count: int) -> None:
    database = open_database(settings)
    try:
        with database.unit_of_work() as session:
            for n in range(count):
                record(session, "system", Action.EXPORT, Subject("report", str(n)), {"n": n})
    finally:
        database.close()


def tamper(settings: Settings, sql: str) -> None:
    database = open_database(settings)
    try:
        with database.unit_of_work() as session:
            session.execute(text(sql))
    finally:
        database.close()


def test_verify_exits_0_with_the_count_and_head_hash(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(cli_env, 5)
    code, out, _ = run(capsys, "audit", "verify", "--json")
    report = json.loads(out)
    assert (code, report["intact"], report["count"]) == (0, True, 5)
    assert len(report["head_hash"]) == 64


def test_verify_exits_1_naming_the_altered_entry(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(cli_env, 5)
    tamper(cli_env, "UPDATE audit_log SET action = 'view' WHERE seq = 3")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 1
    assert out.startswith("audit log BROKEN at seq 3: altered")


def test_verify_accepts_a_recorded_head_hash_as_anchor(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(cli_env, 2)
    _, out, _ = run(capsys, "audit", "verify", "--json")
    anchor = json.loads(out)["head_hash"]
    seed(cli_env, 2)
    code, out, _ = run(capsys, "audit", "verify", "--anchor", anchor)
    assert code == 0
    assert out.startswith("audit log intact: 4 entries")


def test_list_prints_entries_in_chain_order(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(cli_env, 3)
    code, out, _ = run(capsys, "audit", "list", "--json", "--after", "1")
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2, 3]


@pytest.mark.usefixtures("cheap_argon2")
def test_list_names_the_account_of_a_user_actor_beside_its_id(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    database = open_database(cli_env)
    try:
        ana = create_user(database, "ana", "correct horse battery", ["auditor"], actor="cli:root")
        with database.unit_of_work() as session:
            record(session, user_actor(ana.id), Action.VIEW, Subject("audit_log", "-"), {})
    finally:
        database.close()
    _, out, _ = run(capsys, "audit", "list", "--action", "view")
    assert f"ana (user:{ana.id})" in out
    _, out, _ = run(capsys, "audit", "list", "--action", "view", "--json")
    entry = json.loads(out)
    assert (entry["actor"], entry["actor_name"]) == (f"user:{ana.id}", "ana")
