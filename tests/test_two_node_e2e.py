"""Provider and centre as separate processes over real HTTP: a confirmed match becomes a signed
report at the centre, is forwarded to Europol and the LEA exactly once, the provider learns it
was forwarded, and an indicator the centre confirms reaches the provider's subscribed bank. The
report says what the reviewer chose (urgency, awareness, account action, other reports), a
removal the platform confirms later reaches the centre as a signed update, and a complaint that
reverses the decision retracts the report there."""

from __future__ import annotations

import itertools
import json
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from provider_fixtures import drawn_image, edited_copy, jpeg, make_bank, make_key
from tutela.auth.users import create_user
from tutela.centre.indicators import confirm_indicator
from tutela.centre.models import CentreReport
from tutela.centre.providers import register_provider
from tutela.centre.recipients import add_recipient
from tutela.centre.triage import forward_report
from tutela.db import open_database
from tutela.indicators.feed_subscription import subscribe_bank
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.reporting.fields import Awareness
from tutela.reporting.report_updates import follow_ups_from
from tutela.review.complaints import decide_complaint
from tutela.review.decisions import Decision, decide
from tutela.review.report_choices import AccountAction, ReportChoices
from two_nodes import (
    PROVIDER_IDENTITY,
    Node,
    base_env,
    closing_database,
    lea_stub,
    make_keys,
    node_settings,
    ports,
    vault_key,
    wait_until,
)

REVIEWER = "reviewer-1"
SENIOR = "senior-1"
CHOICES = ReportChoices(
    urgent=True,
    urgent_reason="placeholder: the uploader announces a meeting",
    awareness=Awareness.USER_NOTICE,
    account_action=AccountAction.NONE,
    reported_elsewhere=(("Example Hotline", "EH-1"),),
)
PASSWORD = "placeholder-passphrase-for-tests"


def metadata(item_id: str) -> str:
    return json.dumps(
        {
            "item_id": item_id,
            "account_id": "account-42",
            "upload_ip": "192.0.2.10",
            "upload_port": 50123,
            "uploaded_at": "2025-02-28T21:30:00+01:00",
            "url": "https://photos.example/p/1",
        }
    )


def upload(client: httpx.Client, item_id: str, data: bytes) -> dict[str, object]:
    answer = client.post(
        "/v1/items", files={"file": ("x", data)}, data={"metadata": metadata(item_id)}
    )
    assert answer.status_code == 202, answer.text
    ident = int(answer.json()["id"])
    views: dict[str, object] = {}

    def decided() -> bool:
        views.update(client.get(f"/v1/items/{ident}").json())
        return views.get("status") == "done"

    wait_until(decided, 60, f"verdict on {item_id}")
    return views


