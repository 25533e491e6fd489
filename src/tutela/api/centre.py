"""The centre node's HTTP API: `create_centre_app(settings, database)`, its routers by area —
report intake and status polls (tutela.api.centre_intake), follow-ups to reports
(tutela.api.centre_updates), the signed indicator feed (tutela.api.centre_feed), the URL list
(tutela.api.url_list), victims' requests (tutela.api.victims), the copies of authorities' orders
(tutela.api.centre_order_copies) — each signed route taking its request through the one
signed-request dependency (tutela.api.signed_requests, tutela.api.centre_deps); the rules are in
`tutela.centre`. The node itself (this API and the analysts' console) is assembled in
`tutela.nodes.centre`.

`tutela centre serve --workers N` runs N processes, each built by
`tutela.nodes.centre.centre_app_from_env`; they share nothing but the database, which is all
intake and linking rely on (see `tutela.centre.linking`)."""

from __future__ import annotations

from fastapi import FastAPI

import tutela
from tutela.api import (
    centre_feed,
    centre_intake,
    centre_order_copies,
    centre_updates,
    url_list,
    victims,
)
from tutela.api.centre_deps import POOL_SIZE, CentreApi
from tutela.api.centre_metrics import install_centre_metrics
from tutela.api.lifespan import node_lifespan
from tutela.api.liveness import liveness
from tutela.api.middleware import harden
from tutela.api.problems import install_problem_handlers
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database
from tutela.db.engine import create_engine_from
from tutela.messaging.signing import SigningKey, SigningWindow
from tutela.settings import Settings

ROUTERS = (
    liveness,
    centre_intake.router,
    centre_updates.router,
    centre_feed.router,
    url_list.router,
    victims.router,
    centre_order_copies.router,
)


def open_centre_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The centre's database, with a connection pool sized for its intake threads."""
    database = Database(create_engine_from(settings, pool_size=POOL_SIZE, max_overflow=8))
    if migrate:
        database.upgrade()
    return database


def create_centre_app(
    settings: Settings,
    database: Database | None = None,
    *,
    key: SigningKey | None = None,
    owns: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """A centre node app. A database passed in is the caller's to close, unless `owns`. The
    centre's key is read on first use, so a node that only takes reports runs without one.
    `clock` stamps what signed requests bring (the machine's by default; tests fix it)."""
    owns_database = database is None or owns
    db = database or open_centre_database(settings)
    centre = CentreApi(settings, db, SigningWindow.of(settings), signing_key=key)
    app = FastAPI(
        title="Tutela centre node",
        version=tutela.__version__,
        description="EU Centre: receives signed reports, triages and forwards them (Art 46-48).",
        lifespan=node_lifespan(db, owns_database=owns_database, warm=[centre.linker.warm]),
    )
    app.state.centre = centre
    app.state.clock = clock or SystemClock()
    install_problem_handlers(app)
    harden(app, settings)  # body deadline, security headers, no bare 500 (tutela.api.middleware)
    for router in ROUTERS:
        app.include_router(router)
    # The Art 83(3) figures as Prometheus gauges, for a key with the `metrics` scope.
    install_centre_metrics(app, db)
    return app
