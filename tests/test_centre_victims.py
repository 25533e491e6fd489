"""Victims' requests at the centre (Art 20-21): an authority or registered hotline sends, signed,
the hashes a victim made on their own device with `tutela hash`; the centre answers which of its
reports match, when and to what kind of authority they were forwarded and whether the material
was removed, asks the providers to remove it when told to, and audits every request."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from password_hashing import cheap_argon2  # noqa: F401  (fixture)
from provider_fixtures import drawn_image, edited_copy, png
from report_samples import NOW, PROVIDER, sample_input
from tutela.audit.models import AuditEntry
from tutela.auth.users import create_user
from tutela.centre.administration import add_provider
from tutela.centre.intake import receive_report
from tutela.centre.models import CentreReport
from tutela.centre.triage import forward_report, set_routing_rule
from tutela.centre.victims import add_requester
from tutela.cli import main
from tutela.clock import utc_now
from tutela.db import Database
from tutela.messaging.messages import sign_message
from tutela.messaging.outbox_models import OutboxMessage
from tutela.messaging.signing import SigningKey, generate_key_file, sign_report
from tutela.nodes.centre import create_centre_app
from tutela.reporting.fields import MatchFacts
from tutela.reporting.report import build_report
from tutela.settings import Settings
from tutela.signals.hashing import hash_media
from tutela.signals.pdq import PdqMode

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ADMIN = "ada"
PATH = "/v1/victim-requests"
# Everything about other people a report holds (report_samples): none may reach a victim.
OTHER_PEOPLE = (
    "account-42",
    "placeholder_user",
    "user@example.net",
    "192.0.2.10",
    "photos.example",
    "upload-",
    "reviewer-1",
    PROVIDER.name,
    PROVIDER.legal_representative,
    PROVIDER.point_of_contact,
)


@dataclass
class Centre:
    database: Database
    settings: Settings
    requester: SigningKey
    report_id: int
    image_seed: int = 11


@pytest.fixture
def centre(
    tmp_path: Path,
    settings: Settings,
    database: Database,
    cheap_argon2: None,  # noqa: F811  (the fixture imported above)
) -> Centre:
    create_user(database, ADMIN, "correct horse battery", ["administrator"], actor="system")
    provider = generate_key_file(tmp_path / "provider.pem")
    add_provider(database, ADMIN, PROVIDER.name, provider.public_key_pem(), country="NL")
    # The reported material: a benign drawn picture, hashed as the provider's node does.
    original = png(drawn_image(11))
    pdq = hash_media(original, mode=PdqMode.EXACT).pdq
    assert pdq is not None
    facts = sample_input(
        signals={"pdq": pdq.hash},
        matches=(MatchFacts("test-bank", 1, "pdq", pdq.hash, 0),),
        removed=True,
    )
    report = sign_report(build_report(facts, PROVIDER, NOW), provider, NOW)
    accepted = receive_report(database, report.key_id, report.body, report.signature, "r-1", NOW)
    with database.unit_of_work() as session:
        set_routing_rule(session, "DE", "bka", NOW)
        forward_report(session, accepted.id, NOW + timedelta(hours=3))
    requester = generate_key_file(tmp_path / "hotline.pem")
    add_requester(database, ADMIN, "Example Hotline", "hotline", requester.public_key_pem())
    return Centre(database, settings, requester, accepted.id)


@pytest.fixture
def client(centre: Centre) -> Iterator[TestClient]:
    with TestClient(create_centre_app(centre.settings, centre.database)) as test_client:
        yield test_client


def victims_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> list[dict[str, str]]:
    """What the victim's own device makes: `tutela hash --json` of their copy."""
    path = tmp_path / "my-copy.jpg"
    path.write_bytes(data)
    with pytest.raises(SystemExit):
        main(["hash", "--json", str(path)])
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    signals = line["signals"]
    return [
        {"signal_type": "pdq", "value": signals["pdq"]["hash"]},
        {"signal_type": "md5", "value": signals["md5"]},
        {"signal_type": "sha256", "value": signals["sha256"]},
    ]


