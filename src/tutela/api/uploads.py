"""Reading request bodies by hand, so that the key is checked before any upload is parsed and
a JSON or multipart body can share one route."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
MULTIPART = "multipart/form-data"
# The file and a few text fields (the metadata); more is not a client of ours.
MAX_PARTS = 8


def is_multipart(request: Request) -> bool:
    # Media types are case-insensitive (RFC 9110 8.3.1): `Multipart/Form-Data` is one too.
    return request.headers.get("content-type", "").lstrip().lower().startswith(MULTIPART)


def parse_model(model: type[M], raw: str | bytes, where: str) -> M:
    """Validate JSON text into `model`, failing like FastAPI's own validation (422)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors: list[dict[str, Any]] = [
            {"loc": (where, *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        raise RequestValidationError(errors) from None


def multipart_body(
    fields: dict[str, Any],
    *,
    required: tuple[str, ...] = (),
    json_fields: tuple[str, ...] = (),
) -> dict[str, Any]:
    """OpenAPI requestBody for a multipart upload with the given extra fields (`json_fields`:
    those sent as JSON text, declared with their object schema and an encoding)."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    media: dict[str, Any] = {
        "schema": {"type": "object", "properties": properties, "required": ["file", *required]}
    }
    if json_fields:
        media["encoding"] = {name: {"contentType": "application/json"} for name in json_fields}
    return {MULTIPART: media}
