"""Video hashing speed: seconds of video hashed per second of one core, Tutela's vPDQ against Meta's
reference `vpdq` package on the same files, with where each side's time goes.

Test videos are generated here from drawn pictures (a slow pan over five of them, 30 frames/s),
at 480p, 720p and 1080p, and cached in bench/.cache/video:
- `h264`: x264's default preset (medium: B-frames, deblocking, CABAC) and keyframe interval (250,
  plus scene cuts), as most encoders write H.264;
- `h264-allp`: x264's ultrafast preset (no B-frames, no deblocking): every frame is referenced, so
  no frame can be skipped — the worst case for Tutela's sparse decoding;
- `h264-gop1s`: a keyframe each second and two B-frames, as phones and streaming encoders write;
- `vp9`: libvpx-vp9's defaults (alt-ref frames, keyframes every 128 frames at most).
Both sides run in this process pinned to one core (CPU 0, as `taskset -c 0`), at one frame per
second; the reference with one hashing thread. Also checked: both sample the same frames, and the
per-frame PDQ distance between them (fast mode; exact mode decodes the very same frames).

The reference is an sdist that builds against Debian's FFmpeg development packages (bench only):
`make bench-tools` installs both.
Without it, the peer is the reference's own loop (vpdq's filehasher.cpp) written with PyAV and
pdqhash, the same FFmpeg and the same C++ PDQ: decode every frame, convert each sampled frame to
full-size RGB24 with swscale, PDQ it. Its lines say `peer (PyAV+pdqhash, vpdq's loop)`.
Run: `python bench/video.py [--seconds N] [--rounds N] [--sizes 1080p,...]`.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tutela.media.video import VideoFrame, sample_frames
from tutela.signals.pdq import FAST_MIN_SIDE, PdqMode, PdqSignal
from tutela.signals.pdq_fast import fast_pdq
from tutela.signals.vpdq import vpdq_of_file
from video_files import picture

CACHE = Path(__file__).parent / ".cache" / "video"
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
ENCODINGS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264": ("libx264", "mp4", {"preset": "medium", "crf": "23"}),
    "h264-allp": ("libx264", "mp4", {"preset": "ultrafast", "crf": "18"}),
    "h264-gop1s": ("libx264", "mp4", {"preset": "fast", "crf": "20", "g": "30", "bf": "2"}),
    "vp9": ("libvpx-vp9", "webm", {"cpu-used": "4", "crf": "32", "b": "0"}),
}
FPS = 30
# (frame number, pdq hex) per sampled frame.
Hasher = Callable[[Path], list[tuple[int, str]]]


def test_video(size: str, encoding: str, seconds: int) -> Path:
    """A pan over five drawn pictures, `seconds` long, cached between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    codec, container_format, options = ENCODINGS[encoding]
    tag = f"{zlib.crc32(repr(ENCODINGS[encoding]).encode()):08x}"  # a new encoding, a new file
    path = CACHE / f"pan-{size}-{encoding}-{seconds}s-{tag}.{container_format}"
    if path.exists():
        return path
    width, height = SIZES[size]
    bases = [np.asarray(Image.fromarray(picture(s)).resize((width, height))) for s in range(5)]
    per_picture = seconds * FPS // len(bases)
    partial = path.with_suffix(".part")
    with av.open(str(partial), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=FPS)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {**options}
        for i in range(per_picture * len(bases)):
            shift = (i % per_picture) * width // (4 * per_picture)
            pixels = np.ascontiguousarray(np.roll(bases[i // per_picture], shift, axis=1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def cpu_seconds(run: Callable[[], object], rounds: int) -> float:
    """Median CPU time of `run()` over `rounds` (after one warm-up run)."""
    run()
    times = []
    for _ in range(rounds):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)


def reference_hasher() -> tuple[str, Hasher]:
    """(label, hasher): Meta's vpdq when installed, else the peer loop (module docstring)."""
    try:
        import vpdq
    except ImportError:
        return "peer (PyAV+pdqhash, vpdq's loop)", peer_vpdq

    def reference(path: Path) -> list[tuple[int, str]]:
        features = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
        return [(f.frame_number, f.hex) for f in features]

    return "vpdq (Meta's reference)", reference


def peer_vpdq(path: Path, stage: str = "all") -> list[tuple[int, str]]:
    """vpdq's filehasher.cpp with PyAV and pdqhash: every frame decoded, frame n sampled when
    n % int(seconds_per_hash · rate) == 0, converted to full-size RGB24 and PDQ-hashed.
    `stage` stops early (decode, rgb) to split its time."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        rate = stream.average_rate or stream.guessed_rate
        frame_mod = max(1, int(float(rate or 1)))
        for number, frame in enumerate(container.decode(stream)):
            if number % frame_mod or stage == "decode":
                continue
            rgb = frame.to_ndarray(format="rgb24")
            if stage == "rgb":
                continue
            vector, _quality = pdqhash.compute(rgb)
            out.append((number, bytes(np.packbits(vector.astype(np.uint8))).hex()))
    return out


def ours(path: Path) -> list[tuple[int, str]]:
    return [(f.number, f.hash) for f in vpdq_of_file(path, mode=PdqMode.FAST).frames]


def where_time_goes(path: Path, rounds: int) -> dict[str, float]:
    """CPU seconds of each stage: demuxing; decoding every frame; converting the sampled ones to
    small grey frames (Tutela) or full-size RGB24 (the peer); sparse decoding plus that
    conversion; PDQ on each side."""

    def demux() -> None:
        with av.open(str(path)) as container:
            for _ in container.demux(video=0):
                pass

    def decode(convert: Callable[[av.VideoFrame], object] | None) -> Callable[[], None]:
        def run() -> None:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "SLICE"
                frame_mod = max(1, int(float(stream.average_rate or 1)))
                for number, frame in enumerate(container.decode(stream)):
                    if convert is not None and number % frame_mod == 0:
                        convert(frame)

        return run

    def grey(frame: av.VideoFrame) -> object:  # as tutela.media.video reduces a kept frame
        factor = max(1, min(frame.width, frame.height) // FAST_MIN_SIDE)
        small = frame.reformat(frame.width // factor, frame.height // factor, format="gray")
        return small.to_ndarray()

    def sparse() -> None:
        for _ in sample_frames(path, reduce_to=FAST_MIN_SIDE, sparse=True):
            pass

    def hashing() -> None:
        for item in sample_frames(path, reduce_to=FAST_MIN_SIDE, sparse=True):
            if isinstance(item, VideoFrame):
                fast_pdq(item.pixels, stored_width=item.width, stored_height=item.height)

    return {
        "demux": cpu_seconds(demux, rounds),
        "decode": cpu_seconds(decode(None), rounds),
        "grey": cpu_seconds(decode(grey), rounds),
        "sample": cpu_seconds(sparse, rounds),
        "vpdq": cpu_seconds(hashing, rounds),
        "peer_rgb": cpu_seconds(lambda: peer_vpdq(path, "rgb"), rounds),
        "peer": cpu_seconds(lambda: peer_vpdq(path), rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="length of each test video")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--encodings", default=",".join(ENCODINGS))
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    label, theirs_hash = reference_hasher()
    print(f"vPDQ at 1 frame/s on CPU 0; {args.seconds} s test videos at {FPS} frames/s")
    print(f"reference: {label}")
    print(
        f"{'video':<17} {'tutela ×rt':>10} {'ref ×rt':>8} {'ratio':>6} {'frames':>7} {'max bits':>8}"
    )
    last = ""
    for encoding in args.encodings.split(","):
        for size in args.sizes.split(","):
            path = test_video(size, encoding, args.seconds)
            ours_s = cpu_seconds(functools.partial(ours, path), args.rounds)
            theirs_s = cpu_seconds(functools.partial(theirs_hash, path), args.rounds)
            fast, reference = ours(path), theirs_hash(path)
            same_frames = [n for n, _ in fast] == [n for n, _ in reference]
            bits = max(
                PdqSignal.distance(a, b) for (_, a), (_, b) in zip(fast, reference, strict=False)
            )
            ours_rt, theirs_rt = args.seconds / ours_s, args.seconds / theirs_s
            print(
                f"{size + ' ' + encoding:<17} {ours_rt:>9.1f}× {theirs_rt:>7.1f}× "
                f"{ours_rt / theirs_rt:>5.2f} {'same' if same_frames else 'DIFF':>7} {bits:>8}",
                flush=True,
            )
            if (size, encoding) == ("1080p", "h264"):
                stand_in = "" if label.startswith("vpdq") else f"; vpdq here: {label}"
                last = (
                    f"video: tutela {ours_rt:.1f}× real time vs vpdq {theirs_rt:.1f}× = "
                    f"{ours_rt / theirs_rt:.2f} (1080p h264, 1 fps{stand_in})"
                )
    for encoding in ("h264", "h264-allp"):
        if encoding not in args.encodings.split(",") or "1080p" not in args.sizes:
            continue
        split = where_time_goes(test_video("1080p", encoding, args.seconds), args.rounds)
        grey = split["grey"] - split["decode"]
        print(
            f"where the time goes (1080p {encoding}, CPU s per {args.seconds} s of video): "
            f"demux {split['demux']:.2f}; decode every frame {split['decode']:.2f}, only the "
            f"needed ones {split['sample'] - grey:.2f}; to small grey {grey:.2f}; PDQ "
            f"{split['vpdq'] - split['sample']:.2f}; tutela {split['vpdq']:.2f} | peer: decode "
            f"{split['decode']:.2f}, to RGB24 {split['peer_rgb'] - split['decode']:.2f}, PDQ "
            f"{split['peer'] - split['peer_rgb']:.2f}, in all {split['peer']:.2f}"
        )
    if last:
        print(last)


if __name__ == "__main__":
    main()
