"""Every `tutela centre` command that changes the centre's state runs under a real, active console
account with the role the act needs, and writes exactly one audit entry naming it; an unknown
account or one without the role is refused with nothing written. `tutela centre report list|show`
read the received reports. Only placeholder reports (tests/report_samples)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from report_samples import PROVIDER, sample_input
from tutela.audit.log import EntryView, list_entries
from tutela.auth.users import create_user, disable_user, get_user
from tutela.centre.intake import receive_report
from tutela.centre.models import CentreIndicator, CentreReport, Forwarding
from tutela.centre.providers import register_provider
from tutela.centre.triage import forward_report, mark_unfounded
from tutela.cli import main
from tutela.clock import utc_now
from tutela.db import Database
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import generate_key_file, sign_report
from tutela.reporting.report import build_report
from tutela.settings import Settings

pytestmark = pytest.mark.usefixtures("cheap_argon2")
PASSWORD = "correct horse battery"
PEOPLE = {"adam": "administrator", "ana": "analyst", "sena": "senior_analyst"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["centre", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def centre(cli_env: Settings, database: Database, tmp_path: Path) -> dict[str, int]:
    """People of each role, a registered provider and three received reports."""
    for name, role in PEOPLE.items():
        create_user(database, name, PASSWORD, [role], actor="test")
    key = generate_key_file(tmp_path / "provider.pem")
    (tmp_path / "provider.pub").write_text(key.public_key_pem())
    (tmp_path / "second.pub").write_text(
        generate_key_file(tmp_path / "second.pem").public_key_pem()
    )
    now = utc_now()
    with database.unit_of_work() as session:
        register_provider(session, PROVIDER.name, key.public_key_pem(), now, "DE")
    ids = {}
    for case in (1, 2, 3):
        signed = sign_report(build_report(sample_input(case), PROVIDER, now), key, now)
        ids[f"r{case}"] = receive_report(
            database, signed.key_id, signed.body, signed.signature, f"k-{case}", now
        ).id
    return ids


def new_entries(database: Database, after: int) -> list[EntryView]:
    with database.reader() as session:
        return list_entries(session, after_seq=after)


def head(database: Database) -> int:
    with database.reader() as session:
        entries = list_entries(session, limit=100_000)
    return entries[-1].seq if entries else 0


def actor_of(database: Database, name: str) -> str:
    return f"user:{get_user(database, name).id}"


def commands(tmp_path: Path, ids: dict[str, int]) -> dict[str, tuple[str, list[str]]]:
    """Each state-changing centre command, with the account it runs under."""
    until = (utc_now() + timedelta(days=30)).isoformat()
    return {
        "provider add": (
            "adam",
            ["provider", "add", "Second Ltd", "--public-key", str(tmp_path / "second.pub"),
             "--country", "FR", "--by", "adam"],
        ),
        "provider endpoint": (
            "adam", ["provider", "endpoint", PROVIDER.name, "https://p.example", "--by", "adam"]
        ),
        "recipient add": (
            "adam",
            ["recipient", "add", "lea-de", "--url", "https://lea.example", "--country", "DE",
             "--by", "adam"],
        ),
        "route set": ("adam", ["route", "set", "FR", "lea-fr", "--by", "adam"]),
        "forward": ("ana", ["forward", str(ids["r1"]), "--analyst", "ana"]),
        "unfounded": (
            "ana", ["unfounded", str(ids["r2"]), "--reasons", "a test pattern", "--analyst", "ana"]
        ),
        "hold": (
            "ana",
            ["hold", str(ids["r3"]), "--authority", "europol", "--until", until, "--no-notice",
             "--analyst", "ana"],
        ),
        "indicator confirm": (
            "sena",
            ["indicator", "confirm", str(ids["r1"]), "--analyst", "sena", "--authority", "BKA-1"],
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [
        "provider add",
        "provider endpoint",
        "recipient add",
        "route set",
        "forward",
        "unfounded",
        "hold",
        "indicator confirm",
    ],
)
def test_every_centre_command_writes_one_audit_entry_naming_its_account(
    centre: dict[str, int],
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    if command == "hold":  # only an authority the report went to may ask for a hold
        with database.unit_of_work() as session:
            forward_report(session, centre["r3"], utc_now())
    account, args = commands(tmp_path, centre)[command]
    before = head(database)
    code, _, err = run(capsys, *args)
    assert (code, err) == (0, "")
    entries = new_entries(database, before)
    assert [e.actor for e in entries] == [actor_of(database, account)]


@pytest.mark.parametrize(
    "command",
    ["provider add", "route set", "forward", "unfounded", "hold", "indicator confirm"],
)
def test_a_centre_command_under_an_unknown_account_is_refused_and_writes_nothing(
    centre: dict[str, int],
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    _, args = commands(tmp_path, centre)[command]
    args = ["nobody" if i > 0 and args[i - 1] in ("--by", "--analyst") else a
            for i, a in enumerate(args)]  # fmt: skip
    before = head(database)
    code, _, err = run(capsys, *args)
    assert code == 1
    assert "no active account is named 'nobody'" in err
    assert new_entries(database, before) == []
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(Forwarding)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(CentreIndicator)) == 0
        statuses = set(session.scalars(select(CentreReport.status)))
    assert statuses == {"received"}


def test_an_analyst_without_the_senior_role_cannot_confirm_indicators(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "indicator", "confirm", str(centre["r1"]), "--analyst", "ana", "--authority", "X"
    )
    assert code == 1
    assert "[forbidden]" in err
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(CentreIndicator)) == 0


def test_an_administrator_cannot_forward_a_report(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "forward", str(centre["r1"]), "--analyst", "adam")
    assert code == 1 and "[forbidden]" in err


def test_a_disabled_account_cannot_forward_a_report(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    disable_user(database, "ana", actor="test")
    code, _, err = run(capsys, "forward", str(centre["r1"]), "--analyst", "ana")
    assert code == 1 and "no active account is named 'ana'" in err


def test_no_indicator_is_made_of_a_report_set_aside_as_unfounded(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with database.unit_of_work() as session:
        mark_unfounded(session, centre["r1"], "a test pattern", utc_now())
    code, _, err = run(
        capsys, "indicator", "confirm", str(centre["r1"]), "--analyst", "sena", "--authority", "X"
    )
    assert code == 1
    assert "set aside as manifestly unfounded" in err and "[conflict]" in err
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(CentreIndicator)) == 0


def test_report_list_shows_received_reports_filtered_by_status(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with database.unit_of_work() as session:
        mark_unfounded(session, centre["r2"], "a test pattern", utc_now())
    code, out, _ = run(capsys, "report", "list", "--status", "unfounded", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["report_id"], r["status"], r["provider"]) for r in rows] == [
        (centre["r2"], "unfounded", PROVIDER.name)
    ]
    code, out, _ = run(capsys, "report", "list")
    assert code == 0 and len(out.splitlines()) == 3


def test_report_list_refuses_an_unknown_status(
    centre: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "report", "list", "--status", "lost")
    assert code == 1 and "[invalid_input]" in err


def test_report_show_gives_a_reports_fields_without_content(
    centre: dict[str, int], database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "show", str(centre["r1"]), "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["report_id"], shown["status"], shown["provider"]) == (
        centre["r1"],
        "received",
        PROVIDER.name,
    )
    with database.reader() as session:
        body = json.loads(session.get_one(CentreReport, centre["r1"]).body)
    files = body["content"].get("files") or []
    assert shown["files_withheld"] == len(files)
    assert all(f["data"] not in out for f in files)  # content bytes are never shown
    code, out, _ = run(capsys, "report", "show", str(centre["r1"]))
    assert code == 0 and f"report_id: {centre['r1']}" in out


def test_report_show_of_an_unknown_report_is_not_found(
    centre: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "report", "show", "999999")
    assert code == 1 and "[not_found]" in err
