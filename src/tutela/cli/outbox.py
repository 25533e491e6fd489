"""`tutela outbox run|deliver`: the provider's sender of reports to the centre (and followers of
the centre's indicator feed). `tutela outbox list|retry`: what was sent, what failed, and a failed
message sent again. `tutela serve` starts the same loop in a thread through
`start_provider_sender`; `outbox run` runs it alone, e.g. beside an API-only node.
`tutela outbox ncmec credentials`: the CyberTipline account the `ncmec` transport reports through;
`tutela outbox ncmec uncertain|settle`: CyberTipline reports whose answer to /submit was lost."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Annotated

import typer

from tutela.audit.log import Action, Subject, record
from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.db.database import Database
from tutela.db.types import utc_now
from tutela.enforcement.schedule import enforcement_tasks
from tutela.enforcement.vault import PreservationReason, Vault
from tutela.errors import ConfigurationError, InvalidInput
from tutela.indicators.feed_subscription import HttpFeedClient, follow_feed, subscribed_banks
from tutela.indicators.snapshot_keeper import EVERY_S as SNAPSHOT_EVERY_S
from tutela.indicators.snapshot_keeper import SnapshotKeeper
from tutela.logs import configure_logging
from tutela.messaging.http import open_client
from tutela.messaging.outbox import deliver_due
from tutela.messaging.sender import PeriodicTask, run_sender, start_sender_thread
from tutela.messaging.signing import default_key_file, load_key_file
from tutela.messaging.transports import (
    ContentSource,
    Transport,
    TransportContext,
    create_transports,
)
from tutela.operations.outbox_listing import list_messages, retry_message
from tutela.operations.sender_tasks import alert_task, alert_transports
from tutela.orders.access_exports import end_orders
from tutela.orders.access_reports import report_access_orders
from tutela.orders.deadlines import EVERY_S as ORDERS_EVERY_S
from tutela.orders.deadlines import mark_overdue
from tutela.orders.transport import order_transports
from tutela.reporting.filing import NCMEC
from tutela.reporting.transports.dsa_tdb import statement_transports
from tutela.reporting.transports.ncmec import DEFAULT_URL, store_credentials
from tutela.reporting.transports.ncmec_settlement import (
    settle_uncertain_submit,
    uncertain_submits,
)
from tutela.review.confirmation import report_destinations
from tutela.settings import Settings

outbox_app = typer.Typer(name="outbox", help="Messages to other nodes.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
ncmec_app = typer.Typer(
    name="ncmec",
    help="Reporting to NCMEC's CyberTipline: its credentials, and reports whose answer to "
    "/submit was lost, for a person to settle.",
    no_args_is_help=True,
)
outbox_app.add_typer(ncmec_app, name="ncmec")
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
log = logging.getLogger("tutela.outbox")
# Who opens the vault to upload reported content to NCMEC, and why (both go to the audit log).
NCMEC_ACTOR = "system:ncmec-transport"
NCMEC_PURPOSE = "upload to the NCMEC CyberTipline report of this item (18 U.S.C. 2258A)"


def provider_transports(settings: Settings, database: Database) -> dict[str, Transport]:
    """The transports this provider delivers through: the centre once TUTELA_CENTRE_URL is set,
    NCMEC's CyberTipline with TUTELA_REPORT_NCMEC (see report_destinations)."""
    names = report_destinations(settings)
    content = reported_content(settings, database) if NCMEC in names else None
    context = TransportContext(settings, database, open_client(), content_source=content)
    transports = create_transports(names, context)
    # Execution reports of removal orders go back to the authorities (tutela.orders).
    orders = order_transports(context.client)
    # Statements of reasons go to the DSA Transparency Database once TUTELA_DSA_TDB_URL is set.
    statements = statement_transports(context)
    return {**transports, **orders, **statements, **alert_transports(settings, context.client)}


def reported_content(settings: Settings, database: Database) -> ContentSource:
    """The content of a reported item, for a transport that uploads it (NCMEC): opened from
    the evidence vault, where the confirmation preserved it, each opening in the audit log."""
    try:
        vault = Vault.from_settings(settings)
    except ConfigurationError as error:
        raise ConfigurationError(
            "TUTELA_REPORT_NCMEC uploads reported content from the evidence vault, with the key "
            f"of the node that decides: {error.message}"
        ) from None

    def content(item_ref: str) -> bytes | None:
        evidence = vault.open_latest(
            database, item_ref, PreservationReason.REPORT, NCMEC_ACTOR, NCMEC_PURPOSE
        )
        return evidence.content if evidence is not None else None

    return content


