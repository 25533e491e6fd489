"""What a platform may say about an item, checked before anything is stored: no control
characters (PostgreSQL refuses NUL in text, and one refused row failed its whole intake batch),
no unpaired surrogates (not encodable as UTF-8), and bounded sizes (a 20 MB string was stored).

The API's schemas (tutela.api.schemas) apply the same rules field by field, so a platform gets
a 422 naming the field; `check_metadata` guards every other way in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tutela.errors import InvalidInput

ITEM_REF_MAX = 256
# The whole metadata of one item as JSON, and the free-form `extra` object within it.
METADATA_MAX_BYTES = 64 * 1024
EXTRA_MAX_BYTES = 16 * 1024
EXTRA_MAX_DEPTH = 4
# Ids and names: no control character at all. Free text (a complaint's grounds, `extra`'s
# values): tab and line breaks allowed. Never an unpaired surrogate.
_ID_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_identifier(value: str, field: str, max_length: int = ITEM_REF_MAX) -> str:
    """`value` if it is 1-`max_length` characters with no control character; else InvalidInput."""
    if not value or len(value) > max_length:
        raise InvalidInput(f"{field} must be 1-{max_length} characters")
    return check_name(value, field)


def check_name(value: str, field: str) -> str:
    """`value` if it holds no control character at all (an id, a name, an address)."""
    if _ID_FORBIDDEN.search(value):
        raise InvalidInput(f"{field} must not contain control characters")
    return value


def check_text(value: str, field: str) -> str:
    """`value` if it holds no control character but tab and line breaks; else InvalidInput."""
    if _TEXT_FORBIDDEN.search(value):
        raise InvalidInput(f"{field} must not contain control characters")
    return value


def check_extra(extra: Mapping[str, Any]) -> Mapping[str, Any]:
    """The free-form `extra` object: JSON values, every key and string clean, at most
    EXTRA_MAX_DEPTH deep and EXTRA_MAX_BYTES as JSON."""
    _check_value(extra, "extra", 0)
    if _json_size(extra) > EXTRA_MAX_BYTES:
        raise InvalidInput(f"metadata.extra must be at most {EXTRA_MAX_BYTES} bytes as JSON")
    return extra


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """The whole metadata: clean keys and strings, JSON values only, at most METADATA_MAX_BYTES."""
    _check_value(metadata, "metadata", -1)  # its `extra` may nest as deep as alone
    if _json_size(metadata) > METADATA_MAX_BYTES:
        raise InvalidInput(f"metadata must be at most {METADATA_MAX_BYTES} bytes as JSON")


def _check_value(value: object, where: str, depth: int) -> None:
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, Mapping):
        if depth > EXTRA_MAX_DEPTH:
            raise InvalidInput(f"{where} is nested more than {EXTRA_MAX_DEPTH} deep")
        for key, inner in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where} has a key that is not text")
            check_identifier(key, f"a key of {where}", ITEM_REF_MAX)
            _check_value(inner, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        if depth > EXTRA_MAX_DEPTH:
            raise InvalidInput(f"{where} is nested more than {EXTRA_MAX_DEPTH} deep")
        for inner in value:
            _check_value(inner, where, depth + 1)
    elif value is not None and not isinstance(value, bool | int | float):
        raise InvalidInput(f"{where} holds a value that is not JSON")


def _json_size(value: object) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError):
        raise InvalidInput("metadata must be JSON values (no NaN or infinity)") from None
