"""The provider node's composition root: the HTTP API (tutela.api.app) with the review console
(tutela.ui.console) mounted on it; and `serve_provider`, which runs it beside its detection
workers and its outbox sender (`tutela serve`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from fastapi import FastAPI

from tutela.api.app import create_app as create_api_app
from tutela.db.database import open_database
from tutela.db.serve_lock import one_server_on_sqlite
from tutela.detection.supervisor import WorkerSupervisor
from tutela.nodes.provider_sending import provider_sender
from tutela.nodes.serving import run_http
from tutela.nodes.worker import usable_cpus
from tutela.settings import Settings
from tutela.ui.console import install_console

P = ParamSpec("P")


def with_console(build: Callable[P, FastAPI]) -> Callable[P, FastAPI]:
    """`build` (an app factory of the API), then the review console at /ui on what it built."""

    @wraps(build)
    def create(*args: P.args, **kwargs: P.kwargs) -> FastAPI:
        app = build(*args, **kwargs)
        install_console(app)
        return app

    return create


# A provider node app: the arguments are the API's (tutela.api.app.create_app).
create_app = with_console(create_api_app)


def serve_provider(
    settings: Settings, *, host: str, port: int, workers: int, hash_workers: int | None
) -> None:
    """Serve the provider node until stopped: the API (`hash_workers` hashing processes, by
    default one per usable CPU), `workers` detection workers and the outbox sender. Several on
    one PostgreSQL database are one node (replicas behind a reverse proxy, docs/replicas.md); on
    SQLite a second is refused."""
    # Migrate once here, before workers and API open the database concurrently.
    database = open_database(settings)
    with one_server_on_sqlite(database):
        database.close()
        processes = hash_workers or usable_cpus()
        supervisor = WorkerSupervisor(settings, count=workers, hash_workers=processes)
        supervisor.start()
        # Reports to the centre and the centre's indicator feed (see `tutela outbox run`).
        sender_database = open_database(settings, migrate=False)
        stop_sender = provider_sender(settings, sender_database).start()
        try:
            app = create_app(settings, hash_workers=processes)
            run_http(app, settings, host=host, port=port)
        finally:
            stop_sender()
            sender_database.close()
            supervisor.stop()