def ask(
    client: TestClient,
    key: SigningKey,
    hashes: list[dict[str, str]],
    *,
    ask_removal: bool = False,
    idempotency_key: str = "v-1",
    signed_at: datetime | None = None,
) -> httpx.Response:
    message = sign_message(
        key,
        "victim_request",
        idempotency_key,
        {"hashes": hashes, "ask_removal": ask_removal},
        signed_at if isinstance(signed_at, datetime) else utc_now(),
    )
    # Starlette types its answers with httpx2, which is not installed: Any without this.
    answer: httpx.Response = client.post(
        PATH, content=message.body, headers=message.headers(idempotency_key)
    )
    return answer


def test_a_request_with_the_hash_of_an_edited_copy_finds_the_report_forwarded_and_removed(
    centre: Centre, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = edited_copy(drawn_image(centre.image_seed), "resize")
    response = ask(client, centre.requester, victims_hashes(tmp_path, capsys, edited))
    assert response.status_code == 200
    answer = response.json()
    assert answer["found"] is True
    [match] = answer["matches"]
    assert match["report_id"] == centre.report_id
    assert match["matched_on"] == ["pdq"]  # the edit changed the bytes, not the picture
    assert 0 < match["pdq_distance"] <= 31
    assert match["assessment"] == "forwarded"
    assert [f["to"] for f in match["forwarded"]] == ["europol", "law_enforcement"]
    assert match["forwarded"][0]["at"] == (NOW + timedelta(hours=3)).isoformat()
    assert match["removed"] is True


def test_a_request_with_an_unrelated_hash_finds_nothing(
    centre: Centre, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = png(drawn_image(centre.image_seed + 100))
    response = ask(client, centre.requester, victims_hashes(tmp_path, capsys, other))
    assert response.status_code == 200
    assert response.json()["found"] is False
    assert response.json()["matches"] == []


def test_a_request_from_an_unregistered_requester_is_refused_with_problem_details(
    centre: Centre, client: TestClient, tmp_path: Path
) -> None:
    stranger = generate_key_file(tmp_path / "stranger.pem")
    response = ask(client, stranger, [{"signal_type": "md5", "value": "0" * 32}])
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_requester"
    with centre.database.reader() as session:
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "victim_request")
        ).all()
    assert audited == []


def test_the_answer_holds_no_other_persons_data(
    centre: Centre, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = edited_copy(drawn_image(centre.image_seed), "reencode")
    response = ask(
        client, centre.requester, victims_hashes(tmp_path, capsys, edited), ask_removal=True
    )
    text = response.text
    assert response.json()["found"] is True
    assert [p for p in OTHER_PEOPLE if p in text] == []
    assert "bka" not in text  # the authority's kind only, not which one


def test_asking_for_removal_queues_a_message_to_the_provider_concerned(
    centre: Centre, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with centre.database.unit_of_work() as session:
        session.get_one(CentreReport, centre.report_id).removed = None  # not known removed
    edited = edited_copy(drawn_image(centre.image_seed), "resize")
    response = ask(
        client, centre.requester, victims_hashes(tmp_path, capsys, edited), ask_removal=True
    )
    assert response.json()["matches"][0]["removal_requested"] is True
    with centre.database.reader() as session:
        queued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "removal_requested")
        ).all()
    assert [(m.destination, m.payload["centre_report_id"]) for m in queued] == [
        ("provider", centre.report_id)
    ]
    # The provider learns which of its reports and why, never who asked.
    assert set(queued[0].payload) == {"provider_id", "centre_report_id", "report_key", "reason"}


def test_every_request_is_audited_with_its_answer(
    centre: Centre, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = edited_copy(drawn_image(centre.image_seed), "resize")
    answer = ask(client, centre.requester, victims_hashes(tmp_path, capsys, edited)).json()
    with centre.database.reader() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "victim_request")
        ).all()
    assert (entry.action, entry.subject_id) == ("victim_request", str(answer["request_id"]))
    assert entry.details["answer"] == answer
    assert entry.details["matched_reports"] == [centre.report_id]


