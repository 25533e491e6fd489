"""Reading request bodies by hand, so that the key is checked before any upload is parsed and
a JSON or multipart body can share one route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from tutela.errors import InvalidInput, MediaTooLarge

M = TypeVar("M", bound=BaseModel)
MULTIPART = "multipart/form-data"
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes
    fields: dict[str, str]


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith(MULTIPART)


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The multipart `file` (at most `max_bytes`) and the form's text fields."""
    if not is_multipart(request):
        raise InvalidInput("send the file as multipart/form-data in a field named 'file'")
    form = await request.form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the form has no file field named 'file'")
        chunks: list[bytes] = []
        size = 0
        while chunk := await upload.read(READ_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise MediaTooLarge(f"the file is over the limit of {max_bytes} bytes")
            chunks.append(chunk)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return Upload(upload.filename or "upload", b"".join(chunks), fields)
    finally:
        await form.close()


def parse_model(model: type[M], raw: str | bytes, where: str) -> M:
    """Validate JSON text into `model`, failing like FastAPI's own validation (422)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors: list[dict[str, Any]] = [
            {"loc": (where, *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        raise RequestValidationError(errors) from None


def multipart_body(fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI requestBody for a multipart upload with the given extra fields."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    return {
        MULTIPART: {"schema": {"type": "object", "properties": properties, "required": ["file"]}}
    }
