"""Crafted video files, built in code from drawn frames, that a decoder meets in the wild or from an
attacker. Not a test module: `hostile_videos(directory)` writes the corpus and
`test_video_hostile.py` runs it through the isolated workers with `HOSTILE_LIMITS`.

Each case names what must happen: an error code from `tutela.errors`, or "hash" (the video, or an
image in disguise, hashes whole). A "truncated" video's frames up to the cut are hashed as well.
Every picture is drawn (tests/video_files.py): shapes and flat colours (DESIGN ground rule 1).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tutela.media.limits import MediaLimits
from video_files import CONTAINERS, picture

HASH = "hash"
EMPTY = "empty"
UNSUPPORTED = "unsupported_format"
CORRUPT = "corrupt"
TRUNCATED = "truncated"
TOO_LARGE = "too_large"

# Tighter than a node's defaults so that each bound is met by a small file in a short test: a
# minute of video, 4 megapixels a frame, 20 s a video, a 1 GiB worker.
HOSTILE_LIMITS = MediaLimits(
    max_bytes=8 * 1024 * 1024,
    max_pixels=4_000_000,
    max_video_bytes=16 * 1024 * 1024,
    max_video_seconds=60.0,
    video_timeout_s=20.0,
    decode_timeout_s=20.0,
    worker_memory_bytes=1024 * 1024 * 1024,
)


@dataclass(frozen=True)
class VideoCase:
    name: str  # a file name; its extension may lie on purpose
    expect: str  # HASH or the error code
    note: str
    build: Callable[[Path], bytes]


def encode(
    frames: Sequence[np.ndarray],
    *,
    codec: str = "libx264",
    fps: int = 10,
    container_format: str | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    audio_seconds: float = 0.0,
    work: Path,
) -> bytes:
    """The bytes of a video of `frames` (RGB, one size), written through a file in `work`."""
    path = work / f"encode-{codec}.{container_format or CONTAINERS[codec]}"
    with av.open(
        str(path),
        "w",
        format=container_format or CONTAINERS[codec],
        options=container_options or {},
    ) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        height, width = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"} if codec == "libx264" else {}
        stream.options.update(options or {})
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.unlink()
    return data


def audio_only(work: Path) -> bytes:
    """An MP4 holding one second of silence and no video stream."""
    path = work / "audio.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48000)
        assert isinstance(stream, av.AudioStream)
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.unlink()
    return data


def panned(seconds: float, fps: int = 10, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    base = picture(7, *size)
    return [np.roll(base, 2 * i, axis=1) for i in range(int(seconds * fps))]


def flat(count: int, size: tuple[int, int], value: int = 0) -> list[np.ndarray]:
    return [np.full((size[1], size[0], 3), value, dtype=np.uint8)] * count


def faststart(work: Path) -> bytes:
    """Ten seconds, index (moov) at the front: a cut keeps the index and loses media data."""
    return encode(panned(10), container_options={"movflags": "faststart"}, work=work)


def index_at_end(work: Path) -> bytes:
    return encode(panned(10), work=work)


def cut(build: Callable[[Path], bytes], share: float) -> Callable[[Path], bytes]:
    def cut_build(work: Path) -> bytes:
        data = build(work)
        return data[: int(len(data) * share)]

    return cut_build


def box_offset(data: bytes, kind: bytes) -> int:
    """Where an ISO box of `kind` starts (its size field), among the top-level boxes."""
    at = 0
    while at + 8 <= len(data):
        size = struct.unpack(">I", data[at : at + 4])[0]
        if data[at + 4 : at + 8] == kind:
            return at
        if size < 8:
            break
        at += size
    raise AssertionError(f"no {kind!r} box")


def garbage_media(work: Path) -> bytes:
    """A whole index, then media data replaced by random bytes (same length)."""
    data = bytearray(faststart(work))
    mdat = box_offset(bytes(data), b"mdat") + 8
    noise = np.random.default_rng(5).integers(0, 256, len(data) - mdat, dtype=np.uint8)
    data[mdat:] = noise.tobytes()
    return bytes(data)


def garbage_after_header(work: Path) -> bytes:
    """A valid ftyp box, then random bytes."""
    data = faststart(work)
    ftyp_end = struct.unpack(">I", data[:4])[0]
    noise = np.random.default_rng(6).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return data[:ftyp_end] + noise


def huge_box(work: Path) -> bytes:
    """An index box that claims 4 GiB."""
    data = bytearray(faststart(work))
    moov = box_offset(bytes(data), b"moov")
    data[moov : moov + 4] = struct.pack(">I", 0xFFFFFFFF)
    return bytes(data)


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old) >= 1
    return data.replace(old, new, 1)


def unknown_codec_avi(work: Path) -> bytes:
    """An AVI whose video codec tag (FourCC, in both headers) names no codec FFmpeg knows."""
    data = encode(panned(2), codec="mpeg4", work=work)
    return data.replace(b"FMP4", b"QQQQ").replace(b"XVID", b"QQQQ").replace(b"DIVX", b"QQQQ")


def unknown_codec_mkv(work: Path) -> bytes:
    data = encode(panned(2), container_format="matroska", work=work)
    return replace_once(data, b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ")


def avi_rate(work: Path, rate: int, scale: int) -> bytes:
    """An AVI whose stream header declares rate/scale frames a second (strh dwScale, dwRate)."""
    data = bytearray(encode(panned(2), codec="mpeg4", work=work))
    body = data.find(b"strh") + 8
    assert data[body : body + 4] == b"vids"
    # fccType, fccHandler, dwFlags, wPriority, wLanguage, dwInitialFrames, then dwScale, dwRate.
    data[body + 20 : body + 28] = struct.pack("<II", scale, rate)
    return bytes(data)


def avi_huge_size(codec: str, size: int = 16000) -> Callable[[Path], bytes]:
    """An AVI whose headers claim size x size frames (avih and the stream's BITMAPINFOHEADER);
    16000 is about the most FFmpeg itself lets through (it refuses images of 2^31 bytes)."""

    def build(work: Path) -> bytes:
        frames = panned(0.5, size=(32, 32))
        data = bytearray(encode(frames, codec=codec, container_format="avi", work=work))
        avih = data.find(b"avih") + 8
        data[avih + 32 : avih + 40] = struct.pack("<II", size, size)
        strf = data.find(b"strf") + 8
        data[strf + 4 : strf + 12] = struct.pack("<ii", size, size)
        return bytes(data)

    return build


def mkv_without_duration(build: Callable[[Path], bytes]) -> Callable[[Path], bytes]:
    """A Matroska file whose Duration elements (segment's and track tag) say nothing."""

    def strip(work: Path) -> bytes:
        data = build(work)
        # Segment Info's Duration (ID 0x4489, a float) becomes a Void element of the same size.
        at = data.find(b"\x44\x89")
        data = data[:at] + b"\xec\x88" + data[at + 2 :] if at > 0 else data
        return data.replace(b"DURATION", b"DURATIOX")

    return strip


def png_bytes(work: Path) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.fromarray(picture(3)).save(out, "PNG")
    return out.getvalue()


CASES = [
    VideoCase("empty.mp4", EMPTY, "zero bytes", lambda work: b""),
    VideoCase("text.mp4", UNSUPPORTED, "text named like a video", lambda w: b"not a video\n" * 50),
    VideoCase(
        "ftyp-only.mp4",
        CORRUPT,
        "an ISO header and nothing else",
        lambda w: b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00",
    ),
    VideoCase(
        "ebml-only.webm",
        CORRUPT,
        "Matroska's magic and nothing else",
        lambda w: b"\x1a\x45\xdf\xa3" + b"\x00" * 12,
    ),
    VideoCase(
        "riff-only.avi",
        CORRUPT,
        "an AVI header and nothing else",
        lambda w: b"RIFF\x00\x00\x00\x00AVI LIST",
    ),
    VideoCase(
        "cut-10.mp4",
        CORRUPT,
        "index at the front, cut inside the first frame: nothing to hash",
        cut(faststart, 0.1),
    ),
    VideoCase("cut-50.mp4", TRUNCATED, "index at the front, cut in half", cut(faststart, 0.5)),
    VideoCase("cut-90.mp4", TRUNCATED, "index at the front, cut at 90 %", cut(faststart, 0.9)),
    VideoCase(
        "cut-index-at-end.mp4",
        CORRUPT,
        "index at the end, cut in half: no index",
        cut(index_at_end, 0.5),
    ),
    VideoCase(
        "cut-before-media.mp4",
        CORRUPT,
        "index whole, every frame cut away",
        lambda w: (lambda d: d[: box_offset(d, b"mdat") + 8])(faststart(w)),
    ),
    VideoCase(
        "cut-50.webm",
        TRUNCATED,
        "VP9 in WebM cut in half",
        cut(lambda w: encode(panned(10), codec="libvpx-vp9", work=w), 0.5),
    ),
    VideoCase(
        "cut-50.avi",
        TRUNCATED,
        "MPEG-4 in AVI cut in half",
        cut(lambda w: encode(panned(10), codec="mpeg4", work=w), 0.5),
    ),
    VideoCase("garbage-media.mp4", CORRUPT, "a whole index over random media data", garbage_media),
    VideoCase(
        "garbage-after-ftyp.mp4",
        CORRUPT,
        "a valid first box, then random bytes",
        garbage_after_header,
    ),
    VideoCase(
        "huge-box.mp4", HASH, "the index box claims 4 GiB: read to the end of the file", huge_box
    ),
    VideoCase("audio-only.mp4", CORRUPT, "silence, no video stream", audio_only),
    VideoCase("unknown-codec.avi", UNSUPPORTED, "a FourCC no decoder knows", unknown_codec_avi),
    VideoCase(
        "unknown-codec.mkv", UNSUPPORTED, "a Matroska codec id no decoder knows", unknown_codec_mkv
    ),
    VideoCase(
        "zero-rate.avi",
        HASH,
        "a frame rate of 0/1: FFmpeg takes the bitstream's 10/s",
        lambda w: avi_rate(w, 0, 1),
    ),
    VideoCase(
        "absurd-rate.avi",
        HASH,
        "a frame rate of 10^9/s: FFmpeg takes the bitstream's 10/s",
        lambda w: avi_rate(w, 1_000_000_000, 1),
    ),
    VideoCase(
        "absurd-size.avi",
        TOO_LARGE,
        "raw video whose headers claim 16000x16000 (256 MP)",
        avi_huge_size("rawvideo"),
    ),
    VideoCase(
        "absurder-size.avi",
        CORRUPT,
        "raw video claiming 60000x60000: FFmpeg refuses the size",
        avi_huge_size("rawvideo", 60000),
    ),
    VideoCase(
        "absurd-size-header.avi",
        HASH,
        "MPEG-4 whose AVI headers claim 16000x16000: the bitstream's 32x32 wins",
        avi_huge_size("mpeg4"),
    ),
    VideoCase(
        "codec-bomb.mp4",
        TOO_LARGE,
        "a few kB of flat frames of 4.1 MP each",
        lambda w: encode(flat(3, (2560, 1600)), work=w),
    ),
    VideoCase(
        "long-black.mp4",
        TOO_LARGE,
        "70 s of black frames, declared",
        lambda w: encode(flat(700, (64, 64)), work=w),
    ),
    VideoCase(
        "long-black-undeclared.mkv",
        TOO_LARGE,
        "70 s of black, no duration in the header: counted",
        mkv_without_duration(
            lambda w: encode(flat(700, (64, 64)), container_format="matroska", work=w)
        ),
    ),
    VideoCase(
        "video-named.jpg",
        HASH,
        "a whole video with an image's extension: sniffed, hashed as video",
        lambda w: encode(panned(2), work=w),
    ),
    VideoCase(
        "image-named.mp4", HASH, "a PNG with a video's extension: hashed as an image", png_bytes
    ),
    VideoCase(
        "over-size-limit.mp4",
        TOO_LARGE,
        "17 MiB: over the video byte limit, refused unread",
        lambda w: b"\x00\x00\x00\x18ftypisom" + b"\x00" * (17 * 1024 * 1024),
    ),
]
