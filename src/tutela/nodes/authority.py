"""The authority node's composition root: the authority's HTTP API (tutela.api.authority) with
the case officers' and supervisors' console (tutela.ui.authority_pages) and its supervision
per provider (tutela.ui.authority_provider_pages) mounted on it; and `serve_authority`, which
runs it beside its outbox sender (`tutela authority serve`)."""

from __future__ import annotations

from fastapi import FastAPI

from tutela.api.authority import create_authority_app as create_authority_api
from tutela.clock import Clock
from tutela.db.database import Database, open_database
from tutela.nodes.sending import authority_sender
from tutela.nodes.serving import run_http
from tutela.settings import Settings
from tutela.ui import authority_provider_pages
from tutela.ui.authority_pages import install_authority_console


def create_authority_app(
    settings: Settings, database: Database | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """An authority node app: its API and the console at /ui (orders, their state and
    reports). A database passed in is the caller's to close; `clock` stamps receipts."""
    db = database or open_database(settings)
    app = create_authority_api(settings, db, owns=database is None, clock=clock)
    install_authority_console(app, settings, db)
    # Supervision per provider: its orders, Art 5 reports, yearly figures, compliance record.
    app.include_router(authority_provider_pages.router)
    return app


def serve_authority(settings: Settings, *, host: str, port: int) -> None:
    """Serve the authority node until stopped, its outbox sender beside it in this process."""
    database = open_database(settings)
    stop_sender = authority_sender(settings, database).start()
    try:
        run_http(create_authority_app(settings, database), settings, host=host, port=port)
    finally:
        stop_sender()
        database.close()