@pytest.mark.slow
def test_confirmed_match_reaches_the_lea_once_and_the_centres_indicator_reaches_the_provider(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        provider_settings = node_settings(stack, tmp_path / "provider")
        centre_settings = node_settings(stack, tmp_path / "centre")
        keys = make_keys(provider_settings.data_dir, centre_settings.data_dir)
        provider_port, centre_port = ports()
        lea = stack.enter_context(lea_stub(keys.centre.public_key_pem()))
        now = datetime.now(UTC)

        centre_db = stack.enter_context(closing_database(open_database(centre_settings)))
        with centre_db.unit_of_work() as session:
            register_provider(
                session,
                PROVIDER_IDENTITY["TUTELA_PROVIDER_NAME"],
                keys.provider.public_key_pem(),
                now,
                "NL",
                endpoint_url=f"http://127.0.0.1:{provider_port}",
            )
            add_recipient(session, "europol", lea.url + "/europol", now)
            add_recipient(session, "lea-de", lea.url + "/lea-de", now, country="DE")

        env = {
            **PROVIDER_IDENTITY,
            "TUTELA_CENTRE_URL": f"http://127.0.0.1:{centre_port}",
            "TUTELA_CENTRE_PUBLIC_KEY_FILE": str(keys.centre_public_file),
            "TUTELA_VAULT_KEY": vault_key(),
            "TUTELA_OUTBOX_INTERVAL_S": "0.2",
            "TUTELA_FEED_INTERVAL_S": "1",
        }
        provider_env = base_env(provider_settings, **env)
        settings = type(provider_settings).from_env(provider_env)
        provider_db = stack.enter_context(closing_database(open_database(settings)))
        known = drawn_image(1)
        make_bank(provider_db, "known", [known])
        subscribe_bank(
            provider_db, "eu-centre", env["TUTELA_CENTRE_URL"], keys.centre.public_key_pem()
        )
        create_user(provider_db, REVIEWER, PASSWORD, ["reviewer"], actor="test")
        create_user(provider_db, SENIOR, PASSWORD, ["senior_reviewer"], actor="test")
        api_key = make_key(provider_db)

        centre = Node(
            centre_settings,
            base_env(centre_settings, TUTELA_OUTBOX_INTERVAL_S="0.2"),
            centre_port,
            ["centre", "serve"],
            tmp_path / "centre.log",
        )
        provider = Node(
            settings, provider_env, provider_port, ["serve", "--workers", "1"], tmp_path / "p.log"
        )
        # Side by side: each takes seconds to start, and the provider's outbox retries.
        centre.spawn()
        stack.callback(centre.stop)
        provider.spawn()
        stack.callback(provider.stop)
        centre.wait_ready()
        provider.wait_ready("/readyz")

        headers = {"Authorization": f"Bearer {api_key}"}
        client = stack.enter_context(httpx.Client(base_url=provider.url, headers=headers))
        first = upload(client, "upload-1", jpeg(known))
        assert first["verdict"] == "review" and first["case_id"] is not None

        # The reviewer's confirmation files the signed report in the decision's transaction,
        # with the reviewer's choices for it (Art 13(1)(h),(j), Annex III).
        case_id = int(str(first["case_id"]))
        decide(
            provider_db,
            case_id,
            REVIEWER,
            Decision.CONFIRM_KNOWN,
            settings=settings,
            choices=CHOICES,
        )

        def at_centre() -> list[CentreReport]:
            with centre_db.reader() as session:
                return list(session.scalars(select(CentreReport)))

        wait_until(lambda: len(at_centre()) == 1, 30, "the report at the centre")
        report = at_centre()[0]
        body = json.loads(report.body)
        assert body["urgency"] == {"urgent": True, "reason": CHOICES.urgent_reason}
        assert body["awareness"] == "user_notice"
        assert body["account_measures"] == ["none"]
        assert body["reported_elsewhere"] == [
            {"organisation": "Example Hotline", "case_number": "EH-1"}
        ]
        assert body["removal"] == {"removed": False} and report.removed is False

        # The platform removes the item after the report left: the centre learns it.
        removed = client.post(
            f"/v1/items/{first['id']}/takedown-confirmation", json={"action": "removed"}
        )
        assert removed.status_code == 200, removed.text
        wait_until(lambda: at_centre()[0].removed is True, 30, "the removal at the centre")
        with centre_db.unit_of_work() as session:
            # The upload's Member State, as the report's geo data would say.
            session.get_one(CentreReport, report.id).country = "DE"
        with centre_db.unit_of_work() as session:
            assessment = forward_report(session, report.id, datetime.now(UTC))
        assert assessment.recipients == ("europol", "lea-de")

        wait_until(lambda: len(lea.deliveries) >= 2, 30, "deliveries to Europol and the LEA")

        def provider_status() -> str:
            with provider_db.reader() as session:
                status: str = session.scalars(
                    select(OutboxMessage.status).where(
                        OutboxMessage.destination == "centre", OutboxMessage.kind == "report"
                    )
                ).one()
                return status

        wait_until(
            lambda: provider_status() == MessageStatus.FORWARDED,
            30,
            "the provider learns: forwarded",
        )
        assert sorted(path for path, _ in lea.deliveries) == ["/europol", "/lea-de"]
        assert lea.refused == 0

        with centre_db.unit_of_work() as session:
            confirm_indicator(
                session,
                report.id,
                "analyst-1",
                datetime.now(UTC),
                authority_confirmation="placeholder authority reference 1",
            )
        tries = itertools.count(2)

        def matched_by_centre() -> bool:
            # A new upload each time: a verdict, once given, is the item's for good.
            view = upload(client, f"upload-{next(tries)}", edited_copy(known, "reencode"))
            matches = view["matches"]
            assert isinstance(matches, list)
            return any(m["bank"] == "eu-centre" for m in matches)

        wait_until(matched_by_centre, 60, "the centre's indicator matching a new upload")
        # Exactly one delivery each, however often the senders ran.
        assert len(lea.deliveries) == 2

        # A complaint reverses the decision (DSA Art 20(4)): the report is retracted.
        complaint = client.post(
            "/v1/complaints",
            json={"complaint_id": "c-1", "item_id": "upload-1", "grounds": "My own drawing."},
        )
        assert complaint.status_code == 202, complaint.text
        decide_complaint(
            provider_db,
            int(complaint.json()["id"]),
            SENIOR,
            True,
            follow_ups=follow_ups_from(settings),
        )
        wait_until(lambda: "retracted" in at_centre()[0].tags, 30, "the retraction at the centre")
