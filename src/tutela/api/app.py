"""The provider node's HTTP API: `create_app(settings)` wires database, matcher, hashing pool,
metrics, routes and the one error handler. Nothing happens at import. The node itself (this API
and the review console) is assembled in `tutela.nodes.provider`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import tutela
from tutela.api import centre_messages, enforcement, hashing, health, hma, items, orders, webhooks
from tutela.api.deps import Services
from tutela.api.intake import Intake
from tutela.api.lifespan import node_lifespan, running
from tutela.api.matcher_refresh import MatcherRefresher
from tutela.api.metrics import NodeMetrics
from tutela.api.middleware import BodyLimit, RequestMetrics, harden
from tutela.api.problems import install_problem_handlers
from tutela.auth.api_keys import ApiKeyCache
from tutela.clock import Clock, SystemClock
from tutela.db.database import Database, open_database
from tutela.detection.bases import DetectionGate
from tutela.detection.hashing_service import HashingService
from tutela.detection.held_payloads import sealing_key
from tutela.indicators.matcher import Matcher
from tutela.settings import Settings


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    matcher: Matcher | None = None,
    hash_workers: int = 1,
    clock: Clock | None = None,
) -> FastAPI:
    """A provider node app. Resources passed in are the caller's to close; the rest are its own.
    `clock` is the time detection orders and voluntary bases are in force by, and the time the
    order routes take as a receipt's (tests move it).

    `hash_workers` isolated processes hash the uploads of `/v1/hash`, `/v1/match` and, while
    they keep up, `/v1/items` (see tutela.api.intake); never this process itself.
    """
    owns_database = database is None
    database = database or open_database(settings)
    matcher = matcher or Matcher(database)
    metrics = NodeMetrics(database)
    master_key = sealing_key(settings)
    node_clock = clock or SystemClock()

    @asynccontextmanager
    async def services(app: FastAPI) -> AsyncIterator[None]:
        # Lookups read the matcher only; it follows changes here (see api.matcher_refresh).
        # On PostgreSQL also at once when a change commits (LISTEN/NOTIFY): replicas agree.
        refresh_s = settings.matcher_refresh_ms / 1000
        refresher = MatcherRefresher(matcher, refresh_s, database=database)
        async with HashingService(
            settings.media, workers=hash_workers, video_workers=settings.video_workers
        ) as hashing_service:
            intake = Intake(
                database,
                matcher,
                hashing_service,
                inline_limit=settings.inline_hashing_depth * hash_workers,
                master_key=master_key,
                gate=DetectionGate(database, clock),
            )
            keys = ApiKeyCache(database)
            app.state.services = Services(
                settings, database, matcher, hashing_service, metrics, intake, keys, node_clock
            )
            async with running(refresher):
                yield

    app = FastAPI(
        title="Tutela provider node",
        version=tutela.__version__,
        description="Match uploads against known-material hash lists (EU CSA Regulation).",
        lifespan=node_lifespan(
            database, owns_database=owns_database, warm=[matcher.load], held=[services]
        ),
    )
    # What signed requests bring is stamped by it (tutela.api.signed_requests.node_clock).
    app.state.clock = node_clock
    install_problem_handlers(app)
    for module in (health, hashing, hma, items, webhooks, centre_messages, enforcement, orders):
        app.include_router(module.router)
    # Uploads stream to disk and keep to their own limits (a video's is larger) as they do.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.media.max_bytes,
        larger=dict.fromkeys(
            ("/v1/items", "/v1/match"),
            max(settings.media.max_bytes, settings.media.max_video_bytes),
        ),
    )
    app.add_middleware(RequestMetrics, metrics=metrics)
    harden(app, settings)
    return app
