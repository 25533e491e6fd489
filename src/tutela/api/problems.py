"""RFC 9457 problem details: the one rendering of every error the API answers with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tutela.errors import InvalidInput, MediaTooLarge, NotFound, TutelaError

PROBLEM_TYPE = "https://tutela.example/problems/"
MEDIA_TYPE = "application/problem+json"
# Codes for the errors the framework raises itself (routing, body size), by status.
FRAMEWORK_CODES = {
    400: InvalidInput.code,
    404: NotFound.code,
    405: "method_not_allowed",
    413: MediaTooLarge.code,
}


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


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = FRAMEWORK_CODES.get(error.status_code, "http_error")
    return problem(error.status_code, code, str(error.detail))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TutelaError, _tutela_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
