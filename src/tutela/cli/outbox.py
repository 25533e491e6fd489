"""`tutela outbox run|deliver`: the provider's sender of reports to the centre (and followers of
the centre's indicator feed), as tutela.nodes.provider_sending assembles it. `tutela outbox
list|retry`: what was sent, what failed, and a failed message sent again. `tutela serve` starts
the same loop in a thread; `outbox run` runs it alone, e.g. beside an API-only node.
`tutela outbox ncmec credentials`: the CyberTipline account the `ncmec` transport reports through;
`tutela outbox ncmec uncertain|settle`: CyberTipline reports whose answer to /submit was lost."""

from __future__ import annotations

import signal
import sys
import threading
from functools import partial
from typing import Annotated

import typer

from tutela.audit.log import Action, Subject, record
from tutela.cli.app import app, load_settings, print_json
from tutela.cli.audit import operator_actor
from tutela.cli.db import opened_database
from tutela.clock import utc_now
from tutela.errors import InvalidInput
from tutela.logs import configure_logging
from tutela.messaging.outbox import deliver_due
from tutela.nodes.provider_sending import provider_sender, provider_transports
from tutela.operations.outbox_listing import list_messages, retry_message
from tutela.reporting.transports.ncmec import DEFAULT_URL, store_credentials
from tutela.reporting.transports.ncmec_settlement import (
    settle_uncertain_submit,
    uncertain_submits,
)

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
            provider_sender(settings, database).run(stop)
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
    by: Annotated[
        str,
        typer.Option("--by", help="Your account (a compliance officer's), named in the audit log."),
    ],
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
