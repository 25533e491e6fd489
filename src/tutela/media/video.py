"""Untrusted video files → sampled frames, streamed from disk with FFmpeg (PyAV), within limits.

Frames are sampled as Meta's vPDQ does: every decoded frame is numbered from 0 in output order,
and frame n is kept when n % max(1, int(seconds_per_hash · frame rate)) == 0; its time stamp is
n / frame rate. Only kept frames are converted (to grey, reduced by swscale when `reduce_to` is
given), so decoding is most of the cost.

Sparse decoding (`sparse=True`, for H.264, HEVC and VP9, whose packets are one frame each with
presentation times) decodes only what the kept frames need: a frame's number is its rank among
the presentation times of all packets demuxed (which is its place in output order), decided 16
packets ahead so that B-frame reordering is settled; frames that nothing references are skipped
unless kept (`skip_frame`), and the packets of a group of pictures after its last kept frame are
never decoded (the decoder is drained and reset at the next keyframe). Anything that would make
a number differ from a full decode's (no time stamps, a first packet that is no keyframe, an open
group of pictures after a skipped tail, a kept frame the decoder does not return) raises
`SparseMismatch`; the caller then decodes the whole file again (`vpdq_of_file` does).

A video cut short is told apart from a whole one (`VideoEnd`): fewer frames than its header
declares (AVI, Matroska), or frames ending before the video stream's declared duration (MP4, whose
index survives when the media data after it is cut), or a decoder that broke off after some
frames. Its frames up to the cut are still returned; the caller reports TruncatedMedia beside
them (tutela.signals.vpdq), so known material in the part that is there is still found.

Hostile files get typed errors: the container is opened only with the demuxer its first bytes name
(never a playlist or concat demuxer that reads other files), declared and decoded sizes, duration
and frame counts are bounded, and the caller's time budget is checked between frames. Run it in
an isolated worker (tutela.media.isolation), which also caps memory.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
    from av.packet import Packet
    from av.video.frame import VideoFrame as AvFrame
    from av.video.stream import VideoStream

# Frame rates outside this range are a broken or hostile header; vPDQ divides by the rate.
MIN_FRAME_RATE = 0.1
MAX_FRAME_RATE = 1000.0
# Codecs decoded sparsely: one frame per packet, presentation times, skip_frame honoured.
SPARSE_CODECS = frozenset({"h264", "hevc", "vp9"})
# A video is cut short when it lacks more than this many frames and this share of those its header
# declares (AVI's null frames, a decoder's dropped ones), or, by time, more than the longer of
# these frames and seconds (an audio track or an edit list moves the declared end a little).
_SHORT_FRAMES = 2
_SHORT_SHARE = 0.02
_SHORT_SECONDS = 0.5
# Packets demuxed ahead of the one decided: more than any decoder's reordering (H.264: 16).
_LOOKAHEAD = 16
# Packets (and their bytes) of one group of pictures held back undecoded at most; beyond, they
# are decoded, so that a hostile stream with no keyframes costs bounded memory.
_MAX_HELD = 512
_MAX_HELD_BYTES = 32 * 1024 * 1024


class SparseMismatch(Exception):
    """Sparse decoding cannot promise a full decode's frame numbers for this file: decode it
    whole instead. Internal to video hashing; never reaches a caller of vpdq_of_file."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame: its number and time as vPDQ gives them, and its pixels ((H, W) grey
    uint8, or (H, W, 3) RGB when no reduction was asked), reduced from width × height."""

    number: int
    timestamp: float
    width: int
    height: int
    pixels: np.ndarray


@dataclass(slots=True)
class VideoEnd:
    """How a decode ended, filled in by sample_frames as it goes (pass one as `end`).

    frames: frames the stream held (decoded; demuxed packets when decoding sparsely).
    seconds: the time they span, from the first frame's presentation time to the last one's end
        (None when they carry no times: then frames / rate); a variable frame rate counts right.
    declared_frames: the frame count the header gives (AVI, Matroska; not MP4, whose count
        includes samples an edit list leaves out); None when unknown.
    declared_seconds: the video stream's duration from the header; None when unknown.
    broken: the decoder's reason when it failed after some frames had been returned.
    """

    frames: int = 0
    seconds: float | None = None
    declared_frames: int | None = None
    declared_seconds: float | None = None
    broken: str | None = None

    def shortfall(self, frame_rate: float) -> str | None:
        """Why the video looks cut short, in a sentence; None when it looks whole."""
        if self.broken is not None:
            return f"decoding broke off after {self.frames} frames ({self.broken})"
        if (
            self.declared_frames is not None
            and self.frames < self.declared_frames * (1 - _SHORT_SHARE) - _SHORT_FRAMES
        ):
            return f"the video holds {self.frames} of the {self.declared_frames} frames it declares"
        seen = self.seconds if self.seconds is not None else self.frames / frame_rate
        slack = max(_SHORT_FRAMES / frame_rate, _SHORT_SECONDS)
        if self.declared_seconds is not None and seen + slack < self.declared_seconds:
            return (
                f"the video ends at {seen:.1f} s of the {self.declared_seconds:.1f} s it declares"
            )
        return None


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
    sparse: bool = False,
    end: VideoEnd | None = None,
) -> Iterator[VideoFrame | VideoInfo]:
    """Yield the video's `VideoInfo` first, then its sampled frames in order.

    `end`, when given, is filled in with how the decode ended (VideoEnd): read it once the
    frames are all taken, to know whether the video was cut short.
    `reduce_to`: scale kept frames down (grey) while their shorter side stays at least this;
    None keeps full-size RGB, as the reference hashes. `deadline`: a time.monotonic() value past
    which decoding stops with DecodeTimeout. `sparse`: decode only what the sampled frames need
    (module docstring); may raise SparseMismatch, after which the caller decodes again without.
    Raises MediaError subclasses only, besides.
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
            yield from _sample(
                container,
                fmt,
                seconds_per_hash,
                limits,
                reduce_to,
                deadline,
                sparse=sparse,
                end=end if end is not None else VideoEnd(),
            )
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
        raise UnsupportedFormat(
            "not a supported video (MP4/MOV, WebM/MKV or AVI), judged by its content"
        )
    return fmt


