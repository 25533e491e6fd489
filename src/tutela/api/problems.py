"""RFC 9457 problem details: the one rendering of every error the API answers with."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tutela.errors import (
    InternalError,
    InvalidInput,
    MediaTooLarge,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    TutelaError,
)

PROBLEM_TYPE = "https://tutela.example/problems/"
MEDIA_TYPE = "application/problem+json"
# The errors the framework raises itself (routing, body size and time), by status.
FRAMEWORK_ERRORS: dict[int, type[TutelaError]] = {
    400: InvalidInput,
    404: NotFound,
    405: MethodNotAllowed,
    408: RequestTimeout,
    413: MediaTooLarge,
}
FRAMEWORK_CODES = {status: error.code for status, error in FRAMEWORK_ERRORS.items()}
# SQLSTATE class of PostgreSQL's data exceptions, and what the common ones mean for a client.
DATA_EXCEPTION = "22"
UNSTORABLE = {
    "22003": "a number in the request is beyond the 64 bits this node stores",
    "22021": "text in the request holds a character that cannot be stored (NUL)",
    "22001": "text in the request is longer than this node stores",
    "": "a value in the request cannot be stored",
}
log = logging.getLogger(__name__)


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _tutela_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TutelaError)
    return problem(error.status, error.code, error.message)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Field locations and messages only: the offending input is never echoed (it may be content).
    errors = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in error.errors()
    ]
    return problem(422, InvalidInput.code, "the request is not valid", errors=errors)


async def _http_error(request: Request, error: Exception) -> Response:
    """The framework's own errors, as the app renders the error of the same status (so that a
    console page that does not exist gets the console's error page); any other status as the
    nearest documented code."""
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    kind = FRAMEWORK_ERRORS.get(status)
    if kind is not None and kind.status == status:
        response = await render_error(request, kind(str(error.detail)))
    else:
        code = (kind or (InvalidInput if status < 500 else InternalError)).code
        response = problem(status, code, str(error.detail))
    response.headers.update(error.headers or {})
    return response


async def _out_of_range(request: Request, _error: Exception) -> Response:
    # A number no column can hold (an id of 20 digits in a path or query): SQLite refuses to bind
    # it. Nothing can be stored under it, so nothing is found or changed.
    return await render_error(
        request, InvalidInput("a number in the request is beyond the 64 bits this node stores")
    )


async def _unstorable(request: Request, error: Exception) -> Response:
    # PostgreSQL's data exceptions (SQLSTATE class 22): a value of the request no column can hold,
    # such as a number past 64 bits or text with a NUL. The unit of work rolled back.
    assert isinstance(error, DBAPIError)
    sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
    if not sqlstate.startswith(DATA_EXCEPTION):
        raise error
    log.warning("a request's value could not be stored (SQLSTATE %s)", sqlstate)
    return await render_error(request, InvalidInput(UNSTORABLE.get(sqlstate, UNSTORABLE[""])))


async def render_error(request: Request, error: TutelaError) -> Response:
    """`error` as the app renders a TutelaError: the console's handler when one is installed (an
    HTML page under /ui), else problem details."""
    handler = request.app.exception_handlers.get(TutelaError, _tutela_error)
    response: Response = await handler(request, error)
    return response


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TutelaError, _tutela_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _unstorable)
