"""Fixtures for the provider-node tests: drawn images, edited copies, a running node, API keys.

Not a test module. Every image is drawn here (DESIGN ground rule 1).
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tutela.auth.api_keys import SCOPES, create_api_key
from tutela.auth.platforms import DEFAULT_PLATFORM
from tutela.clock import Clock
from tutela.db.database import Database
from tutela.detection.hasher import Hasher
from tutela.detection.items import ItemView, accept_signals, get_item
from tutela.detection.pipeline import process_batch
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.media.limits import MediaLimits
from tutela.nodes.provider import create_app
from tutela.settings import Settings
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

TUTELA = str(Path(sys.executable).parent / "tutela")
EDITS = ("resize", "reencode", "flip")


def drawn_image(seed: int, size: int = 320) -> Image.Image:
    """A picture of random shapes, distinct per seed (PDQ ~128 bits apart), well textured."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(24):
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 10, size // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1.5))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def edited_copy(image: Image.Image, edit: str) -> bytes:
    """What an uploader does to a known picture: shrink it, re-encode it, mirror it."""
    if edit == "resize":
        return jpeg(image.resize((image.width * 7 // 10, image.height * 7 // 10)), 85)
    if edit == "reencode":
        return jpeg(image, 55)
    if edit == "flip":
        return png(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    raise ValueError(edit)


def make_bank(database: Database, name: str, images: list[Image.Image]) -> None:
    """A bank holding the exact PDQ of each image, as an indicator list maker would compute."""
    create_bank(database, name, verified=True)
    for image in images:
        value = pdq_of_bytes(png(image), mode=PdqMode.EXACT).hash
        add_indicator(database, name, "pdq", value)


def flip_bits(pdq: str, count: int) -> str:
    """A PDQ hash `count` bits away from `pdq` (the lowest bits flipped)."""
    return f"{int(pdq, 16) ^ ((1 << count) - 1):064x}"


def decide_signals(
    database: Database, signals: list[dict[str, str]], *, prefix: str = "item"
) -> list[ItemView]:
    """Submit hash-only items and run them through the worker's pipeline (claim, match, policy,
    record in one batch); their views, in order. Nothing is hashed, so no process is started."""
    ids = [
        accept_signals(database, f"{prefix}-{i}", {"item_id": f"{prefix}-{i}"}, item).id
        for i, item in enumerate(signals)
    ]
    run_pipeline(database)
    return [get_item(database, ident) for ident in ids]


def run_pipeline(database: Database, *, limit: int = 100) -> int:
    """One batch of the worker's pipeline over hash-only items; how many jobs it claimed."""
    hasher = Hasher(MediaLimits(), workers=1)  # never entered: hash-only items need no hashing
    return process_batch(
        database, hasher, Matcher(database), worker="test", limit=limit, lease_s=60
    )


def make_key(
    database: Database,
    name: str = "platform",
    scopes: tuple[str, ...] = SCOPES,
    *,
    platform: str = DEFAULT_PLATFORM,
) -> str:
    """A key of `platform`: by default the one the domain's own helpers (accept_signals,
    register_webhook…) write to, so tests may mix them with API calls."""
    return create_api_key(database, name, list(scopes), platform=platform)[1]


@asynccontextmanager
async def in_process_client(
    settings: Settings, database: Database, key: str = "", clock: Clock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the provider app in this process, its lifespan run as a server would (hashing
    pool started), with an API key (a new one unless `key` is given); `clock`: the node's time."""
    app = create_app(settings, database=database, hash_workers=1, clock=clock)
    headers = {"Authorization": f"Bearer {key or make_key(database)}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://node", headers=headers
        ) as client,
    ):
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningNode:
    """`tutela serve` in a subprocess on a free port."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def worker_pids(self) -> list[int]:
        text = self.log.read_text()
        started = re.findall(r"detection worker started pid=(\d+)", text)
        exited = set(re.findall(r"detection worker pid=(\d+) exited", text))
        return [int(pid) for pid in started if pid not in exited]

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)


def node_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env["TUTELA_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["TUTELA_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


@contextmanager
def running_node(
    settings: Settings,
    tmp_path: Path,
    *,
    workers: int = 2,
    hash_workers: int = 1,
    env: Mapping[str, str] | None = None,
    **variables: str,
) -> Iterator[RunningNode]:
    """`tutela serve` in a subprocess with extra environment variables: `env` (a mapping, as
    mypy can check) and/or `variables` (keywords)."""
    port = free_port()
    log = tmp_path / "node.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *(TUTELA, "serve", "--port", str(port), "--workers", str(workers)),
                *("--hash-workers", str(hash_workers)),
            ],
            env=node_env(settings, **(env or {}), **variables),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    node = RunningNode(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_ready(node)
        yield node
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(node: RunningNode, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node exited: {node.log.read_text()[-2000:]}")
        try:
            if httpx.get(node.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("node did not become ready")


def wait_decided(
    client: httpx.Client, ids: list[int], timeout_s: float = 120.0
) -> dict[int, dict[str, object]]:
    """Poll until every item is done; return their public views."""
    deadline = time.monotonic() + timeout_s
    done: dict[int, dict[str, object]] = {}
    while time.monotonic() < deadline:
        for ident in [i for i in ids if i not in done]:
            body = client.get(f"/v1/items/{ident}").json()
            if body["status"] == "done":
                done[ident] = body
        if len(done) == len(ids):
            return done
        time.sleep(0.3)
    raise AssertionError(f"{len(ids) - len(done)} items undecided after {timeout_s} s")
