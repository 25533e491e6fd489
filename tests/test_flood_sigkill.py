"""Nothing accepted is lost (DESIGN rule 4): 600 reports filed at the provider all reach the
centre exactly once, though the provider's sender and the centre are SIGKILLed mid-flood."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from report_samples import PROVIDER, sample_input
from tutela.centre.models import CentreReport
from tutela.centre.providers import register_provider
from tutela.db import open_database
from tutela.messaging.outbox_models import MessageStatus, OutboxMessage
from tutela.reporting.filing import file_report
from two_nodes import Node, base_env, closing_database, make_keys, node_settings, ports, wait_until

# Enough for each kill to land mid-flood, with claims held and more to come (asserted below):
# 30 claims of 20 messages. 2,000 proved nothing more and took over a minute and a half.
REPORTS = 600


@pytest.mark.slow
def test_every_report_reaches_the_centre_once_though_sender_and_centre_are_killed(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        provider_settings = node_settings(stack, tmp_path / "provider")
        centre_settings = node_settings(stack, tmp_path / "centre")
        keys = make_keys(provider_settings.data_dir, centre_settings.data_dir)
        _, centre_port = ports()
        now = datetime.now(UTC)
        centre_db = stack.enter_context(closing_database(open_database(centre_settings)))
        with centre_db.unit_of_work() as session:
            register_provider(session, PROVIDER.name, keys.provider.public_key_pem(), now, "NL")
        provider_db = stack.enter_context(closing_database(open_database(provider_settings)))
        with provider_db.unit_of_work() as session:
            for case_id in range(REPORTS):
                file_report(session, sample_input(case_id), PROVIDER, keys.provider, now)

        centre = Node(
            centre_settings,
            base_env(centre_settings),
            centre_port,
            ["centre", "serve", "--no-sender"],
            tmp_path / "centre.log",
        )
        sender_env = base_env(
            provider_settings,
            TUTELA_CENTRE_URL=centre.url,
            TUTELA_OUTBOX_INTERVAL_S="0.1",
            # A killed sender's claims run out quickly, so the test need not wait 5 minutes.
            TUTELA_OUTBOX_CLAIM_S="3",
            # Retries while the centre restarts come within a second, not after 5 s, 10 s, ...
            TUTELA_OUTBOX_BACKOFF_S="0.2",
        )
        senders = [
            Node(provider_settings, sender_env, 0, ["outbox", "run"], tmp_path / f"s{i}.log")
            for i in range(2)
        ]
        # Processes start side by side (each takes seconds to import); a sender that finds the
        # centre not up yet retries within a second.
        centre.spawn()
        stack.callback(centre.stop)
        for sender in senders:
            sender.spawn()
            stack.callback(sender.stop)
        centre.wait_ready()

        def received() -> int:
            with centre_db.reader() as session:
                return int(session.scalar(select(func.count()).select_from(CentreReport)) or 0)

        wait_until(lambda: received() >= REPORTS // 4, 40, "a quarter of the flood")
        senders[0].kill()  # mid-flood, claims held, perhaps mid-request
        assert received() < REPORTS, "the flood was over before the sender was killed"
        wait_until(lambda: received() >= REPORTS // 2, 40, "half of the flood")
        centre.kill()  # mid-intake
        assert received() < REPORTS, "the flood was over before the centre was killed"
        centre.spawn()
        senders[0].spawn()
        centre.wait_ready()
        wait_until(lambda: received() >= REPORTS, 180, "the whole flood at the centre")

        with centre_db.reader() as session:
            uids = session.scalars(select(CentreReport.report_uid)).all()
        assert len(uids) == len(set(uids)) == REPORTS

        def all_acknowledged() -> bool:
            with provider_db.reader() as session:
                statuses = session.scalars(select(OutboxMessage.status)).all()
            return set(statuses) == {MessageStatus.ACKNOWLEDGED}

        wait_until(all_acknowledged, 30, "every message acknowledged at the provider")