def test_a_replayed_request_is_answered_as_the_first_and_stored_once(
    centre: Centre, client: TestClient
) -> None:
    message = sign_message(
        centre.requester,
        "victim_request",
        "v-1",
        {"hashes": [{"signal_type": "md5", "value": "1" * 32}]},
        utc_now(),
    )
    first = client.post(PATH, content=message.body, headers=message.headers("v-1"))
    again = client.post(PATH, content=message.body, headers=message.headers("v-2"))
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    with centre.database.reader() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "victim_request")
        ).all()
    assert len(entries) == 1


def test_a_request_signed_too_long_ago_is_refused(centre: Centre, client: TestClient) -> None:
    response = ask(
        client,
        centre.requester,
        [{"signal_type": "md5", "value": "1" * 32}],
        signed_at=utc_now() - timedelta(days=30),
    )
    assert response.status_code == 401
    assert response.json()["code"] == "stale_signature"


def test_a_request_with_a_malformed_hash_is_refused_and_nothing_is_stored(
    centre: Centre, client: TestClient
) -> None:
    response = ask(client, centre.requester, [{"signal_type": "pdq", "value": "zz"}])
    assert response.status_code == 422
    with centre.database.reader() as session:
        assert (
            session.scalars(select(AuditEntry).where(AuditEntry.action == "victim_request")).all()
            == []
        )


def test_requester_add_registers_a_hotline_by_an_administrator(
    centre: Centre, cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = generate_key_file(tmp_path / "authority.pem")
    public = tmp_path / "authority.pub"
    public.write_text(key.public_key_pem(), encoding="ascii")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "centre",
                "requester",
                "add",
                "Example Police Unit",
                "--public-key",
                str(public),
                "--kind",
                "authority",
                "--by",
                ADMIN,
                "--json",
            ]
        )
    out = capsys.readouterr().out
    assert exited.value.code in (0, None)
    assert json.loads(out)["key_id"] == key.key_id
    assert json.loads(out)["kind"] == "authority"


def test_requester_ask_sends_only_the_hashes_tutela_hash_made_and_prints_the_answer(
    centre: Centre,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = tmp_path / "my-copy.jpg"
    copy.write_bytes(edited_copy(drawn_image(centre.image_seed), "resize"))
    # In its own process: `tutela hash` forks its workers, which a pytest process that has run
    # threads (clients, pools) cannot do safely.
    hashed = subprocess.run(
        [sys.executable, "-m", "tutela", "hash", "--json", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert hashed.returncode == 0, hashed.stdout + hashed.stderr
    lines = tmp_path / "hashes.jsonl"
    lines.write_text(hashed.stdout, encoding="utf-8")
    sent: list[bytes] = []
    app = create_centre_app(centre.settings, centre.database)

    def centre_client() -> TestClient:
        client = TestClient(app)
        client.event_hooks["request"].append(lambda request: sent.append(request.content))
        return client

    # The network edge only: the command's HTTP client reaches the centre app in process.
    monkeypatch.setattr("tutela.cli.victims.open_client", centre_client)
    with pytest.raises(SystemExit) as exited:
        main(
            [
                *("centre", "requester", "ask", "http://testserver", str(lines)),
                *("--key", str(tmp_path / "hotline.pem")),
            ]
        )
    out, err = capsys.readouterr()
    assert exited.value.code in (0, None), err
    answer = json.loads(out)
    assert [m["report_id"] for m in answer["matches"]] == [centre.report_id]
    [body] = sent
    payload = json.loads(body)["payload"]
    assert {h["signal_type"] for h in payload["hashes"]} == {"pdq", "md5", "sha1", "sha256"}
    assert str(copy) not in body.decode()  # not even the file's name leaves the machine
