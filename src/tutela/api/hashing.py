"""`POST /v1/hash` and `POST /v1/match`: hash an upload (in isolated workers) or look one up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import HashKey, MatchKey, ServicesDep, scope_doc
from tutela.api.schemas import MatchesPublic, MatchQueryCreate
from tutela.api.uploads import is_multipart, multipart_body, parse_model, read_upload
from tutela.detection.pipeline import find_matches, outcome_of
from tutela.errors import TutelaError
from tutela.signals.hashing import MediaSignals

router = APIRouter(prefix="/v1", tags=["hashing"])


@router.post(
    "/hash",
    openapi_extra={**scope_doc("hash"), "requestBody": {"content": multipart_body({})}},
)
async def hash_upload(request: Request, _key: HashKey, services: ServicesDep) -> dict[str, Any]:
    """Signals of one file, as one line of `tutela hash --json`."""
    upload = await read_upload(request, services.settings.media.max_bytes)
    result = await services.hashing.hash(upload.data)
    return _hash_line(upload.filename, result)


@router.post(
    "/match",
    response_model=MatchesPublic,
    openapi_extra={
        **scope_doc("match"),
        "requestBody": {
            "content": {
                **multipart_body({}),
                "application/json": {"schema": {"$ref": "#/components/schemas/MatchQueryCreate"}},
            }
        },
    },
)
async def match_upload(request: Request, _key: MatchKey, services: ServicesDep) -> dict[str, Any]:
    """Matches of a file, or of one hash, as one line of `tutela match --json`."""
    if is_multipart(request):
        upload = await read_upload(request, services.settings.media.max_bytes)
        result = await services.hashing.hash(upload.data)
        if isinstance(result, TutelaError):
            raise result
        await run_in_threadpool(services.matcher.refresh)
        outcome = outcome_of(services.matcher, result)
        if result.error is not None and not outcome.matches:
            # Not an image it could read (415 unsupported_format, 422 corrupt…), and its exact
            # hashes are in no bank: "no match" would claim a look that never happened.
            raise result.error
        answer: dict[str, Any] = {
            "query": upload.filename,
            "matches": [m.as_dict() for m in outcome.matches],
        }
        if result.error is not None:  # a known file by its bytes: the match must not be hidden
            answer["error"] = result.error.as_dict()
        return answer
    query = parse_model(MatchQueryCreate, await request.body(), "body")
    await run_in_threadpool(services.matcher.refresh)
    signals: dict[str, Any] = {query.signal_type: query.value}
    if query.signal_type == "pdq":
        signals = {"pdq": {"hash": query.value}}
    found = await run_in_threadpool(find_matches, services.matcher, signals)
    return {"query": query.value, "matches": [m.as_dict() for m in found]}


def _hash_line(filename: str, result: MediaSignals | TutelaError) -> dict[str, Any]:
    if isinstance(result, TutelaError):
        return {"path": filename, "error": result.as_dict()}
    line: dict[str, Any] = {"path": filename, "content_type": result.content_type}
    signals = result.signals_dict()
    pdq = signals.get("pdq")
    if isinstance(pdq, dict):
        signals["pdq"] = {k: v for k, v in pdq.items() if k != "dihedral"}
    if result.error is not None:
        line["error"] = result.error.as_dict()
    line["signals"] = signals
    return line
