"""vPDQ, Meta's video hash: the PDQ of frames sampled at a fixed interval, with frame numbers,
qualities and time stamps, in the two text forms the field exchanges.

- Meta's vPDQ tools write one line per frame: `frame_number,quality,pdq_hex,seconds` (seconds
  with three decimals).
- python-threatexchange (and HMA) store a JSON list of `"pdq_hex,quality,seconds"` strings.
- The `vpdq` Python package's own command prints `pdq_hex,quality,seconds` lines (read only).

All parse here; the first two are written, so lists made by either import and ours export to either.
Frames are sampled as the reference samples them (tutela.media.video); each is hashed with PDQ,
exactly (full-size RGB, pdqhash) or in fast mode (a reduced grey frame, tutela.signals.pdq_fast).
Consecutive near-identical frames may be collapsed as vPDQ's description prunes them (a frame
within D bits of the last frame kept is left out; `prune_frames`); off by default, as in Meta's
tools, whose hashes then equal ours frame for frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tutela.errors import InvalidHash
from tutela.media.limits import MediaLimits
from tutela.media.video import SparseMismatch, VideoEnd, VideoFrame, VideoInfo, sample_frames
from tutela.signals.pdq import FAST_MIN_SIDE, PdqMode, PdqSignal, pdq_of_pixels
from tutela.signals.pdq_fast import fast_pdq

# A bank line or a hash file may hold at most this many frames (four hours at 1 frame/s).
MAX_FRAMES = 4 * 3600 * 2


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    number: int
    quality: int
    hash: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class VpdqHash:
    """A video's frames in order, with what the decoder said of the video. `cut_short` says why
    the video looks truncated (tutela.media.video.VideoEnd), its frames being those up to the
    cut; None for a whole video."""

    frames: tuple[VpdqFrame, ...]
    frame_rate: float | None = None
    duration_s: float | None = None
    cut_short: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "frames": len(self.frames),
            "frame_rate": self.frame_rate,
            "duration_s": self.duration_s,
            "truncated": self.cut_short is not None,
            "hash": to_threatexchange(self.frames),
        }


def vpdq_of_file(
    path: str | Path,
    *,
    mode: PdqMode = PdqMode.FAST,
    seconds_per_hash: float = 1.0,
    limits: MediaLimits | None = None,
    prune_distance: int | None = None,
) -> VpdqHash:
    """Hash a video file; raises MediaError subclasses (typed, never anything else). A video cut
    short is hashed up to the cut, and its hash says so (`cut_short`).

    `prune_distance`: collapse consecutive frames within this many bits of the last one kept
    (`prune_frames`); None takes `limits.vpdq_prune_distance` (-1: keep every frame)."""
    limits = limits or MediaLimits()
    if prune_distance is None:
        prune_distance = limits.vpdq_prune_distance
    deadline = time.monotonic() + limits.video_timeout_s
    frames: list[VpdqFrame] = []
    info: VideoInfo | None = None
    end = VideoEnd()
    reduce_to = None if mode is PdqMode.EXACT else FAST_MIN_SIDE
    # Sparse decoding returns the very frames a full decode keeps, or says it cannot promise to
    # (SparseMismatch): then the file is decoded whole, within the same deadline.
    for sparse in (True, False):
        frames.clear()
        end = VideoEnd()
        try:
            for item in sample_frames(
                path,
                seconds_per_hash=seconds_per_hash,
                limits=limits,
                reduce_to=reduce_to,
                deadline=deadline,
                sparse=sparse,
                end=end,
            ):
                if isinstance(item, VideoInfo):
                    info = item
                    continue
                frames.append(_hash_frame(item, mode))
        except SparseMismatch:
            continue
        break
    return VpdqHash(
        frames=prune_frames(frames, prune_distance),
        frame_rate=info.frame_rate if info else None,
        duration_s=info.duration_s if info else None,
        cut_short=end.shortfall(info.frame_rate) if info else None,
    )


def prune_frames(frames: Iterable[VpdqFrame], distance: int) -> tuple[VpdqFrame, ...]:
    """vPDQ's frame pruning: each frame within `distance` bits of the last frame kept is left
    out, so a still scene keeps its first frame only and a slow pan one frame per `distance`
    bits of change. The first frame is always kept; a negative distance keeps every frame."""
    if distance < 0:
        return tuple(frames)
    kept: list[VpdqFrame] = []
    for frame in frames:
        if not kept or PdqSignal.distance(frame.hash, kept[-1].hash) > distance:
            kept.append(frame)
    return tuple(kept)


def _hash_frame(frame: VideoFrame, mode: PdqMode) -> VpdqFrame:
    if mode is PdqMode.EXACT:
        pdq = pdq_of_pixels(frame.pixels)
    else:
        pdq = fast_pdq(frame.pixels, stored_width=frame.width, stored_height=frame.height)
    return VpdqFrame(frame.number, pdq.quality, pdq.hash, round(frame.timestamp, 3))


def to_threatexchange(frames: Iterable[VpdqFrame]) -> str:
    """python-threatexchange's form: a JSON list of "pdq_hex,quality,seconds"."""
    return json.dumps([f"{f.hash},{f.quality},{f.timestamp:.3f}" for f in frames])


