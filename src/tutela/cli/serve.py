"""`tutela serve`: the provider node, its API and detection workers."""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.cli.app import app, load_settings
from tutela.cli.worker import HashWorkers
from tutela.logs import configure_logging
from tutela.nodes.provider import serve_provider


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
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve_provider(settings, host=host, port=port, workers=workers, hash_workers=hash_workers)
