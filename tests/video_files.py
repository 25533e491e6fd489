"""Benign test videos, encoded here with PyAV from drawn frames. Not a test module.

Every frame is drawn here: shapes and colours, nothing else (DESIGN ground rule 1).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

TUTELA = str(Path(sys.executable).parent / "tutela")

CONTAINERS = {"libx264": "mp4", "libvpx-vp9": "webm", "mpeg4": "avi"}


def picture(seed: int, width: int = 320, height: int = 240) -> np.ndarray:
    """Random shapes on a random ground, distinct per seed (PDQ ~128 bits apart), as RGB."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(24):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (
            int(rng.integers(width // 10, width // 2)),
            int(rng.integers(height // 10, height // 2)),
        )
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + w, y0 + h), fill=colour)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(1.5)))


def write_video(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    fps: int = 10,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Encode RGB frames (all the same even size) as a video file at `path`; `faststart` puts an
    MP4's index before its media data, as files made for streaming have it."""
    height, width = frames[0].shape[:2]
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=CONTAINERS[codec], options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)  # every codec in CONTAINERS is a video codec
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def still_video(
    path: Path, image: np.ndarray, seconds: float, *, fps: int = 10, codec: str = "libx264"
) -> Path:
    """The same picture for `seconds`."""
    return write_video(path, [image] * int(seconds * fps), fps=fps, codec=codec)


def slideshow(
    path: Path, images: Sequence[np.ndarray], seconds_each: float, *, fps: int = 10
) -> Path:
    """Each picture in turn for `seconds_each`."""
    frames = [image for image in images for _ in range(int(seconds_each * fps))]
    return write_video(path, frames, fps=fps)
