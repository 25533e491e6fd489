"""Previews made on the server, so that unblurred pixels reach a browser only on a reveal.

The bytes decoded here belong to items that opened a case, which a detection worker already
decoded in an isolated process under the same limits; decoding them again in the web process
is therefore bounded. Output is always a fresh PNG: no metadata or original bytes pass through.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

from tutela.media.decode import decode_image
from tutela.media.limits import MediaLimits

PREVIEW_PX = 320
REVEAL_PX = 1280


def preview_png(data: bytes, limits: MediaLimits, *, blur_px: int, greyscale: bool) -> bytes:
    """A small preview, blurred and greyscale as the reviewer's wellness settings say."""
    image = _image(data, limits, PREVIEW_PX)
    if greyscale:
        image = ImageOps.grayscale(image)
    if blur_px:
        image = image.filter(ImageFilter.GaussianBlur(blur_px))
    return _png(image)


def revealed_png(data: bytes, limits: MediaLimits) -> bytes:
    """The picture as it is, re-encoded and at most REVEAL_PX on its longer side."""
    return _png(_image(data, limits, REVEAL_PX))


def _image(data: bytes, limits: MediaLimits, longest: int) -> Image.Image:
    decoded = decode_image(data, limits, reduce_to=longest)
    image = Image.fromarray(decoded.pixels)
    image.thumbnail((longest, longest))
    return image


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
