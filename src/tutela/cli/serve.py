"""`tutela serve` (API and detection workers) and `tutela worker` (a detection worker alone)."""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.cli.app import app, load_settings
from tutela.logs import configure_logging
from tutela.nodes.provider import serve_provider, usable_cpus
from tutela.nodes.worker import run_worker_node

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


@app.command("worker")
def worker_command(hash_workers: HashWorkers = None) -> None:
    """Run one detection worker (for scaling workers apart from the API)."""
    run_worker_node(load_settings(), hash_workers=hash_workers or usable_cpus())