def to_reference_lines(frames: Iterable[VpdqFrame]) -> str:
    """Meta's vPDQ tools' form: "frame_number,quality,pdq_hex,seconds" per line."""
    return "".join(f"{f.number},{f.quality},{f.hash},{f.timestamp:.3f}\n" for f in frames)


def parse_vpdq(text: str) -> tuple[VpdqFrame, ...]:
    """Any of the text forms; raises InvalidHash naming the first bad frame. The JSON form and
    the `vpdq` command's lines store no frame numbers: they are counted from 0."""
    stripped = text.strip()
    if not stripped:
        raise InvalidHash("a vPDQ hash has at least one frame")
    if stripped.startswith("["):
        return _parse_threatexchange(stripped)
    return _parse_lines(stripped)


def _parse_threatexchange(text: str) -> tuple[VpdqFrame, ...]:
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidHash("a vPDQ hash in JSON form is a list of strings") from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidHash("a vPDQ hash in JSON form is a list of strings")
    _check_count(len(items))
    frames = []
    for number, item in enumerate(items):
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidHash(f"vPDQ frame {number}: expected pdq_hex,quality,seconds")
        frames.append(_frame(number, parts[0], parts[1], parts[2], number))
    return tuple(frames)


def _parse_lines(text: str) -> tuple[VpdqFrame, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    _check_count(len(lines))
    # The first line says which line form the file is in: four fields (Meta's tools) or three.
    fields = len(lines[0].split(","))
    frames = []
    for index, line in enumerate(lines):
        parts = [part.strip() for part in line.strip().split(",")]
        if fields == 3 and len(parts) == 3:
            frames.append(_frame(index, parts[0], parts[1], parts[2], index + 1))
            continue
        if len(parts) != 4:
            raise InvalidHash(f"vPDQ line {index + 1}: expected frame,quality,pdq_hex,seconds")
        try:
            number = int(parts[0])
        except ValueError:
            raise InvalidHash(f"vPDQ line {index + 1}: the frame number is not a number") from None
        frames.append(_frame(number, parts[2], parts[1], parts[3], index + 1))
    return tuple(frames)


def _frame(number: int, pdq_hex: str, quality: str, seconds: str, where: int) -> VpdqFrame:
    try:
        pdq_hex = PdqSignal.validate(pdq_hex)
    except InvalidHash:
        raise InvalidHash(f"vPDQ frame {where}: the PDQ hash is not 64 hex digits") from None
    try:
        value = int(quality)
        at = float(seconds)
    except ValueError:
        raise InvalidHash(f"vPDQ frame {where}: quality and time must be numbers") from None
    if not 0 <= value <= 100 or not 0.0 <= at < 1e9 or number < 0:
        raise InvalidHash(f"vPDQ frame {where}: quality 0-100, time and frame 0 or more")
    return VpdqFrame(number, value, pdq_hex, at)


def _check_count(count: int) -> None:
    if count == 0:
        raise InvalidHash("a vPDQ hash has at least one frame")
    if count > MAX_FRAMES:
        raise InvalidHash(f"a vPDQ hash may hold at most {MAX_FRAMES} frames, this one {count}")
