"""Benign test videos made from scikit-image's photos: slideshows, pans, zooms, re-encodes, clips
and stills inserted for a few seconds. Not a test module.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from video_files import write_video

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
FPS = 5


@cache
def photo(name: str, width: int = 320, height: int = 240) -> np.ndarray:
    """One of scikit-image's photos as RGB, resized to width × height."""
    pixels = np.asarray(getattr(data, name)())
    resized = (
        Image.fromarray(pixels).convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    )
    return np.asarray(resized)


def shot(name: str, seconds: int, *, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """A still photo held for `seconds`."""
    return [photo(name, width, height)] * (seconds * FPS)


def pan(name: str, seconds: int, *, step: int = 2) -> list[np.ndarray]:
    """A 320×240 window sliding `step` pixels a frame across a larger copy of the photo."""
    big = photo(name, 320 + seconds * FPS * step, 240)
    return [big[:, i * step : i * step + 320] for i in range(seconds * FPS)]


def zoom(name: str, seconds: int, *, factor: float = 1.15) -> list[np.ndarray]:
    """A slow zoom into the photo's centre, up to `factor`."""
    base = Image.fromarray(photo(name, 320, 240))
    frames = []
    count = seconds * FPS
    for i in range(count):
        scale = 1.0 + (factor - 1.0) * i / max(1, count - 1)
        w, h = round(320 / scale), round(240 / scale)
        left, top = (320 - w) // 2, (240 - h) // 2
        crop = base.crop((left, top, left + w, top + h)).resize(
            (320, 240), Image.Resampling.BILINEAR
        )
        frames.append(np.asarray(crop))
    return frames


def resized(frames: Sequence[np.ndarray], width: int, height: int) -> list[np.ndarray]:
    return [
        np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BILINEAR))
        for f in frames
    ]


def video(path: Path, frames: Sequence[np.ndarray], *, codec: str = "libx264") -> Path:
    return write_video(path, frames, fps=FPS, codec=codec)


def slideshow_frames(names: Sequence[str], seconds_each: int = 2) -> list[np.ndarray]:
    return [frame for name in names for frame in shot(name, seconds_each)]
