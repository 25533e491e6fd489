"""A video case's strip: stills of its matched frames, side by side in one fresh PNG, made from
the video the node holds, never by playing it.

The preview strip is greyscale and blurred (the reviewer's blur); the revealed one is in colour
and sharp, and only ever sent in answer to an audited reveal. The video is copied, chunk by chunk
(never whole in memory), into a private file in the node's spool that is removed at once, and
decoded there in an isolated process (its memory cap and the video time limit); only the frames up to the last matched time are decoded, sampled as vPDQ
samples them, so each still is the very frame that matched. A time the decoder does not reach
stays an empty tile.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from tutela.errors import TutelaError, Unprocessable
from tutela.media.isolation import IsolatedPool
from tutela.media.limits import MediaLimits
from tutela.media.video import VideoInfo, sample_frames

STILL_WIDTH = 160
STILL_HEIGHT = 120
EMPTY_GREY = 217  # the console's placeholder grey (#d9dde4's luma)


@dataclass(frozen=True, slots=True)
class StripTask:
    path: str
    times: tuple[float, ...]
    blur_px: int
    reveal: bool


def strip_png(
    copy_video: Callable[[BinaryIO], bool],
    times: Sequence[float],
    limits: MediaLimits,
    spool: Path,
    *,
    blur_px: int = 0,
    reveal: bool = False,
) -> bytes | None:
    """The strip at `times` (blurred greyscale unless `reveal`) of the video that `copy_video`
    writes, chunk by chunk, into the file it is given (returning False when there is no video:
    then None); raises the media error the video gives."""
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="strip-", dir=spool)
    try:
        with os.fdopen(descriptor, "wb") as file:
            if not copy_video(file):
                return None
        task = StripTask(name, tuple(times), blur_px, reveal)
        pool: IsolatedPool[StripTask, bytes] = IsolatedPool(
            functools.partial(strip_task, limits=limits),
            workers=1,
            limits=limits,
            timeout_of=lambda _: limits.video_timeout_s,
        )
        with pool:
            for _, result in pool.map_unordered([task]):
                if isinstance(result, TutelaError):
                    raise result
                return result
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    raise Unprocessable("the strip's decoding process gave no answer")


def strip_task(task: StripTask, *, limits: MediaLimits) -> bytes:
    """Runs inside the isolated process: decode up to the last wanted time, keep those frames."""
    wanted = [round(t, 3) for t in task.times]
    stills: dict[float, Image.Image] = {}
    reduce_to = None if task.reveal else STILL_HEIGHT
    deadline = time.monotonic() + limits.video_timeout_s
    if wanted:
        for item in sample_frames(task.path, limits=limits, reduce_to=reduce_to, deadline=deadline):
            if isinstance(item, VideoInfo):
                continue
            at = round(item.timestamp, 3)
            if at in wanted:
                stills[at] = _still(item.pixels, task)
            if len(stills) == len(set(wanted)) or at > max(wanted):
                break
    mode = "RGB" if task.reveal else "L"
    empty = (EMPTY_GREY,) * 3 if task.reveal else EMPTY_GREY
    strip = Image.new(mode, (STILL_WIDTH * max(1, len(wanted)), STILL_HEIGHT), empty)
    for index, at in enumerate(wanted):
        still = stills.get(at)
        if still is not None:
            left = index * STILL_WIDTH + (STILL_WIDTH - still.width) // 2
            strip.paste(still, (left, (STILL_HEIGHT - still.height) // 2))
    out = io.BytesIO()
    strip.save(out, "PNG")
    return out.getvalue()


def _still(pixels: np.ndarray, task: StripTask) -> Image.Image:
    image = Image.fromarray(pixels)
    image.thumbnail((STILL_WIDTH, STILL_HEIGHT))
    if task.reveal:
        return image.convert("RGB")
    image = ImageOps.grayscale(image)
    if task.blur_px:
        # The reviewer's blur is set for a 320-px preview; a still is half as wide.
        image = image.filter(ImageFilter.GaussianBlur(max(1, task.blur_px // 2)))
    return image
