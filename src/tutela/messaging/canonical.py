"""Canonical JSON (RFC 8785 style): one byte string per value, so a signature survives transit.

Sorted keys, no insignificant whitespace, UTF-8 without escaping beyond what JSON requires.
Numbers are restricted to integers: floats have no single spelling across implementations, and
no report field needs one.
"""

from __future__ import annotations

import json
from typing import Any

from tutela.errors import InvalidInput, MalformedReport

# JCS orders keys by their UTF-16 code units; for keys in the Basic Multilingual Plane this is the
# same as code-point order, and report keys are ASCII.
_MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    _check(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def parse_json(data: bytes) -> Any:
    """Parse received JSON, refusing what canonical JSON cannot hold (floats, duplicate keys)."""
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("the body is not UTF-8 JSON") from None
    except RecursionError:
        # JSON nested thousands deep: the parser gives up at the interpreter's recursion limit.
        raise MalformedReport("the JSON is nested too deeply") from None


def _check(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise InvalidInput("integers in canonical JSON must fit in 53 bits")
        return
    if isinstance(value, float):
        raise InvalidInput("canonical JSON here carries no floating-point numbers")
    if isinstance(value, list | tuple):
        for element in value:
            _check(element)
        return
    if isinstance(value, dict):
        for key, element in value.items():
            if not isinstance(key, str):
                raise InvalidInput("JSON object keys must be strings")
            _check(element)
        return
    raise InvalidInput(f"{type(value).__name__} has no JSON form")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput("a JSON object repeats a key")
        result[key] = value
    return result


def _no_float(_text: str) -> Any:
    raise InvalidInput("canonical JSON here carries no floating-point numbers")