def _sample(
    container: InputContainer,
    fmt: VideoFormat,
    seconds_per_hash: float,
    limits: MediaLimits,
    reduce_to: int | None,
    deadline: float | None,
    *,
    sparse: bool,
    end: VideoEnd,
) -> Iterator[VideoFrame | VideoInfo]:
    import av

    streams = container.streams.video
    if not streams:
        raise CorruptMedia(f"the {fmt.value} file has no video stream")
    stream = streams[0]
    if stream.codec_context is None:  # FFmpeg has no decoder for it
        raise UnsupportedFormat(
            f"the {fmt.value} file's video codec is not one this node's FFmpeg decodes "
            "(H.264, HEVC, VP9 and MPEG-4 are)"
        )
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
    end.declared_frames, end.declared_seconds = _declared(fmt, stream, container)
    frame_mod = max(1, int(seconds_per_hash * info.frame_rate))
    max_frames = int(limits.max_video_seconds * info.frame_rate) + 1
    kept: _SparseDecoder | _FullDecoder
    if sparse and frame_mod > 1 and info.codec in SPARSE_CODECS:
        kept = _SparseDecoder(container, stream, frame_mod, max_frames, info, limits, deadline)
    else:
        kept = _FullDecoder(container, stream, frame_mod, max_frames, info, limits, deadline)
    any_frame = False
    try:
        for number, frame in kept:
            any_frame = True
            yield VideoFrame(
                number=number,
                timestamp=number / info.frame_rate,
                width=frame.width,
                height=frame.height,
                pixels=_pixels(frame, reduce_to),
            )
    except av.error.FFmpegError as exc:
        if not any_frame:
            raise
        # Cut off mid-packet or corrupt from here on: what came before stands (module docstring).
        end.broken = _ffmpeg_reason(exc)
    end.frames = kept.seen
    end.seconds = _span(kept.first_pts, kept.last_pts, stream, info.frame_rate)
    if not any_frame:
        raise CorruptMedia(f"the {fmt.value} video has no decodable frame")


def _span(
    first: int | None, last: int | None, stream: VideoStream, frame_rate: float
) -> float | None:
    """Seconds from the first frame's presentation time to the end of the last frame."""
    if first is None or last is None or not stream.time_base:
        return None
    return float((last - first) * stream.time_base) + 1 / frame_rate


