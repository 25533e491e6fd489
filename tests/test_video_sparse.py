"""Sparse video decoding (only the frames the samples need) gives the very frames a full decode
gives, falls back to a full decode where it cannot promise that, and vPDQ's frame pruning
collapses consecutive near-identical frames when asked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import pytest

from tutela.errors import InvalidInput
from tutela.media import video as video_module
from tutela.media.limits import MediaLimits
from tutela.media.video import SparseMismatch, VideoFrame, sample_frames
from tutela.settings import Settings
from tutela.signals.pdq import PdqMode, PdqSignal, pdq_of_pixels
from tutela.signals.vpdq import VpdqFrame, prune_frames, vpdq_of_file
from video_files import picture, still_video

# (codec, container, encoder options): B-frames with a keyframe each second (phones), every
# frame referenced (x264 ultrafast), x264's defaults, VP9's defaults, HEVC with open groups.
ENCODINGS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264-gop1s": ("libx264", "mp4", {"preset": "fast", "g": "10", "bf": "2"}),
    "h264-allp": ("libx264", "mp4", {"preset": "ultrafast"}),
    "h264-medium": ("libx264", "mp4", {"preset": "medium"}),
    "vp9": ("libvpx-vp9", "webm", {"cpu-used": "8", "deadline": "good"}),
    # x265 opens its groups of pictures (leading frames refer back past the keyframe).
    "hevc-open-gop": (
        "libx265",
        "mp4",
        {"preset": "ultrafast", "x265-params": "keyint=10:min-keyint=10:log-level=none"},
    ),
}


def encode(path: Path, frames: Sequence[np.ndarray], encoding: str, fps: int = 10) -> Path:
    codec, container_format, options = ENCODINGS[encoding]
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {**options}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def pan(seconds: int, fps: int = 10) -> list[np.ndarray]:
    """Three drawn pictures in turn, each panned slowly: every frame differs from the last."""
    count = seconds * fps
    bases = [picture(seed) for seed in (11, 12, 13)]
    return [np.roll(bases[i * 3 // count], 2 * i, axis=1) for i in range(count)]


def kept(path: Path, **options: object) -> list[VideoFrame]:
    items = sample_frames(path, **options)  # type: ignore[arg-type]
    return [item for item in items if isinstance(item, VideoFrame)]


def decoder_returns(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every frame the decoder returns (each is checked against the limits once)."""
    calls: list[int] = []
    check = video_module._check_frame

    def counting(*args: object) -> None:
        calls.append(1)
        check(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(video_module, "_check_frame", counting)
    return calls


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("seconds_per_hash", [0.5, 1.0, 2.5])
def test_sparse_decoding_keeps_the_very_frames_of_a_full_decode(
    tmp_path: Path, encoding: str, seconds_per_hash: float
) -> None:
    path = encode(tmp_path / f"v.{ENCODINGS[encoding][1]}", pan(6), encoding)
    full = kept(path, seconds_per_hash=seconds_per_hash)
    if encoding == "hevc-open-gop":
        # A leading frame past a keyframe may refer to a skipped tail: not promised, refused.
        with pytest.raises(SparseMismatch, match="open group"):
            kept(path, seconds_per_hash=seconds_per_hash, sparse=True)
        hashed = vpdq_of_file(path, mode=PdqMode.EXACT, seconds_per_hash=seconds_per_hash)
        assert [(f.number, f.hash) for f in hashed.frames] == [
            (f.number, pdq_of_pixels(f.pixels).hash) for f in full
        ]
        return
    sparse = kept(path, seconds_per_hash=seconds_per_hash, sparse=True)
    assert [f.number for f in sparse] == [f.number for f in full]
    assert [f.timestamp for f in sparse] == [f.timestamp for f in full]
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(sparse, full, strict=True))


def test_sparse_decoding_skips_frames_nothing_references_and_tails_of_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encode(tmp_path / "v.mp4", pan(6), "h264-gop1s")
    counted = decoder_returns(monkeypatch)
    kept(path, seconds_per_hash=1.0)
    full = len(counted)
    counted.clear()
    kept(path, seconds_per_hash=1.0, sparse=True)
    assert full == 60 and len(counted) < full / 2


