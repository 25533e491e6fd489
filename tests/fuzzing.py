"""Schema-driven fuzzing of a running node with schemathesis: every operation of an OpenAPI
document, valid and invalid requests, each answer checked (no 5xx; an error is problem details,
or the console's error page, with a code documented in tutela.errors).

Not a test module. TUTELA_FUZZ_EXAMPLES sets the examples per operation and mode (default 10,
a run of a few minutes); 400 makes a run of over 10,000 requests per node.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import requests
import schemathesis
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from provider_fixtures import TUTELA, free_port, node_env
from tutela import errors
from tutela.settings import Settings

EXAMPLES = int(os.environ.get("TUTELA_FUZZ_EXAMPLES", "10"))
PROBLEM = "application/problem+json"
PAGE_CODE = re.compile(r'data-code="([a-z_]+)"')
# Generated requests that the client library itself refuses to send (a header it cannot encode).
UNSENDABLE = (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError)


def documented_codes() -> set[str]:
    return {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.TutelaError)
    }


@dataclass
class Tally:
    """What a fuzzing run sent and what was wrong, by operation."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unsendable: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def check_answer(response: schemathesis.Response, codes: set[str]) -> str | None:
    """What is wrong with an answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}: {response.text[:300]}"
    if status < 400:
        return None
    kind = (response.headers.get("content-type") or [""])[0]
    if kind == PROBLEM:
        code = response.json().get("code")
        return None if code in codes else f"undocumented code {code!r}"
    if kind.startswith("text/html") and "/ui" in str(response.request.url):
        found = PAGE_CODE.search(response.text)
        if found and found.group(1) in codes:
            return None
        return "console error page without a documented code"
    return f"error {status} as {kind!r}, not problem details: {response.text[:200]}"


def fuzz(
    document: dict[str, Any],
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    examples: int = EXAMPLES,
    skip: Sequence[str] = (),
    codes: set[str] | None = None,
) -> Tally:
    """Send generated requests for every operation of `document` (but `skip`, "METHOD /path")
    to the node at `base_url`; the tally of what was sent and every distinct failure."""
    codes = codes or documented_codes()
    schema = schemathesis.openapi.from_dict(document)
    tally = Tally()
    session = requests.Session()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # our own documents are valid
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            def send(case: schemathesis.Case[Any], label: str) -> None:
                try:
                    response = case.call(
                        base_url=base_url, session=session, headers=dict(headers or {}), timeout=120
                    )
                except UNSENDABLE:
                    tally.unsendable += 1
                    return
                tally.requests[label] += 1
                tally.statuses[response.status_code] += 1
                wrong = check_answer(response, codes)
                if wrong is not None:
                    key = f"{label} {response.status_code} {wrong[:60]}"
                    tally.failures.setdefault(key, f"{wrong}\n    {case.as_curl_command()}")

            explore(strategy, examples, lambda case, label=label: send(case, label))
    return tally


def explore(strategy: Any, examples: int, send: Any) -> None:
    """Run `send` on up to `examples` cases drawn from `strategy` (no shrinking: failures are
    collected, not raised)."""

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        send(case)

    with contextlib.suppress(Unsatisfiable):  # no invalid request exists (nothing to vary)
        run()


def console_document(*routers: APIRouter) -> dict[str, Any]:
    """An OpenAPI document of the console's pages and forms (kept out of the API's own)."""
    app = FastAPI()
    # The console's routers hold only the routes their decorators made: APIRoutes.
    routes = [cast(APIRoute, route) for r in routers for route in r.routes]
    hidden: list[tuple[APIRouter | APIRoute, bool]] = [
        (r, r.include_in_schema) for r in routers
    ] + [(route, route.include_in_schema) for route in routes]
    try:
        for item, _ in hidden:
            item.include_in_schema = True
        for router in routers:
            app.include_router(router)
        return app.openapi()
    finally:
        for item, was in hidden:
            item.include_in_schema = was


def answers_health(base_url: str) -> bool:
    return httpx.get(base_url + "/healthz", timeout=30).status_code == 200


@contextlib.contextmanager
def running_centre(settings: Settings, tmp_path: Path, **env: str) -> Iterator[str]:
    """`tutela centre serve` (no outbox sender) in a subprocess on a free port; its URL."""
    port = free_port()
    log = tmp_path / "centre.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [TUTELA, "centre", "serve", "--no-sender", "--port", str(port)],
            env=node_env(settings, **env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
