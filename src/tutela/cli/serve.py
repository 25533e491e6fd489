"""`tutela serve` (API and detection workers) and `tutela worker` (a detection worker alone)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tutela.cli.app import app, load_settings
from tutela.cli.outbox import start_provider_sender
from tutela.db.database import open_database
from tutela.db.serve_lock import one_server_on_sqlite
from tutela.detection.supervisor import WorkerSupervisor
from tutela.logs import configure_logging
from tutela.nodes.provider import create_app
from tutela.nodes.serving import run_http
from tutela.nodes.worker import run_worker_node
from tutela.settings import Settings

HashWorkers = Annotated[
    int | None,
    typer.Option(
        "--hash-workers",
        min=1,
        help="Isolated hashing processes of the API and of each detection worker "
        "[default: one per CPU this process may use].",
        show_default=False,
    ),
]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, e.g. a container's cpuset), at least one."""
    return max(1, len(os.sched_getaffinity(0)))


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="Detection worker processes to run.")
    ] = 1,
    hash_workers: HashWorkers = None,
) -> None:
    """Run the provider node: the HTTP API, and detection workers that decide every item."""
    # Several on one PostgreSQL database are one node (replicas behind a reverse proxy,
    # docs/replicas.md); on SQLite a second is refused.
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    # Migrate once here, before workers and API open the database concurrently.
    database = open_database(settings)
    with one_server_on_sqlite(database):
        database.close()
        serve_node(settings, host=host, port=port, workers=workers, hash_workers=hash_workers)


def serve_node(
    settings: Settings, *, host: str, port: int, workers: int, hash_workers: int | None
) -> None:
    processes = hash_workers or usable_cpus()
    supervisor = WorkerSupervisor(settings, count=workers, hash_workers=processes)
    supervisor.start()
    # Reports to the centre and the centre's indicator feed (see `tutela outbox run`).
    sender_database = open_database(settings, migrate=False)
    stop_sender = start_provider_sender(settings, sender_database)
    try:
        run_http(create_app(settings, hash_workers=processes), settings, host=host, port=port)
    finally:
        stop_sender()
        sender_database.close()
        supervisor.stop()


@app.command("worker")
def worker_command(hash_workers: HashWorkers = None) -> None:
    """Run one detection worker (for scaling workers apart from the API)."""
    run_worker_node(load_settings(), hash_workers=hash_workers or usable_cpus())