def test_a_video_cut_between_keyframes_is_decoded_whole(tmp_path: Path) -> None:
    source = encode(tmp_path / "v.mp4", pan(6), "h264-gop1s")
    cut = tmp_path / "cut.mp4"
    with av.open(str(source)) as inp, av.open(str(cut), "w", format="mp4") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for index, packet in enumerate(inp.demux(inp.streams.video[0])):
            if index >= 4 and packet.size:  # from a frame that is no keyframe: stream copy
                packet.stream = stream
                out.mux(packet)
    with pytest.raises(SparseMismatch):
        kept(cut, sparse=True)
    full = [(f.number, f.hash) for f in vpdq_of_file(cut, mode=PdqMode.EXACT).frames]
    reference = [(f.number, pdq_of_pixels(f.pixels).hash) for f in kept(cut)]
    assert full == reference


@pytest.mark.parametrize("encoding", ["h264-gop1s", "h264-medium"])
def test_each_frames_pdq_stays_near_the_references_full_size_rgb_pdq(
    tmp_path: Path, encoding: str
) -> None:
    path = encode(tmp_path / "v.mp4", pan(6), encoding)
    # The reference (vpdq's filehasher) decodes every frame and hashes full-size RGB24.
    reference = [(f.number, pdq_of_pixels(f.pixels).hash) for f in kept(path)]
    exact = [(f.number, f.hash) for f in vpdq_of_file(path, mode=PdqMode.EXACT).frames]
    fast = vpdq_of_file(path, mode=PdqMode.FAST).frames
    assert exact == reference
    assert [f.number for f in fast] == [n for n, _ in reference]
    distances = [PdqSignal.distance(f.hash, h) for f, (_, h) in zip(fast, reference, strict=True)]
    assert max(distances) <= 8


A = "f8f8f0cee0f4a84f06370a22028f67f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flipped(value: str, bits: int) -> str:
    number = int(value, 16) ^ ((1 << bits) - 1)
    return f"{number:064x}"


def test_pruning_leaves_out_frames_near_the_last_frame_kept() -> None:
    hashes = [A, A, flipped(A, 2), flipped(A, 3), flipped(A, 6), flipped(A, 6)]
    frames = [VpdqFrame(10 * i, 100, h, float(i)) for i, h in enumerate(hashes)]
    # 2 and 3 bits from the first: pruned at 3; 6 bits from it: kept, then its repeat pruned.
    assert [f.number for f in prune_frames(frames, 3)] == [0, 40]
    assert [f.number for f in prune_frames(frames, 0)] == [0, 20, 30, 40]
    assert prune_frames(frames, -1) == tuple(frames)
    # Measured from the last frame kept, not the last seen: frame 30 is 1 bit from frame 20
    # (pruned) but 3 from frame 0 (kept), so a slow drift is still kept.
    assert [f.number for f in prune_frames(frames, 2)] == [0, 30, 40]


def test_a_still_video_collapses_to_one_frame_per_scene_when_pruning(tmp_path: Path) -> None:
    frames = [picture(1)] * 30 + [picture(2)] * 30
    path = encode(tmp_path / "v.mp4", frames, "h264-gop1s")
    every = vpdq_of_file(path)
    assert len(every.frames) == 6
    pruned = vpdq_of_file(path, prune_distance=8)
    assert [f.timestamp for f in pruned.frames] == [0.0, 3.0]
    by_limits = vpdq_of_file(path, limits=MediaLimits(vpdq_prune_distance=8))
    assert by_limits.frames == pruned.frames


def test_pruning_is_a_setting_off_by_default(tmp_path: Path) -> None:
    assert MediaLimits().vpdq_prune_distance == -1
    settings = Settings.from_env({"TUTELA_VPDQ_PRUNE_DISTANCE": "4"})
    assert settings.media.vpdq_prune_distance == 4
    with pytest.raises(InvalidInput):
        MediaLimits(vpdq_prune_distance=300)
    path = still_video(tmp_path / "v.mp4", picture(1), 3)
    assert len(vpdq_of_file(path).frames) == 3
