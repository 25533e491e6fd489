"""Write the reference vPDQ fixture of tests/data/vpdq: a small benign video (drawn shapes, slowly
panned, then cut to other pictures) and its vPDQ as Meta's reference `vpdq` package computes it.

Two files of the reference's text forms are written beside the video:
- `shapes.mp4.txt`: Meta's vPDQ tools' hash file, one `frame_number,quality,pdq_hex,seconds` line per
  sampled frame, seconds with three decimals (vpdq/cpp/io/vpdqio.cpp, outputVPDQFeatureToFile);
- `shapes.mp4.cli.txt`: what the `vpdq` Python package's own command prints, `pdq_hex,quality,seconds`
  per line.

The tests read these files and never import vpdq. Run again (bench only, with `make bench-tools`
done): `python bench/vpdq_fixture.py`; the video is encoded anew, so commit the three files together.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from video_files import picture, write_video

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "vpdq"
FPS = 10
WIDTH, HEIGHT = 320, 240


def frames() -> list[np.ndarray]:
    """Three pictures, two seconds each, each panned a quarter of its width."""
    out = []
    for seed in (11, 12, 13):
        base = picture(seed, WIDTH, HEIGHT)
        for i in range(2 * FPS):
            out.append(np.ascontiguousarray(np.roll(base, i * WIDTH // (8 * FPS), axis=1)))
    return out


def main() -> None:
    import vpdq

    OUT.mkdir(parents=True, exist_ok=True)
    video = write_video(OUT / "shapes.mp4", frames(), fps=FPS)
    features = vpdq.computeHash(str(video), seconds_per_hash=1, thread_count=1)
    lines = "".join(f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}\n" for f in features)
    (OUT / "shapes.mp4.txt").write_text(lines, encoding="ascii")
    printed = io.StringIO()
    argv, sys.argv = sys.argv, ["vpdq", str(video)]
    try:
        with contextlib.redirect_stdout(printed):
            vpdq._cli()
    finally:
        sys.argv = argv
    (OUT / "shapes.mp4.cli.txt").write_text(printed.getvalue(), encoding="ascii")
    print(f"{video}: {len(features)} frames, {video.stat().st_size} bytes")


if __name__ == "__main__":
    main()