def feed_tasks(settings: Settings, database: Database) -> list[PeriodicTask]:
    """One periodic task that brings every subscribed bank up to date with the centre's feed."""
    key_file = default_key_file(settings)
    if not key_file.exists():
        return []  # the feed is for registered providers; without a key there is no access
    client = HttpFeedClient(open_client(), load_key_file(key_file))

    def follow_all() -> None:
        for bank in subscribed_banks(database):
            try:
                follow_feed(database, bank, client, utc_now())
            except Exception as error:  # one bank's trouble must not stop the others
                log.warning("bank %s: feed not followed: %s", bank, type(error).__name__)

    return [PeriodicTask("indicator-feed", settings.feed_interval_s, follow_all)]


def this_machine_lock() -> str:
    """The lock name of the snapshot keeper: one per machine, not one per node."""
    return f"matcher-snapshot:{socket.gethostname()}"


def provider_tasks(settings: Settings, database: Database) -> list[PeriodicTask]:
    """What the provider's sender runs beside delivery: the feed followers, the timed steps of
    enforcement, and the keeper of the matcher snapshot."""
    keeper = SnapshotKeeper(database, [sys.executable, "-m", "tutela", "bank", "snapshot"])
    return [
        *feed_tasks(settings, database),
        *enforcement_tasks(settings, database),
        # Each machine keeps the snapshot in its own data directory.
        PeriodicTask("matcher-snapshot", SNAPSHOT_EVERY_S, keeper, lock=this_machine_lock()),
        alert_task(settings, database),
        PeriodicTask("orders-overdue", ORDERS_EVERY_S, partial(mark_overdue, database)),
        PeriodicTask("orders-ended", ORDERS_EVERY_S, partial(end_orders, database)),
        # Blocking and delisting orders in force: their signed execution reports.
        PeriodicTask(
            "orders-access-reports",
            ORDERS_EVERY_S,
            partial(
                report_access_orders,
                database,
                lambda: load_key_file(default_key_file(settings)),
            ),
        ),
    ]


def start_provider_sender(settings: Settings, database: Database) -> Callable[[], None]:
    """Start the provider's sender in a daemon thread (see provider_tasks); return the function
    that stops it."""
    return start_sender_thread(
        database,
        provider_transports(settings, database),
        interval_s=settings.outbox_interval_s,
        max_attempts=settings.outbox_max_attempts,
        claim_s=settings.outbox_claim_s,
        backoff_base_s=settings.outbox_backoff_s,
        tasks=provider_tasks(settings, database),
    )


@outbox_app.command("run")
def run_command() -> None:
    """Deliver queued messages, follow subscribed feeds, run the timed steps of enforcement and
    keep the matcher snapshot fresh until stopped (SIGTERM, Ctrl-C): what `tutela serve` runs
    beside its API."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with opened_database() as database:
        try:
            run_sender(
                database,
                provider_transports(settings, database),
                stop,
                interval_s=settings.outbox_interval_s,
                max_attempts=settings.outbox_max_attempts,
                claim_s=settings.outbox_claim_s,
                backoff_base_s=settings.outbox_backoff_s,
                tasks=provider_tasks(settings, database),
            )
        except KeyboardInterrupt:
            stop.set()


@outbox_app.command("deliver")
def deliver_command(
    limit: Annotated[int, typer.Option(min=1, help="Messages to try at most.")] = 100,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Deliver what is due once, and say what happened."""
    settings = load_settings()
    with opened_database() as database:
        deliver = partial(deliver_due, database, provider_transports(settings, database))
        run = deliver(utc_now(), limit=limit, max_attempts=settings.outbox_max_attempts)
    result = {
        "delivered": len(run.delivered),
        "retrying": len(run.retrying),
        "failed": len(run.failed),
    }
    if json_lines:
        print_json(result)
    else:
        sys.stdout.write(
            f"delivered {result['delivered']}, retrying {result['retrying']}, "
            f"failed {result['failed']}\n"
        )


