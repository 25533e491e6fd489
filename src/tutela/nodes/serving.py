"""How every node's app is served: uvicorn with the options all nodes share (slow clients cut
off, no access log, X-Forwarded-For read by the app from TUTELA_TRUSTED_PROXIES only)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from tutela.api.http_server import server_options
from tutela.settings import Settings


def run_http(
    app: FastAPI | str, settings: Settings, *, host: str, port: int, workers: int = 1
) -> None:
    """Serve `app` until stopped. A string names a factory (`module:function`) that each of
    `workers` processes calls to build its own app."""
    options: dict[str, Any] = {"factory": True, "workers": workers} if isinstance(app, str) else {}
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # paths carry ids only, and the nodes have their own metrics
        proxy_headers=False,  # X-Forwarded-For: from TUTELA_TRUSTED_PROXIES only (tutela.auth)
        **server_options(settings),  # slow clients cut off (tutela.api.http_server)
        **options,
    )
