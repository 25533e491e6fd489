"""Reading request bodies by hand, so that the key is checked before any upload is parsed and
a JSON or multipart body can share one route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from tutela.api.multipart import boundary_of, parse_form
from tutela.errors import InvalidInput, MediaTooLarge

M = TypeVar("M", bound=BaseModel)
MULTIPART = "multipart/form-data"
# The file and a few text fields (the metadata); more is not a client of ours.
MAX_PARTS = 8


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes
    fields: dict[str, str]


def is_multipart(request: Request) -> bool:
    # Media types are case-insensitive (RFC 9110 8.3.1): `Multipart/Form-Data` is one too.
    return request.headers.get("content-type", "").lstrip().lower().startswith(MULTIPART)


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The multipart `file` (at most `max_bytes`) and the form's text fields."""
    boundary = boundary_of(request.headers.get("content-type", ""))
    parts = parse_form(await request.body(), boundary, max_parts=MAX_PARTS)
    files = [part for part in parts if part.name == "file"]
    if len(files) != 1:
        raise InvalidInput("the form must have exactly one file field named 'file'")
    upload = files[0]
    if len(upload.data) > max_bytes:
        raise MediaTooLarge(f"the file is over the limit of {max_bytes} bytes")
    fields: dict[str, str] = {}
    for part in parts:
        if part is not upload:
            try:
                fields[part.name] = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"the form field {part.name!r} is not UTF-8 text") from None
    return Upload(upload.filename or "upload", upload.data, fields)


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
