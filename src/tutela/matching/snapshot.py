"""The on-disk form of matching indexes: magic, version, a JSON header, then raw little-endian arrays.

Never pickle: a snapshot may come from another node, so loading it must not be able to run code.
Arrays start on 64-byte boundaries so they can be memory-mapped in place.

    offset 0   magic (8 bytes, one per index kind)
    offset 8   format version, uint32 little-endian
    offset 12  header length in bytes, uint32 little-endian
    offset 16  header, UTF-8 JSON: {"meta": {...}, "file_size": int,
               "arrays": [{"name", "dtype", "shape", "offset"}, ...]}
    then       each array's bytes at its offset (C order)
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tutela.errors import InvalidInput

_PREFIX = struct.Struct("<8sII")
_ALIGN = 64
# Only plain numeric dtypes may come back from disk; anything else is a corrupt or hostile file.
_DTYPES: dict[str, np.dtype[Any]] = {
    "|u1": np.dtype(np.uint8),
    "|i1": np.dtype(np.int8),
    "<u4": np.dtype("<u4"),
    "<i4": np.dtype("<i4"),
    "<i8": np.dtype("<i8"),
    "<u8": np.dtype("<u8"),
}
_MAX_HEADER = 1 << 20


def write_snapshot(
    path: Path,
    magic: bytes,
    version: int,
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves half a snapshot."""
    path = Path(path)
    entries: list[dict[str, Any]] = []
    for name, array in arrays.items():
        code = next((code for code, dtype in _DTYPES.items() if array.dtype == dtype), None)
        if code is None:
            raise InvalidInput(f"array {name!r} has unsupported dtype {array.dtype}")
        entries.append({"name": name, "dtype": code, "shape": list(array.shape)})
    # Offsets depend on the header's length and the header holds the offsets: reserve room for
    # the header, lay out, and retry with more room if the header outgrew it.
    header_room = 0
    for _ in range(3):
        offset = _align(_PREFIX.size + header_room)
        for entry, array in zip(entries, arrays.values(), strict=True):
            entry["offset"] = offset
            offset = _align(offset + array.nbytes)
        header = json.dumps(
            {"meta": dict(meta), "file_size": offset, "arrays": entries}, sort_keys=True
        ).encode()
        if len(header) <= header_room:
            break
        header_room = len(header) + 64
    header = header.ljust(header_room, b" ")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(_PREFIX.pack(magic, version, len(header)))
        out.write(header)
        for entry, array in zip(entries, arrays.values(), strict=True):
            out.write(b"\0" * (entry["offset"] - out.tell()))
            data = np.ascontiguousarray(array, dtype=_DTYPES[entry["dtype"]])
            if data.nbytes:
                out.write(data.data.cast("B"))  # no copy of a ~1 GB index
        out.write(b"\0" * (offset - out.tell()))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def read_snapshot(
    path: Path, magic: bytes, version: int, *, mmap: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return (meta, arrays); raise InvalidInput for a wrong kind, version, or a damaged file.

    With mmap, arrays are copy-on-write maps of the file: loading is instant and pages are read
    on first use; changes stay in memory.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as src:
            prefix = src.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise InvalidInput(f"{path.name}: not an index snapshot (file too short)")
            got_magic, got_version, header_len = _PREFIX.unpack(prefix)
            if got_magic != magic:
                raise InvalidInput(f"{path.name}: not a {magic.decode(errors='replace')} snapshot")
            if got_version != version:
                raise InvalidInput(
                    f"{path.name}: snapshot format version {got_version}, this build reads {version}"
                )
            if header_len > _MAX_HEADER or _PREFIX.size + header_len > size:
                raise InvalidInput(f"{path.name}: snapshot header is truncated or oversized")
            header = _parse_header(path, src.read(header_len))
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot read snapshot ({exc.strerror})") from None
    if header["file_size"] != size:
        raise InvalidInput(
            f"{path.name}: snapshot is {size} bytes, header says {header['file_size']} (truncated?)"
        )
    arrays: dict[str, np.ndarray] = {}
    for entry in header["arrays"]:
        dtype = _DTYPES[entry["dtype"]]
        shape = tuple(entry["shape"])
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if entry["offset"] < _PREFIX.size + header_len or entry["offset"] + nbytes > size:
            raise InvalidInput(f"{path.name}: array {entry['name']!r} lies outside the file")
        if nbytes == 0:
            arrays[entry["name"]] = np.zeros(shape, dtype)
        elif mmap:
            mapped = np.memmap(path, dtype=dtype, mode="c", offset=entry["offset"], shape=shape)
            arrays[entry["name"]] = np.asarray(mapped)
        else:
            arrays[entry["name"]] = np.fromfile(
                path, dtype=dtype, count=nbytes // dtype.itemsize, offset=entry["offset"]
            ).reshape(shape)
    return header["meta"], arrays


def _parse_header(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput(f"{path.name}: snapshot header is not valid JSON") from None
    ok = (
        isinstance(header, dict)
        and isinstance(header.get("meta"), dict)
        and _is_count(header.get("file_size"))
        and isinstance(header.get("arrays"), list)
        and all(_is_array_entry(entry) for entry in header["arrays"])
    )
    if not ok:
        raise InvalidInput(f"{path.name}: snapshot header is malformed")
    return header  # type: ignore[no-any-return]


def _is_array_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and entry.get("dtype") in _DTYPES
        and isinstance(entry.get("shape"), list)
        and all(_is_count(dim) for dim in entry["shape"])
        and _is_count(entry.get("offset"))
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 48


def _align(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN
