"""`POST /v1/hash` and `POST /v1/match`: hash an upload (in isolated workers) or look it up, or
look up one hash or a batch of them.

Lookups read the in-memory matcher only; it follows bank changes in the background
(tutela.api.matcher_refresh), so no lookup waits on the database. A file is matched as uploads
are: fast mode, its robust variants when some enabled bank is robust, and an exact hash when a
fast candidate lies near a bank's limit. A bare hash is matched as given (no image to confirm).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import HashKey, MatchKey, ServicesDep, scope_doc
from tutela.api.schemas import (
    MATCH_BATCH_MAX,
    MatchBatchCreate,
    MatchBatchPublic,
    MatchesPublic,
    MatchQueryCreate,
)
from tutela.api.uploads import is_multipart, multipart_body, parse_model, read_upload
from tutela.detection.pipeline import fast_outcome, find_matches, outcome_of
from tutela.errors import InvalidHash, RequestTooLarge, TutelaError
from tutela.indicators.matcher import Matcher
from tutela.signals.hashing import MediaSignals
from tutela.signals.registry import get_signal_type

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
    response_model=MatchesPublic | MatchBatchPublic,
    openapi_extra={
        **scope_doc("match"),
        "requestBody": {
            "content": {
                **multipart_body({}),
                "application/json": {
                    "schema": {
                        # Written in place: the body is read by hand, so no component holds them.
                        "oneOf": [
                            MatchQueryCreate.model_json_schema(),
                            MatchBatchCreate.model_json_schema(),
                        ]
                    }
                },
            }
        },
    },
)
async def match_upload(
    request: Request, _key: MatchKey, services: ServicesDep
) -> dict[str, Any] | JSONResponse:
    """Matches of a file, or of one hash, as one line of `tutela match --json`; or of up to
    1,000 hashes of one signal type (`values`), one answer each, in one pass through the index."""
    if is_multipart(request):
        upload = await read_upload(request, services.settings.media.max_bytes)
        robust = services.matcher.robust
        result = await services.hashing.hash(upload.data, robust=robust)
        if isinstance(result, TutelaError):
            raise result
        outcome = fast_outcome(services.matcher, result)
        if outcome is None:  # a fast candidate near a limit: exact mode decides
            result = await services.hashing.hash(upload.data, exact=True, robust=robust)
            if isinstance(result, TutelaError):
                raise result
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
    body = await request.body()
    if _is_batch(body):
        batch = parse_model(MatchBatchCreate, body, "body")
        results = await run_in_threadpool(
            match_batch, services.matcher, batch.signal_type, batch.values
        )
        # Built here, not checked against the response model: for 1,000 answers that check
        # cost more than the lookup itself.
        return JSONResponse({"results": results})
    query = parse_model(MatchQueryCreate, body, "body")
    signals: dict[str, Any] = {query.signal_type: query.value}
    if query.signal_type == "pdq":
        signals = {"pdq": {"hash": query.value}}
    found = await run_in_threadpool(find_matches, services.matcher, signals)
    return {"query": query.value, "matches": [m.as_dict() for m in found]}


def match_batch(matcher: Matcher, signal_type: str, values: list[str]) -> list[dict[str, Any]]:
    """One answer per hash, `{"query", "matches"}`, from one batched query of the index (review
    band included, as for one hash). Refused whole, before any lookup, when there are more than
    MATCH_BATCH_MAX hashes or one is malformed (its position is named)."""
    if len(values) > MATCH_BATCH_MAX:
        raise RequestTooLarge(
            f"at most {MATCH_BATCH_MAX} hashes per request, got {len(values)}: split the batch"
        )
    try:
        found = matcher.match_hashes(signal_type, values, include_review=True)
    except InvalidHash:
        # Checked again one by one only to name the culprit: the good path validates once.
        kind = get_signal_type(signal_type)
        for position, value in enumerate(values):
            try:
                kind.validate(value)
            except InvalidHash as error:
                raise InvalidHash(f"values[{position}]: {error.message}") from None
        raise
    return [
        {"query": value, "matches": [m.as_dict() for m in matches]}
        for value, matches in zip(values, found, strict=True)
    ]


def _is_batch(body: bytes) -> bool:
    """Whether a JSON body is the batch form (it has `values`); anything else is left for the
    one-hash model to accept or refuse with its own field errors."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "values" in parsed


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
