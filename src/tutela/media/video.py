"""Untrusted video files → sampled frames, streamed from disk with FFmpeg (PyAV), within limits.

Frames are sampled as Meta's vPDQ does: every decoded frame is numbered from 0 in output order,
and frame n is kept when n % max(1, int(seconds_per_hash · frame rate)) == 0; its time stamp is
n / frame rate. Only kept frames are converted (to grey, reduced by swscale when `reduce_to` is
given), so decoding is most of the cost.

Hostile files get typed errors: the container is opened only with the demuxer its first bytes name
(never a playlist or concat demuxer that reads other files), declared and decoded sizes, duration
and frame counts are bounded, and the caller's time budget is checked between frames. Run it in
an isolated worker (tutela.media.isolation), which also caps memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tutela.errors import (
    CorruptMedia,
    DecodeTimeout,
    EmptyMedia,
    MediaTooLarge,
    TutelaError,
    UnsupportedFormat,
)
from tutela.media.formats import VideoFormat as VideoFormat
from tutela.media.formats import sniff_video as sniff_video
from tutela.media.limits import MediaLimits

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame as AvFrame
    from av.video.stream import VideoStream

# Frame rates outside this range are a broken or hostile header; vPDQ divides by the rate.
MIN_FRAME_RATE = 0.1
MAX_FRAME_RATE = 1000.0


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame: its number and time as vPDQ gives them, and its pixels ((H, W) grey
    uint8, or (H, W, 3) RGB when no reduction was asked), reduced from width × height."""

    number: int
    timestamp: float
    width: int
    height: int
    pixels: np.ndarray


@dataclass(frozen=True, slots=True)
class VideoInfo:
    format: VideoFormat
    codec: str
    width: int
    height: int
    frame_rate: float
    duration_s: float | None


def sample_frames(
    path: str | Path,
    *,
    seconds_per_hash: float = 1.0,
    limits: MediaLimits | None = None,
    reduce_to: int | None = None,
    deadline: float | None = None,
) -> Iterator[VideoFrame | VideoInfo]:
    """Yield the video's `VideoInfo` first, then its sampled frames in order.

    `reduce_to`: scale kept frames down (grey) while their shorter side stays at least this;
    None keeps full-size RGB, as the reference hashes. `deadline`: a time.monotonic() value past
    which decoding stops with DecodeTimeout. Raises MediaError subclasses only.
    """
    import av  # FFmpeg is loaded only by the processes that decode video

    limits = limits or MediaLimits()
    if seconds_per_hash <= 0:
        raise ValueError("seconds_per_hash must be positive")
    fmt = _sniff_file(Path(path), limits)
    try:
        container = av.open(str(path), format=fmt.demuxer, options={"enable_drefs": "0"})
    except av.error.FFmpegError as exc:
        raise CorruptMedia(
            f"{fmt.value} container could not be read ({_ffmpeg_reason(exc)})"
        ) from exc
    with container:
        try:
            yield from _sample(container, fmt, seconds_per_hash, limits, reduce_to, deadline)
        except TutelaError:
            raise
        except av.error.FFmpegError as exc:
            raise CorruptMedia(f"{fmt.value} video is corrupt ({_ffmpeg_reason(exc)})") from exc
        except MemoryError as exc:
            raise MediaTooLarge("decoding the video needed more memory than allowed") from exc


def _sniff_file(path: Path, limits: MediaLimits) -> VideoFormat:
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise CorruptMedia(f"the video file could not be read ({type(exc).__name__})") from exc
    if size == 0:
        raise EmptyMedia("the file is empty")
    if size > limits.max_video_bytes:
        raise MediaTooLarge(f"video has {size} bytes, the limit is {limits.max_video_bytes}")
    fmt = sniff_video(head)
    if fmt is None:
        raise UnsupportedFormat("not a supported video (MP4/MOV, WebM/MKV or AVI)")
    return fmt


def _sample(
    container: InputContainer,
    fmt: VideoFormat,
    seconds_per_hash: float,
    limits: MediaLimits,
    reduce_to: int | None,
    deadline: float | None,
) -> Iterator[VideoFrame | VideoInfo]:
    streams = container.streams.video
    if not streams:
        raise CorruptMedia(f"the {fmt.value} file has no video stream")
    stream = streams[0]
    stream.thread_type = "SLICE"  # one core per decode: a node runs one worker per core
    info = _info(fmt, stream, container)
    if info.width * info.height > limits.max_pixels:
        raise MediaTooLarge(
            f"video frames are {info.width}x{info.height}, over the limit of "
            f"{limits.max_pixels} pixels"
        )
    if info.duration_s is not None and info.duration_s > limits.max_video_seconds:
        raise MediaTooLarge(
            f"video lasts {info.duration_s:g} s, the limit is {limits.max_video_seconds:g} s"
        )
    yield info
    frame_mod = max(1, int(seconds_per_hash * info.frame_rate))
    max_frames = int(limits.max_video_seconds * info.frame_rate) + 1
    decoded = 0
    for frame in container.decode(stream):
        number = decoded
        decoded += 1
        if decoded > max_frames:
            raise MediaTooLarge(
                f"video runs past {limits.max_video_seconds:g} s "
                f"({decoded} frames at {info.frame_rate:g}/s)"
            )
        if deadline is not None and time.monotonic() > deadline:
            raise DecodeTimeout("decoding the video took longer than its time budget")
        if frame.width * frame.height > limits.max_pixels:
            raise MediaTooLarge(f"a frame is {frame.width}x{frame.height}, over the pixel limit")
        if number % frame_mod:
            continue
        yield VideoFrame(
            number=number,
            timestamp=number / info.frame_rate,
            width=frame.width,
            height=frame.height,
            pixels=_pixels(frame, reduce_to),
        )
    if decoded == 0:
        raise CorruptMedia(f"the {fmt.value} video has no decodable frame")


def _info(fmt: VideoFormat, stream: VideoStream, container: InputContainer) -> VideoInfo:
    codec = stream.codec_context
    width, height = int(codec.width or 0), int(codec.height or 0)
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"the {fmt.value} video declares no frame size")
    rate = _frame_rate(stream)
    duration = container.duration
    return VideoInfo(
        format=fmt,
        codec=str(codec.name),
        width=width,
        height=height,
        frame_rate=rate,
        duration_s=duration / 1_000_000 if duration and duration > 0 else None,
    )


def _frame_rate(stream: VideoStream) -> float:
    """The stream's frame rate as FFmpeg guesses it (average, else the base rate)."""
    for attribute in ("average_rate", "guessed_rate", "base_rate"):
        rate = getattr(stream, attribute, None)
        if isinstance(rate, Fraction) and rate > 0:
            value = float(rate)
            if MIN_FRAME_RATE <= value <= MAX_FRAME_RATE:
                return value
    raise CorruptMedia("the video declares no usable frame rate")


def _pixels(frame: AvFrame, reduce_to: int | None) -> np.ndarray:
    if reduce_to is None:
        return np.asarray(frame.to_ndarray(format="rgb24"))
    width, height = frame.width, frame.height
    factor = max(1, min(width, height) // reduce_to)
    reduced = frame.reformat(
        width=max(1, width // factor), height=max(1, height // factor), format="gray"
    )
    return np.asarray(reduced.to_ndarray())


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or type(exc).__name__
    return str(text)[:120]
