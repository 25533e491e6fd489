"""The commands of blocking and delisting orders: `tutela centre url add` (a senior analyst's
act, audited; anyone else refused with nothing written), `tutela authority order block` (an end
past 5 years refused, nothing queued), and `tutela orders rpz|urls` writing the exports of the
orders in force (the zone passes `named-checkzone`). Placeholder URLs only."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from blocking_fixtures import LISTED, Nodes, issue, nodes, receive
from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from tutela.audit.models import AuditEntry
from tutela.auth.users import create_user
from tutela.centre.url_list_models import CentreUrl
from tutela.cli import main
from tutela.clock import utc_now
from tutela.db import Database
from tutela.messaging.outbox_models import OutboxMessage
from tutela.settings import Settings

pytestmark = pytest.mark.usefixtures("cheap_argon2")
PASSWORD = "placeholder-passphrase-for-tests"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def count(database: Database, table: type) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


@pytest.fixture
def world(cli_env: Settings, database: Database, tmp_path: Path) -> Nodes:
    return nodes(database, cli_env, tmp_path)


def test_a_senior_analyst_adds_a_url_to_the_centres_list_with_one_audit_entry(
    cli_env: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(database, "sena", PASSWORD, ["senior_analyst"], actor="test")
    before = count(database, AuditEntry)
    code, out, _ = run(
        capsys, "centre", "url", "add", "https://blocked.example/a/b", "--reason", "Placeholder.",
        "--analyst", "sena", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out) == {
        "id": 1,
        "url": "https://blocked.example/a/b",
        "host": "blocked.example",
    }
    with database.reader() as session:
        action = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc())).first()
    assert action == "centre_url_add"
    assert count(database, AuditEntry) == before + 1


@pytest.mark.parametrize("who", ["ana", "nobody"])
def test_anyone_but_a_senior_analyst_is_refused_a_url_addition_with_nothing_written(
    cli_env: Settings, database: Database, capsys: pytest.CaptureFixture[str], who: str
) -> None:
    create_user(database, "ana", PASSWORD, ["analyst"], actor="test")
    before = count(database, AuditEntry)
    code, _, err = run(
        capsys, "centre", "url", "add", "https://blocked.example/", "--reason", "Placeholder.",
        "--analyst", who,
    )  # fmt: skip
    assert code != 0 and err
    assert count(database, CentreUrl) == 0
    assert count(database, AuditEntry) == before


def test_a_listed_url_must_be_http_with_a_host(
    cli_env: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    create_user(database, "sena", PASSWORD, ["senior_analyst"], actor="test")
    code, _, err = run(
        capsys,
        "centre",
        "url",
        "add",
        "ftp://blocked.example/",
        "--reason",
        "x",
        "--analyst",
        "sena",
    )
    assert code != 0 and "http(s)" in err
    assert count(database, CentreUrl) == 0


def test_a_blocking_order_past_five_years_is_refused_on_the_command_line(
    world: Nodes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("TUTELA_AUTHORITY_NAME", "Example Authority")
    monkeypatch.setenv("TUTELA_AUTHORITY_CONTACT", "orders@authority.example")
    monkeypatch.setenv("TUTELA_AUTHORITY_URL", "http://authority.example")
    monkeypatch.setenv("TUTELA_AUTHORITY_SIGNING_KEY_FILE", str(tmp_path / "authority.pem"))
    before = count(world.database, OutboxMessage)
    ends = (utc_now() + timedelta(days=5 * 366)).date().isoformat()
    entry = f"{world.entries[LISTED[0]]}={LISTED[0]}"
    code, _, err = run(
        capsys, "authority", "order", "block", "--provider", "Example Access BV", "--entry", entry,
        "--ends", ends, "--reasons", "Placeholder.", "--by", "officer-1",
    )  # fmt: skip
    assert code != 0 and "5 years" in err
    assert count(world.database, OutboxMessage) == before


def test_orders_rpz_and_urls_write_the_exports_of_the_orders_in_force(
    world: Nodes, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    receive(world, issue(world, LISTED[:3], utc_now() + timedelta(days=30)))
    zone, urls = tmp_path / "rpz.zone", tmp_path / "urls.txt"
    code, out, _ = run(capsys, "orders", "rpz", "--out", str(zone), "--json")
    assert code == 0 and json.loads(out) == {"out": str(zone), "hosts": 2, "skipped": 0}
    code, out, _ = run(capsys, "orders", "urls", "--out", str(urls))
    assert code == 0
    assert urls.read_text(encoding="utf-8").splitlines() == sorted(LISTED[:3])
    checker = shutil.which("named-checkzone")
    assert checker, "named-checkzone is missing (apt-get install bind9-utils)"
    done = subprocess.run([checker, "rpz.tutela", str(zone)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
