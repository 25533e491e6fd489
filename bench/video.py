"""Video hashing speed: seconds of video hashed per second of one core, Tutela's vPDQ against Meta's
reference `vpdq` package on the same files, with where Tutela's time goes.

Test videos are generated here from drawn pictures (a slow pan over five of them, 30 frames/s),
at 480p, 720p and 1080p, in H.264 (MP4) and VP9 (WebM), and cached in bench/.cache/video.
Both sides run in this process pinned to one core, at one frame per second; the reference with
one hashing thread. Also checked: both sample the same frames, and the per-frame PDQ distance
between them (fast mode; exact mode equals the reference bit for bit on these files).

The reference is an sdist that builds against Debian's FFmpeg development packages (bench only):
  apt-get install libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev \\
      libswscale-dev libswresample-dev pkg-config && .venv/bin/pip install vpdq
Run: `python bench/video.py [--seconds N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tutela.media.video import VideoFrame, sample_frames
from tutela.signals.pdq import FAST_MIN_SIDE, PdqMode, PdqSignal
from tutela.signals.pdq_fast import fast_pdq
from tutela.signals.vpdq import vpdq_of_file
from video_files import picture, write_video

CACHE = Path(__file__).parent / ".cache" / "video"
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
CODECS = {"h264": "libx264", "vp9": "libvpx-vp9"}
FPS = 30


def test_video(size: str, codec: str, seconds: int) -> Path:
    """A pan over five drawn pictures, `seconds` long, cached between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    suffix = "mp4" if codec == "h264" else "webm"
    path = CACHE / f"pan-{size}-{codec}-{seconds}s.{suffix}"
    if path.exists():
        return path
    width, height = SIZES[size]
    bases = [np.asarray(Image.fromarray(picture(s)).resize((width, height))) for s in range(5)]
    per_picture = seconds * FPS // len(bases)
    frames = (
        np.roll(bases[i // per_picture], (i % per_picture) * width // (4 * per_picture), axis=1)
        for i in range(per_picture * len(bases))
    )
    write_video(path, list(frames), fps=FPS, codec=CODECS[codec])
    return path


def cpu_seconds(run: object, rounds: int) -> float:
    """Median CPU time of `run()` over `rounds` (after one warm-up run)."""
    run()  # type: ignore[operator]
    times = []
    for _ in range(rounds):
        start = time.process_time()
        run()  # type: ignore[operator]
        times.append(time.process_time() - start)
    return statistics.median(times)


def where_time_goes(path: Path, rounds: int) -> dict[str, float]:
    """CPU seconds of decoding alone, of decoding plus sampling to small grey frames, and of the
    whole fast vPDQ (the difference is PDQ itself)."""
    import av

    def decode() -> None:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass

    def sample() -> None:
        for _ in sample_frames(path, reduce_to=FAST_MIN_SIDE):
            pass

    def hashing() -> None:
        for item in sample_frames(path, reduce_to=FAST_MIN_SIDE):
            if isinstance(item, VideoFrame):
                fast_pdq(item.pixels, stored_width=item.width, stored_height=item.height)

    return {
        "decode": cpu_seconds(decode, rounds),
        "sample": cpu_seconds(sample, rounds),
        "vpdq": cpu_seconds(hashing, rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="length of each test video")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import vpdq
    except ImportError:
        sys.exit("the reference `vpdq` package is not installed; see this script's docstring")
    os.sched_setaffinity(0, {0})
    print(f"vPDQ at 1 frame/s on one core; {args.seconds} s test videos at {FPS} frames/s")
    print(
        f"{'video':<12} {'tutela ×rt':>10} {'vpdq ×rt':>9} {'ratio':>6} {'frames':>7} {'max bits':>8}"
    )
    last = ""
    for codec in CODECS:
        for size in SIZES:
            path = test_video(size, codec, args.seconds)
            ours = cpu_seconds(lambda p=path: vpdq_of_file(p, mode=PdqMode.FAST), args.rounds)
            theirs = cpu_seconds(
                lambda p=path: vpdq.computeHash(str(p), seconds_per_hash=1, thread_count=1),
                args.rounds,
            )
            fast = vpdq_of_file(path, mode=PdqMode.FAST).frames
            reference = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
            same_frames = [f.number for f in fast] == [f.frame_number for f in reference]
            bits = max(
                PdqSignal.distance(a.hash, b.hex) for a, b in zip(fast, reference, strict=False)
            )
            ours_rt, theirs_rt = args.seconds / ours, args.seconds / theirs
            print(
                f"{size + ' ' + codec:<12} {ours_rt:>9.1f}× {theirs_rt:>8.1f}× "
                f"{ours_rt / theirs_rt:>5.2f} {'same' if same_frames else 'DIFF':>7} {bits:>8}"
            )
            if (size, codec) == ("1080p", "h264"):
                last = (
                    f"video: tutela {ours_rt:.1f}× real time vs vpdq {theirs_rt:.1f}× = "
                    f"{ours_rt / theirs_rt:.2f} (1080p h264, 1 fps)"
                )
                split = where_time_goes(path, max(5, args.rounds))
    print(
        "where Tutela's time goes (1080p h264, CPU s): "
        f"decode {split['decode']:.2f}, sampling to grey {split['sample'] - split['decode']:.2f}, "
        f"PDQ {split['vpdq'] - split['sample']:.2f} of {split['vpdq']:.2f}"
    )
    print(last)


if __name__ == "__main__":
    main()