def _declared(
    fmt: VideoFormat, stream: VideoStream, container: InputContainer
) -> tuple[int | None, float | None]:
    """The frame count and video duration the header declares (VideoEnd), where they can be
    trusted to mean the frames a whole file holds."""
    frames = int(stream.frames or 0)
    declared_frames = frames if frames > 0 and fmt is not VideoFormat.MP4 else None
    seconds: float | None = None
    if stream.duration and stream.duration > 0 and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif (tag := stream.metadata.get("DURATION")) is not None:  # Matroska's per-track tag
        seconds = _clock_seconds(tag)
    elif len(container.streams) == 1 and container.duration and container.duration > 0:
        seconds = container.duration / 1_000_000  # no other track to outlast the video
    return declared_frames, seconds


def _clock_seconds(text: str) -> float | None:
    """Seconds of an "HH:MM:SS.fraction" tag; None when it is not one."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    total = hours * 3600 + minutes * 60 + seconds
    return total if total > 0 else None


def _check_frame(
    frame: AvFrame,
    count: int,
    max_frames: int,
    info: VideoInfo,
    limits: MediaLimits,
    deadline: float | None,
) -> None:
    if count > max_frames:
        raise MediaTooLarge(
            f"video runs past {limits.max_video_seconds:g} s "
            f"({count} frames at {info.frame_rate:g}/s)"
        )
    if deadline is not None and time.monotonic() > deadline:
        raise DecodeTimeout("decoding the video took longer than its time budget")
    if frame.width * frame.height > limits.max_pixels:
        raise MediaTooLarge(f"a frame is {frame.width}x{frame.height}, over the pixel limit")


class _FullDecoder:
    """(number, frame) of the kept frames, decoding every frame, as the reference does."""

    def __init__(
        self,
        container: InputContainer,
        stream: VideoStream,
        frame_mod: int,
        max_frames: int,
        info: VideoInfo,
        limits: MediaLimits,
        deadline: float | None,
    ) -> None:
        self.container, self.stream = container, stream
        self.frame_mod, self.max_frames = frame_mod, max_frames
        self.info, self.limits, self.deadline = info, limits, deadline
        self.seen = 0  # frames decoded
        self.first_pts: int | None = None
        self.last_pts: int | None = None

    def __iter__(self) -> Iterator[tuple[int, AvFrame]]:
        for number, frame in enumerate(self.container.decode(self.stream)):
            self.seen = number + 1
            if frame.pts is not None:
                if self.first_pts is None or frame.pts < self.first_pts:
                    self.first_pts = frame.pts
                if self.last_pts is None or frame.pts > self.last_pts:
                    self.last_pts = frame.pts
            _check_frame(frame, number + 1, self.max_frames, self.info, self.limits, self.deadline)
            if number % self.frame_mod == 0:
                yield number, frame


class _SparseDecoder:
    """(number, frame) of the kept frames, decoding only what they need (module docstring).

    Packets are demuxed in decode order into `ahead`; the oldest is decided once _LOOKAHEAD more
    are known, when its rank among all presentation times can no longer change. A kept packet
    is decoded with the group's held-back packets before it (frames nothing references skipped);
    the others wait in `held` until a kept one needs them, or are dropped at the next keyframe.
    """

    def __init__(
        self,
        container: InputContainer,
        stream: VideoStream,
        frame_mod: int,
        max_frames: int,
        info: VideoInfo,
        limits: MediaLimits,
        deadline: float | None,
    ) -> None:
        self.container, self.stream, self.codec = container, stream, stream.codec_context
        self.frame_mod, self.max_frames = frame_mod, max_frames
        self.info, self.limits, self.deadline = info, limits, deadline
        self.times: list[int] = []  # presentation times of every packet demuxed, sorted
        self.ahead: deque[Packet[VideoStream]] = deque()
        self.held: list[Packet[VideoStream]] = []
        self.held_bytes = 0
        self.expected: dict[int, int] = {}  # pts → number of kept frames decoded, not returned
        self.decoded = 0  # frames the decoder returned
        self.gop_pts: int | None = None  # the current group's keyframe
        self.dropped_tail = False  # packets before this group's keyframe were never decoded
        self.last_out = -1
        self.last_decided = -(2**63)  # the latest presentation time decided

    @property
    def seen(self) -> int:
        """Packets demuxed (one frame each, for the codecs decoded sparsely)."""
        return len(self.times)

    @property
    def first_pts(self) -> int | None:
        return self.times[0] if self.times else None

    @property
    def last_pts(self) -> int | None:
        return self.times[-1] if self.times else None

    def __iter__(self) -> Iterator[tuple[int, AvFrame]]:
        for packet in self.container.demux(self.stream):
            if packet.size == 0:  # PyAV's end-of-stream packet
                continue
            pts = packet.pts
            if pts is None or packet.is_discard:
                raise SparseMismatch("a packet without a presentation time, or to discard")
            if len(self.times) >= self.max_frames:
                raise MediaTooLarge(
                    f"video runs past {self.limits.max_video_seconds:g} s "
                    f"({len(self.times) + 1} frames at {self.info.frame_rate:g}/s)"
                )
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise DecodeTimeout("decoding the video took longer than its time budget")
            at = bisect.bisect_left(self.times, pts)
            if at < len(self.times) and self.times[at] == pts:
                raise SparseMismatch("two packets with one presentation time")
            if pts < self.last_decided:
                raise SparseMismatch("a packet reordered further than the lookahead")
            self.times.insert(at, pts)
            self.ahead.append(packet)
            if len(self.ahead) > _LOOKAHEAD:
                yield from self._decide(self.ahead.popleft())
        while self.ahead:
            yield from self._decide(self.ahead.popleft())
        yield from self._drain()
        if self.expected:
            raise SparseMismatch("a kept frame the decoder did not return")

    def _decide(self, packet: Packet[VideoStream]) -> Iterator[tuple[int, AvFrame]]:
        pts = packet.pts
        assert pts is not None  # checked when demuxed
        number = bisect.bisect_left(self.times, pts)
        self.last_decided = max(self.last_decided, pts)
        if packet.is_keyframe:
            if self.held:  # the previous group's tail: nothing kept needs it
                self.held, self.held_bytes = [], 0
                self.dropped_tail = True
                yield from self._drain()
            else:
                self.dropped_tail = False
            self.gop_pts = pts
        elif self.gop_pts is None:
            raise SparseMismatch("the first packet is no keyframe")
        elif pts < self.gop_pts and self.dropped_tail:
            raise SparseMismatch("an open group of pictures after a skipped tail")
        if number % self.frame_mod:
            self.held.append(packet)
            self.held_bytes += packet.size
            if len(self.held) > _MAX_HELD or self.held_bytes > _MAX_HELD_BYTES:
                yield from self._feed_held()
            return
        yield from self._feed_held()
        self.expected[pts] = number
        yield from self._feed(packet, "DEFAULT")

    def _feed_held(self) -> Iterator[tuple[int, AvFrame]]:
        held, self.held, self.held_bytes = self.held, [], 0
        for packet in held:
            yield from self._feed(packet, "NONREF")

    def _feed(
        self, packet: Packet[VideoStream], skip: Literal["DEFAULT", "NONREF"]
    ) -> Iterator[tuple[int, AvFrame]]:
        self.codec.skip_frame = skip
        for frame in self.codec.decode(packet):
            yield from self._returned(frame)

    def _drain(self) -> Iterator[tuple[int, AvFrame]]:
        for frame in self.codec.decode(None):
            yield from self._returned(frame)
        self.codec.flush_buffers()

    def _returned(self, frame: AvFrame) -> Iterator[tuple[int, AvFrame]]:
        self.decoded += 1
        _check_frame(frame, self.decoded, self.max_frames, self.info, self.limits, self.deadline)
        if frame.pts is None:
            raise SparseMismatch("a frame without a presentation time")
        number = bisect.bisect_left(self.times, frame.pts)
        expected = self.expected.pop(frame.pts, None)
        if expected is not None and expected != number:
            raise SparseMismatch("a kept frame's place changed")
        if number <= self.last_out:
            raise SparseMismatch("frames returned out of order")
        self.last_out = number
        if number % self.frame_mod == 0:
            yield number, frame


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
