"""Video: sniffed from content, sampled as vPDQ samples, hashed per frame, and every hostile or
broken file refused with a typed error."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tutela.errors import (
    CorruptMedia,
    DecodeTimeout,
    EmptyMedia,
    MediaTooLarge,
    TruncatedMedia,
    UnsupportedFormat,
)
from tutela.media.limits import MediaLimits
from tutela.media.video import VideoFormat, VideoFrame, VideoInfo, sample_frames, sniff_video
from tutela.signals.hashing import hash_video_file
from tutela.signals.pdq import PdqMode, PdqSignal, pdq_of_pixels
from tutela.signals.vpdq import vpdq_of_file
from video_files import picture, slideshow, still_video, write_video

# H.264 at crf 18 moves a frame's PDQ a few bits from the drawn still it encodes.
FRAME_BITS = 12


def frames_of(path: Path, **options: object) -> tuple[VideoInfo, list[VideoFrame]]:
    items = list(sample_frames(path, **options))  # type: ignore[arg-type]
    info = items[0]
    assert isinstance(info, VideoInfo)
    return info, [f for f in items[1:] if isinstance(f, VideoFrame)]


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("libx264", VideoFormat.MP4),
        ("libvpx-vp9", VideoFormat.MATROSKA),
        ("mpeg4", VideoFormat.AVI),
    ],
)
def test_each_container_is_recognised_from_its_first_bytes(
    tmp_path: Path, codec: str, expected: VideoFormat
) -> None:
    path = still_video(tmp_path / "v.bin", picture(1), 1, codec=codec)
    assert sniff_video(path.read_bytes()[:16]) is expected


def test_an_image_is_not_taken_for_a_video() -> None:
    assert sniff_video(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00") is None


def test_frames_are_sampled_once_a_second_numbered_and_timed_as_vpdq_does(tmp_path: Path) -> None:
    info, frames = frames_of(still_video(tmp_path / "v.mp4", picture(1), 5, fps=10))
    assert info.frame_rate == 10 and (info.width, info.height) == (320, 240)
    assert [f.number for f in frames] == [0, 10, 20, 30, 40]
    assert [f.timestamp for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_shorter_interval_samples_more_frames(tmp_path: Path) -> None:
    _, frames = frames_of(
        still_video(tmp_path / "v.mp4", picture(1), 2, fps=10), seconds_per_hash=0.5
    )
    assert [f.number for f in frames] == [0, 5, 10, 15]


@pytest.mark.parametrize("mode", list(PdqMode))
def test_each_sampled_frame_hashes_near_the_picture_it_shows(tmp_path: Path, mode: PdqMode) -> None:
    first, second = picture(1), picture(2)
    vpdq = vpdq_of_file(slideshow(tmp_path / "v.mp4", [first, second], 2, fps=10), mode=mode)
    expected = [pdq_of_pixels(first).hash] * 2 + [pdq_of_pixels(second).hash] * 2
    distances = [PdqSignal.distance(f.hash, e) for f, e in zip(vpdq.frames, expected, strict=True)]
    assert max(distances) <= FRAME_BITS
    assert all(f.quality >= 50 for f in vpdq.frames)


def test_fast_mode_stays_near_exact_mode_on_every_frame(tmp_path: Path) -> None:
    path = slideshow(tmp_path / "v.mp4", [picture(3), picture(4), picture(5)], 1, fps=10)
    fast = vpdq_of_file(path, mode=PdqMode.FAST).frames
    exact = vpdq_of_file(path, mode=PdqMode.EXACT).frames
    assert [f.number for f in fast] == [f.number for f in exact]
    assert max(PdqSignal.distance(a.hash, b.hash) for a, b in zip(fast, exact, strict=True)) <= 6


def test_an_empty_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"")
    with pytest.raises(EmptyMedia):
        vpdq_of_file(tmp_path / "v.mp4")


def test_a_text_file_named_like_a_video_is_unsupported(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"hello, this is not a video at all\n" * 10)
    with pytest.raises(UnsupportedFormat):
        vpdq_of_file(tmp_path / "v.mp4")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_a_truncated_video_is_corrupt_or_yields_the_frames_it_holds(
    tmp_path: Path, keep: float
) -> None:
    data = still_video(tmp_path / "full.mp4", picture(1), 3).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    try:
        vpdq = vpdq_of_file(cut)
    except CorruptMedia:
        return
    assert 0 < len(vpdq.frames) <= 3


@pytest.mark.parametrize("codec", ["libx264", "libvpx-vp9", "mpeg4"])
def test_a_video_cut_in_half_keeps_its_first_frames_and_says_it_is_cut_short(
    tmp_path: Path, codec: str
) -> None:
    frames = [np.roll(picture(1), 3 * i, axis=1) for i in range(100)]
    whole = write_video(tmp_path / "whole.bin", frames, codec=codec, faststart=True)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    full, half = vpdq_of_file(whole), vpdq_of_file(cut)
    assert full.cut_short is None and full.as_dict()["truncated"] is False
    assert half.cut_short is not None and half.as_dict()["truncated"] is True
    assert 0 < len(half.frames) < len(full.frames)
    assert half.frames == full.frames[: len(half.frames)]
    signals = hash_video_file(str(cut))
    assert signals.vpdq == half
    assert isinstance(signals.error, TruncatedMedia) and signals.error.code == "truncated"
    assert "cut short" in signals.error.message


@pytest.mark.parametrize(
    ("container_format", "codec", "audio"),
    [("mp4", "libx264", "aac"), ("webm", "libvpx-vp9", "libopus"), ("matroska", "libx264", "aac")],
)
def test_a_whole_video_with_a_longer_audio_track_is_not_taken_for_a_cut_one(
    tmp_path: Path, container_format: str, codec: str, audio: str
) -> None:
    path = tmp_path / f"v.{container_format}"
    with av.open(str(path), "w", format=container_format) as container:
        video = container.add_stream(codec, rate=10)
        sound = container.add_stream(audio, rate=48000)
        assert isinstance(video, av.VideoStream) and isinstance(sound, av.AudioStream)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        for i in range(30):  # 3 s of video
            frame = av.VideoFrame.from_ndarray(np.roll(picture(2), i, axis=1), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for start in range(0, 6 * 48000, 960):  # 6 s of silence
            samples = av.AudioFrame.from_ndarray(
                np.zeros((1, 960), dtype=np.float32), format="fltp", layout="mono"
            )
            samples.sample_rate, samples.pts = 48000, start
            for packet in sound.encode(samples):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    vpdq = vpdq_of_file(path)
    assert len(vpdq.frames) == 3 and vpdq.cut_short is None


@pytest.mark.parametrize(
    ("container_format", "codec"), [("matroska", "libx264"), ("webm", "libvpx-vp9")]
)
def test_a_variable_rate_video_with_a_gap_is_not_taken_for_a_cut_one(
    tmp_path: Path, container_format: str, codec: str
) -> None:
    # Nominally 10 frames a second, but no frame from 1 s to 3 s: 20 frames spanning 4 s.
    path = tmp_path / f"v.{container_format}"
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for i, pts in enumerate([*range(10), *range(30, 40)]):
            frame = av.VideoFrame.from_ndarray(np.roll(picture(3), i, axis=1), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    vpdq = vpdq_of_file(path)
    assert vpdq.cut_short is None and len(vpdq.frames) == 2


def test_a_video_in_a_codec_no_decoder_knows_is_unsupported(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.avi", [picture(1)] * 10, codec="mpeg4")
    path.write_bytes(path.read_bytes().replace(b"FMP4", b"QQQQ"))
    with pytest.raises(UnsupportedFormat, match="codec"):
        vpdq_of_file(path)


def test_a_video_with_no_frames_is_corrupt(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", [picture(1)], fps=10)
    # An MP4 whose one frame is cut away: the header survives, the media data does not.
    data = path.read_bytes()
    mdat = data.find(b"mdat")
    path.write_bytes(data[: mdat + 4])
    with pytest.raises(CorruptMedia):
        vpdq_of_file(path)


def test_a_video_longer_than_the_limit_is_too_large_before_decoding(tmp_path: Path) -> None:
    path = still_video(tmp_path / "v.mp4", picture(1), 5)
    with pytest.raises(MediaTooLarge, match="lasts"):
        vpdq_of_file(path, limits=MediaLimits(max_video_seconds=2))


def test_frames_over_the_pixel_limit_are_too_large(tmp_path: Path) -> None:
    path = still_video(tmp_path / "v.mp4", picture(1), 1)
    with pytest.raises(MediaTooLarge, match="pixels"):
        vpdq_of_file(path, limits=MediaLimits(max_pixels=320 * 200))


def test_a_file_over_the_video_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = still_video(tmp_path / "v.mp4", picture(1), 1)
    with pytest.raises(MediaTooLarge, match="bytes"):
        vpdq_of_file(path, limits=MediaLimits(max_video_bytes=100))


def test_decoding_stops_at_its_time_budget(tmp_path: Path) -> None:
    path = still_video(tmp_path / "v.mp4", picture(1), 3)
    with pytest.raises(DecodeTimeout):
        list(sample_frames(path, deadline=time.monotonic() - 1))
