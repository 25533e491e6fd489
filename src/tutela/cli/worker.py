"""`tutela worker`: one detection worker, apart from the API (for scaling workers separately).

Its own module, so that a worker does not import the provider's web apps and console.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tutela.cli.app import app, load_settings
from tutela.nodes.worker import run_worker_node, usable_cpus

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


@app.command("worker")
def worker_command(hash_workers: HashWorkers = None) -> None:
    """Run one detection worker (for scaling workers apart from the API)."""
    run_worker_node(load_settings(), hash_workers=hash_workers or usable_cpus())