@outbox_app.command("list")
def list_command(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only messages failed for good.")
    ] = False,
    transport: Annotated[
        str | None,
        typer.Option("--transport", help="Only this transport (centre, ncmec, operator-alerts…)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    json_lines: JsonOption = False,
) -> None:
    """List messages to other nodes, newest first, without their contents."""
    with opened_database() as database, database.reader() as session:
        messages = list_messages(session, failed_only=failed, transport=transport, limit=limit)
    for message in messages:
        if json_lines:
            print_json(message.as_dict())
        else:
            sys.stdout.write(
                f"{message.id:>8}  {message.transport:<16} {message.kind:<24} "
                f"{message.status:<22} tries {message.attempts:<3} "
                f"{message.last_error or '-'}\n"
            )
    if not messages and not json_lines:
        sys.stdout.write("no such message\n")


@outbox_app.command("retry")
def retry_command(
    message_id: Annotated[int, typer.Argument(help="A failed message's id (`outbox list`).")],
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Queue a failed message again, with a fresh count of attempts (audited)."""
    with opened_database() as database:
        message = retry_message(database, message_id, operator_actor(), utc_now())
    if json_lines:
        print_json(message.as_dict())
    else:
        sys.stdout.write(f"message {message.id} to {message.transport} is queued again\n")


@ncmec_app.command("credentials")
def ncmec_credentials_command(
    username: Annotated[
        str, typer.Option("--username", help="Your CyberTipline Reporting API user name.")
    ],
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="Base URL of the Reporting API; the default is NCMEC's test service, NCMEC gives "
            "the production one with the account.",
        ),
    ] = DEFAULT_URL,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
) -> None:
    """Store the account the `ncmec` transport reports through (TUTELA_REPORT_NCMEC), sealed
    under TUTELA_SECRETS_KEY; asks for the password unless --password-stdin. Audited, without
    the password."""
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("--url must be an http(s) URL, e.g. " + DEFAULT_URL)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("CyberTipline password", hide_input=True)
    name = username.strip()
    if not password or not name:
        raise InvalidInput("both a user name and a password are needed")
    settings = load_settings()
    with opened_database() as database, database.unit_of_work() as session:
        store_credentials(session, settings.secrets_key, name, password, url)
        record(
            session,
            operator_actor(),
            Action.SETTING_CHANGE,
            Subject("ncmec_credentials", "cybertipline"),
            {"username": name, "url": url},
            now=utc_now(),
        )
    sys.stdout.write(f"NCMEC reporting credentials stored for {name} at {url}\n")


@ncmec_app.command("uncertain")
def ncmec_uncertain_command(json_lines: JsonOption = False) -> None:
    """List reports whose /submit may have created a report at NCMEC: look each up on NCMEC's
    side by the time of the submit and the reported account, then `settle` it."""
    with opened_database() as database, database.reader() as session:
        submits = uncertain_submits(session)
    for submit in submits:
        if json_lines:
            print_json(submit.as_dict())
        else:
            sys.stdout.write(
                f"{submit.id:>8}  {submit.submitted_at.isoformat():<32} {submit.transport:<8} "
                f"message {submit.message_id:<8} report {submit.report}  "
                f"account {submit.reported_account or '-'}\n"
            )
    if not submits and not json_lines:
        sys.stdout.write("no NCMEC report awaits a settlement\n")


@ncmec_app.command("settle")
def ncmec_settle_command(
    report: Annotated[
        int, typer.Argument(help="The report's id, as `tutela outbox ncmec uncertain` lists it.")
    ],
    by: Annotated[str, typer.Option("--by", help="Your name, for the audit log.")],
    exists: Annotated[
        str | None,
        typer.Option(
            "--exists",
            metavar="REPORT_ID",
            help="NCMEC holds the report under this CyberTipline report id: record it and "
            "send the files and /finish.",
        ),
    ] = None,
    absent: Annotated[
        bool,
        typer.Option("--absent", help="NCMEC holds no such report: submit it afresh."),
    ] = False,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Settle one report whose answer to /submit was lost (exactly one of --exists, --absent);
    its outbox message is queued again and the settlement is audited."""
    if (exists is None) == (not absent):
        raise InvalidInput("say what NCMEC shows: either --exists REPORT_ID or --absent")
    with opened_database() as database, database.unit_of_work() as session:
        settled = settle_uncertain_submit(
            session, report, exists, by=by, now=utc_now(), via=operator_actor()
        )
    if json_lines:
        print_json(
            {
                **settled.submit.as_dict(),
                "outcome": "exists" if settled.ncmec_report_id else "absent",
                "ncmec_report_id": settled.ncmec_report_id,
            }
        )
    elif settled.ncmec_report_id:
        sys.stdout.write(
            f"NCMEC report {report} recorded as CyberTipline report {settled.ncmec_report_id}; "
            f"message {settled.submit.message_id} is queued to upload its files and finish\n"
        )
    else:
        sys.stdout.write(
            f"NCMEC report {report} recorded as absent at NCMEC; message "
            f"{settled.submit.message_id} is queued to submit it afresh\n"
        )
