"""The multipart/form-data parser of the upload routes: what real clients send parses, every
malformation is an InvalidInput, and nothing is lost or invented at the part boundaries."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutela.api.multipart import boundary_of, parse_form
from tutela.errors import InvalidInput


def encoded(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, bytes]:
    """A body as httpx (hence most Python clients) encodes it, and its boundary."""
    request = httpx.Request("POST", "http://x/", data=fields, files=files)
    body = request.read()
    return body, boundary_of(request.headers["content-type"])


def test_parses_what_httpx_sends() -> None:
    body, boundary = encoded({"metadata": '{"item_id": "é-1"}'}, {"file": ("a.jpg", b"\xff\xd8")})
    parts = {part.name: part for part in parse_form(body, boundary, max_parts=8)}
    assert parts["metadata"].data.decode() == '{"item_id": "é-1"}'
    assert parts["metadata"].filename is None
    assert parts["file"].data == b"\xff\xd8" and parts["file"].filename == "a.jpg"


@given(st.binary(max_size=2000), st.binary(max_size=200))
def test_any_bytes_come_back_exactly(data: bytes, other: bytes) -> None:
    body, boundary = encoded({}, {"file": ("f", data), "other": ("o", other)})
    parts = parse_form(body, boundary, max_parts=8)
    assert [(p.name, p.data) for p in parts] == [("file", data), ("other", other)]


def test_browser_style_body_with_preamble_and_quoted_boundary() -> None:
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    body = (
        f"ignored preamble\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="say \\"hi\\".png"\r\n'
        "Content-Type: image/png\r\n\r\n"
        f"\x89PNG\r\n--{boundary}--\r\nepilogue"
    ).encode("latin-1")
    parsed = boundary_of(f'multipart/form-data; boundary="{boundary}"')
    (part,) = parse_form(body, parsed, max_parts=8)
    assert part.filename == 'say "hi".png' and part.content_type == "image/png"
    assert part.data == b"\x89PNG"


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "application/json",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "x" * 71,
        "multipart/form-data; boundary=bad\x00byte",
    ],
)
def test_bad_content_type_is_invalid_input(content_type: str) -> None:
    with pytest.raises(InvalidInput):
        boundary_of(content_type)


GOOD = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nDATA\r\n--b--\r\n'


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no boundary at all",
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nDATA',  # no closing boundary
        b'--b\r\nContent-Disposition: form-data; name="file"\r\nDATA\r\n--b--',  # no blank line
        b"--b\r\nContent-Type: text/plain\r\n\r\nDATA\r\n--b--",  # no Content-Disposition
        b'--b\r\nContent-Disposition: attachment; name="file"\r\n\r\nDATA\r\n--b--',
        b"--b\r\nContent-Disposition: form-data\r\n\r\nDATA\r\n--b--",  # no name
        b"--b\r\nno colon here\r\n\r\nDATA\r\n--b--",
        b'--bjunk\r\nContent-Disposition: form-data; name="file"\r\n\r\nDATA\r\n--b--',
        b'--b\r\nContent-Disposition: form-data; name="\xff"\r\n\r\nDATA\r\n--b--',
        b"--b\r\n" + b"X-Long: " + b"a" * 9000 + b"\r\n\r\nDATA\r\n--b--",
    ],
)
def test_malformed_body_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_form(body, b"b", max_parts=8)


def test_part_count_is_capped() -> None:
    assert len(parse_form(GOOD, b"b", max_parts=1)) == 1
    many = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(3)
    )
    with pytest.raises(InvalidInput, match="more than 2 parts"):
        parse_form(many + b"--b--", b"b", max_parts=2)
