"""A multipart/form-data parser (RFC 7578) over a body already in memory.

The upload routes read the whole body anyway (its size is capped while it streams in, see
tutela.api.middleware.BodyLimit), so the parts are found with a few `bytes.find` calls: no
per-chunk callbacks, no spooled temporary files, no thread hand-offs. Every malformation is an
InvalidInput naming what is wrong; nothing of the content is quoted in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutela.errors import InvalidInput

CRLF = b"\r\n"
# RFC 2046: a boundary is 1-70 characters from a restricted set (space allowed, not last).
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_PARAM = re.compile(r';\s*([A-Za-z0-9_\-*]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
# Longest header block of one part; real clients send one or two short lines.
MAX_HEADER_BYTES = 8 * 1024


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart/form-data Content-Type header."""
    kind, params = _split_header(content_type)
    if kind != "multipart/form-data":
        raise InvalidInput("send the upload as multipart/form-data")
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise InvalidInput("the multipart/form-data Content-Type has no valid boundary")
    return boundary.encode("ascii")


def parse_form(body: bytes, boundary: bytes, *, max_parts: int) -> list[Part]:
    """The parts of `body`, in order; at most `max_parts` of them."""
    delimiter = b"--" + boundary
    separator = CRLF + delimiter
    if body.startswith(delimiter):
        position = len(delimiter)
    else:  # a preamble before the first boundary is allowed, and ignored
        first = body.find(separator)
        if first < 0:
            raise InvalidInput("the multipart body holds no part with its boundary")
        position = first + len(separator)
    parts: list[Part] = []
    while True:
        if body.startswith(b"--", position):
            return parts  # the close delimiter; an epilogue after it is ignored
        if len(parts) == max_parts:
            raise InvalidInput(f"the form has more than {max_parts} parts")
        line_end = body.find(CRLF, position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise InvalidInput("the multipart body is malformed after a boundary")
        headers_end = body.find(CRLF + CRLF, line_end)
        if headers_end < 0 or headers_end - line_end > MAX_HEADER_BYTES:
            raise InvalidInput("a multipart part has no end to its headers")
        content_start = headers_end + 4
        content_end = body.find(separator, content_start)
        if content_end < 0:
            raise InvalidInput("the multipart body ends before its closing boundary")
        parts.append(_part(body[line_end + 2 : headers_end], body[content_start:content_end]))
        position = content_end + len(separator)


def _part(raw_headers: bytes, data: bytes) -> Part:
    try:
        text = raw_headers.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("a multipart part's headers are not UTF-8") from None
    disposition: tuple[str, dict[str, str]] | None = None
    content_type = None
    for line in text.split("\r\n") if text else ():
        name, colon, value = line.partition(":")
        if not colon:
            raise InvalidInput("a multipart part has a malformed header line")
        name = name.strip().lower()
        if name == "content-disposition":
            disposition = _split_header(value)
        elif name == "content-type":
            content_type = value.strip()
    if disposition is None or disposition[0] != "form-data" or "name" not in disposition[1]:
        raise InvalidInput("a multipart part lacks Content-Disposition: form-data; name=...")
    params = disposition[1]
    return Part(params["name"], params.get("filename"), content_type, data)


def _split_header(value: str) -> tuple[str, dict[str, str]]:
    """`kind; a=1; b="two"` → ("kind", {"a": "1", "b": "two"}); names lower-cased."""
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        raw = match.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[match.group(1).lower()] = raw
    return kind.strip().lower(), params
