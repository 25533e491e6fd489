"""`POST /v1/hash` and `POST /v1/match`: hash an upload (in isolated workers) or look it up, or
look up one hash or a batch of them. A video to hash or match streams to disk and is hashed there.

Lookups read the in-memory matcher only; it follows bank changes in the background
(tutela.api.matcher_refresh), so no lookup waits on the database. A file is matched as uploads
are: fast mode, its robust variants when some enabled bank is robust, and an exact hash when a
fast candidate lies near a bank's limit. A bare hash is matched as given (no image to confirm).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import HashKey, MatchKey, Services, ServicesDep, scope_doc
from tutela.api.schemas import (
    MATCH_BATCH_MAX,
    MatchBatchCreate,
    MatchBatchPublic,
    MatchesPublic,
    MatchQueryCreate,
)
from tutela.api.spooled_uploads import SpooledUpload, discarded, read_capped, spool_upload
from tutela.api.uploads import is_multipart, multipart_body, parse_model
from tutela.detection.pipeline import fast_outcome, find_matches, outcome_of
from tutela.detection.video_items import video_matches, vpdq_matches
from tutela.errors import InvalidHash, RequestTooLarge, TutelaError
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.indicators.video_banks import VPDQ
from tutela.signals.hashing import MediaSignals
from tutela.signals.registry import get_signal_type

router = APIRouter(prefix="/v1", tags=["hashing"])
# A match request's text form fields are not read (a few bytes each, at most).
FIELD_MAX_BYTES = 4096


@router.post(
    "/hash",
    openapi_extra={**scope_doc("hash"), "requestBody": {"content": multipart_body({})}},
)
async def hash_upload(request: Request, _key: HashKey, services: ServicesDep) -> dict[str, Any]:
    """Signals of one file, as one line of `tutela hash --json`.

    A video (MP4/MOV, WebM/MKV, AVI, known by its first bytes) streams to disk within
    TUTELA_MAX_VIDEO_BYTES, as for POST /v1/items, and is hashed there in a video process within
    the video limits: the answer carries its vPDQ (`signals.vpdq`) and exact hashes."""
    with discarded(await _spool(request, services)) as upload:
        if upload.path is not None:  # a video, streamed to disk: hashed from there
            result = await services.hashing.hash_video(str(upload.path))
        else:
            result = await services.hashing.hash(upload.read())
    return _hash_line(upload.filename, result)


async def _spool(request: Request, services: ServicesDep) -> SpooledUpload:
    """The request's one file: a video streamed to the spool within TUTELA_MAX_VIDEO_BYTES, any
    other file read within TUTELA_MAX_FILE_BYTES (413 past either)."""
    settings = services.settings
    return await spool_upload(
        request,
        settings.spool_dir,
        max_bytes=settings.media.max_bytes,
        max_video_bytes=settings.media.max_video_bytes,
        max_field_bytes=FIELD_MAX_BYTES,
    )


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
) -> dict[str, Any] | Response:
    """Matches of a file, or of one hash, as one line of `tutela match --json`; or of up to
    1,000 hashes of one signal type (`values`), one answer each, in one pass through the index.

    A video (MP4/MOV, WebM/MKV, AVI, known by its first bytes) streams to disk within
    TUTELA_MAX_VIDEO_BYTES and is hashed in a video process within the video limits (time
    included), then matched as video uploads are: vPDQ against video banks with each bank's
    shares, each sampled frame against image banks, the matched frames' times in `video`. A
    vPDQ hash may be given as the signal `vpdq` (python-threatexchange's JSON list text)."""
    if is_multipart(request):
        with discarded(await _spool(request, services)) as upload:
            if upload.path is not None:  # a video, streamed to disk: hashed from there
                return await _match_video(services, upload.path, upload.filename)
            return await _match_file(services, upload.read(), upload.filename)
    # A JSON body is read no further than the file limit (the route takes large videos).
    body = await read_capped(request, services.settings.media.max_bytes)
    if len(body) > services.settings.media.max_bytes:
        raise RequestTooLarge(
            f"a JSON body must be at most {services.settings.media.max_bytes} bytes"
        )
    if _is_batch(body):
        batch = parse_model(MatchBatchCreate, body, "body")
        answer = await run_in_threadpool(
            match_batch, services.matcher, batch.signal_type, batch.values
        )
        # Written by match_batch, not checked against the response model: for 1,000 answers
        # that check cost more than the lookup itself.
        return Response(answer, media_type="application/json")
    query = parse_model(MatchQueryCreate, body, "body")
    if query.signal_type == VPDQ:
        found = await run_in_threadpool(vpdq_matches, services.matcher, query.value)
        return {"query": query.value, "matches": [m.as_dict() for m in found]}
    signals: dict[str, Any] = {query.signal_type: query.value}
    if query.signal_type == "pdq":
        signals = {"pdq": {"hash": query.value}}
    found = await run_in_threadpool(find_matches, services.matcher, signals)
    return {"query": query.value, "matches": [m.as_dict() for m in found]}


async def _match_file(services: Services, data: bytes, filename: str) -> dict[str, Any]:
    """An image (or any file not a video) as uploads are matched: fast mode, exact near a
    limit."""
    robust = services.matcher.robust
    result = await services.hashing.hash(data, robust=robust)
    if isinstance(result, TutelaError):
        raise result
    outcome = fast_outcome(services.matcher, result)
    if outcome is None:  # a fast candidate near a limit: exact mode decides
        result = await services.hashing.hash(data, exact=True, robust=robust)
        if isinstance(result, TutelaError):
            raise result
        outcome = outcome_of(services.matcher, result)
    return _answer(filename, result, outcome.matches)


async def _match_video(services: Services, path: Path, filename: str) -> dict[str, Any]:
    """A video as video uploads are matched (tutela.detection.video_items.video_matches),
    hashed in a video process within the video limits; a hostile one answers its typed error."""
    result = await services.hashing.hash_video(str(path))
    if isinstance(result, TutelaError):
        raise result
    matches = await run_in_threadpool(video_matches, services.matcher, result)
    return _answer(filename, result, matches)


def _answer(filename: str, result: MediaSignals, matches: Sequence[MatchResult]) -> dict[str, Any]:
    if result.error is not None and not matches:
        # Not media it could read (415 unsupported_format, 422 corrupt…), and its exact hashes
        # are in no bank: "no match" would claim a look that never happened.
        raise result.error
    answer: dict[str, Any] = {"query": filename, "matches": [m.as_dict() for m in matches]}
    if result.error is not None:  # a known file by its bytes: the match must not be hidden
        answer["error"] = result.error.as_dict()
    return answer


def match_batch(matcher: Matcher, signal_type: str, values: list[str]) -> bytes:
    """The JSON answer `{"results": [{"query", "matches"}…]}`, one result per hash in order, from
    one batched query of the index (review band included, as for one hash). Refused whole,
    before any lookup, when there are more than MATCH_BATCH_MAX hashes or one is malformed (its
    position is named).

    Written as text here rather than as dicts for the response model and json.dumps: a batch is
    mostly misses, and an object per miss cost more CPU than the index lookup at small banks."""
    if len(values) > MATCH_BATCH_MAX:
        raise RequestTooLarge(
            f"at most {MATCH_BATCH_MAX} hashes per request, got {len(values)}: split the batch"
        )
    if signal_type == VPDQ:
        return batch_answer(values, _match_vpdq_batch(matcher, values))
    try:
        found = matcher.match_batch(signal_type, values, include_review=True)
    except InvalidHash:
        # Checked again one by one only to name the culprit: the good path validates once.
        kind = get_signal_type(signal_type)
        for position, value in enumerate(values):
            try:
                kind.validate(value)
            except InvalidHash as error:
                raise InvalidHash(f"values[{position}]: {error.message}") from None
        raise
    return batch_answer(values, found)


def batch_answer(values: Sequence[str], found: Mapping[int, Sequence[MatchResult]]) -> bytes:
    """`{"results": [{"query": value, "matches": [...]}…]}` as compact JSON, the same bytes as
    JSONResponse writes for those dicts; `found` has the matches by position (none: no match).
    Runs of misses whose values need no JSON escaping (bare hex, the usual batch) are written
    by one join each, with no string per hash."""
    joined = "".join(values)
    if len(encode_basestring(joined)) != len(joined) + 2:  # some value needs escaping
        tails = ["[]"] * len(values)
        for position, matches in found.items():
            tails[position] = _compact([match.as_dict() for match in matches])
        results = ",".join(map(_RESULT.format, map(encode_basestring, values), tails))
        return f'{{"results":[{results}]}}'.encode()
    parts = []
    start = 0
    for position in sorted(found):
        if start < position:
            parts.append(_misses(values[start:position]))
        written = _compact([match.as_dict() for match in found[position]])
        parts.append(_RESULT.format(f'"{values[position]}"', written))
        start = position + 1
    if start < len(values):
        parts.append(_misses(values[start:]))
    return ('{"results":[' + ",".join(parts) + "]}").encode()


def _misses(values: Sequence[str]) -> str:
    """Results with no match for values that need no escaping in JSON, joined by commas."""
    return '{"query":"' + '","matches":[]},{"query":"'.join(values) + '","matches":[]}'


# One result of a batch, its query already a JSON string and its matches a JSON list.
_RESULT = '{{"query":{},"matches":{}}}'


def _compact(content: object) -> str:
    """JSON as Starlette's JSONResponse writes it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _match_vpdq_batch(matcher: Matcher, values: list[str]) -> dict[int, list[MatchResult]]:
    """vPDQ hashes, each matched as a video; refused whole when one is malformed."""
    found = {}
    for position, value in enumerate(values):
        try:
            found[position] = vpdq_matches(matcher, value)
        except InvalidHash as error:
            raise InvalidHash(f"values[{position}]: {error.message}") from None
    return found


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
