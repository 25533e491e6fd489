"""The centre node's composition root: the centre's HTTP API (tutela.api.centre) with the
analysts' triage console (tutela.ui.centre_pages) mounted on it, over one database; and
`serve_centre`, which runs it beside its outbox sender (`tutela centre serve`)."""

from __future__ import annotations

from fastapi import FastAPI

from tutela.api.centre import create_centre_app as create_centre_api
from tutela.api.centre import open_centre_database
from tutela.clock import Clock
from tutela.db.database import Database
from tutela.messaging.signing import SigningKey
from tutela.nodes.sending import centre_sender
from tutela.nodes.serving import run_http
from tutela.settings import Settings
from tutela.ui.centre_pages import install_centre_console

__all__ = ["centre_app_from_env", "create_centre_app", "open_centre_database", "serve_centre"]

# What `tutela centre serve --workers N` hands uvicorn, for each worker to build its own app.
CENTRE_APP_FACTORY = "tutela.nodes.centre:centre_app_from_env"


def create_centre_app(
    settings: Settings,
    database: Database | None = None,
    *,
    key: SigningKey | None = None,
    owns: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """A centre node app: its API (see `tutela.api.centre.create_centre_app`, whose arguments
    these are) and the triage console at /ui. A database passed in is the caller's to close,
    unless `owns`."""
    db = database or open_centre_database(settings)
    app = create_centre_api(settings, db, key=key, owns=database is None or owns, clock=clock)
    install_centre_console(app, settings, db)
    return app


def centre_app_from_env() -> FastAPI:
    """The app of one uvicorn worker process (`uvicorn.run(..., factory=True)`): settings from
    the environment; the schema was brought up to date by the serving command before the
    workers started."""
    settings = Settings.from_env()
    return create_centre_app(settings, open_centre_database(settings, migrate=False), owns=True)


def serve_centre(settings: Settings, *, host: str, port: int, workers: int, sender: bool) -> None:
    """Serve the centre until stopped: `workers` HTTP processes (one serves in this process),
    and, with `sender`, the outbox sender in this process, once, however many workers serve."""
    database = open_centre_database(settings)
    stop_sender = centre_sender(settings, database).start() if sender else None
    try:
        if workers == 1:
            run_http(create_centre_app(settings, database), settings, host=host, port=port)
        else:
            # Each worker builds its own app from the environment this process read.
            run_http(CENTRE_APP_FACTORY, settings, host=host, port=port, workers=workers)
    finally:
        if stop_sender is not None:
            stop_sender()
        database.close()
