"""`POST /v1/victim-requests` on the centre node: an authority's or hotline's signed request,
on a victim's behalf, to learn whether material matching the victim's hashes was reported,
forwarded and removed (Art 20-21); the rules are in `tutela.centre.victims`."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.centre_deps import CentreDep, VictimRequest
from tutela.api.signed_requests import stored
from tutela.centre.victims import REQUESTS_PATH, answer_victim_request

PATH = REQUESTS_PATH
router = APIRouter(tags=["victims"])


@router.post(PATH, status_code=200)
async def post_victim_request(centre: CentreDep, signed: VictimRequest) -> JSONResponse:
    """Answer one signed request (a `tutela.message/1` of kind `victim_request`, payload
    `{"hashes": [{"signal_type", "value"}…], "ask_removal": bool}`) with the matching
    reports; a replay is answered as the first time, marked `Idempotent-Replayed: true`."""
    assert signed.idempotency_key is not None  # the dependency requires it
    answer = partial(
        answer_victim_request,
        centre.database,
        signed.key_id,
        signed.body,
        signed.signature,
        signed.idempotency_key,
        signed.received_at,
        linker=centre.linker,
        window=centre.window,
    )
    answered = await run_in_threadpool(answer)
    return stored(answered.answer, answered.created, status_code=200)
