"""Untrusted bytes → pixels, refusing anything too big, broken or unknown before it costs memory.

Pixels come out as stored: EXIF orientation is not applied (the reference PDQ tools hash the stored
orientation; dihedral matching covers rotations), alpha is flattened onto white.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from tutela.errors import CorruptMedia, EmptyMedia, MediaTooLarge, TutelaError
from tutela.media.formats import ImageFormat, sniff_format
from tutela.media.limits import MediaLimits

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Decoded pixels: (H, W, 3) RGB or (H, W) grey, uint8, plus the stored size and format."""

    format: ImageFormat
    width: int
    height: int
    pixels: np.ndarray

    @property
    def is_grey(self) -> bool:
        return self.pixels.ndim == 2


def decode_image(
    data: bytes,
    limits: MediaLimits | None = None,
    *,
    reduce_to: int | None = None,
    grey: bool = False,
) -> DecodedImage:
    """Decode the first frame of an image held in `data`.

    `reduce_to`: decode at reduced resolution (JPEG DCT scaling, otherwise a box reduction) while
    the shorter side stays at least this many pixels — the fast path for perceptual hashing.
    `grey`: luminance is enough (JPEG then skips colour conversion entirely).
    Raises a MediaError subclass with a stable code; never anything else.
    """
    limits = limits or MediaLimits()
    if not data:
        raise EmptyMedia("the file is empty")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"file has {len(data)} bytes, the limit is {limits.max_bytes}")
    fmt = sniff_format(data[:32])
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked first; Pillow's bomb warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _decode(data, fmt, limits, reduce_to, grey)
    except TutelaError:
        raise
    except (Image.DecompressionBombError, MemoryError) as exc:
        raise MediaTooLarge(f"{fmt.value} image would not fit the decoding limits") from exc
    except ValueError as exc:
        if "too large" in str(exc).lower():
            raise MediaTooLarge(f"{fmt.value} image holds a chunk over the limits") from exc
        raise CorruptMedia(f"{fmt.value} data is corrupt: {_describe(exc)}") from exc
    except UnidentifiedImageError as exc:
        raise CorruptMedia(f"{fmt.value} header could not be read") from exc
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, struct.error, ...)
        raise CorruptMedia(f"{fmt.value} data is corrupt: {_describe(exc)}") from exc


def _decode(
    data: bytes, fmt: ImageFormat, limits: MediaLimits, reduce_to: int | None, grey: bool
) -> DecodedImage:
    image = Image.open(io.BytesIO(data), formats=[fmt.pillow_name])
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{fmt.value} header gives zero size {width}x{height}")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"{fmt.value} image is {width}x{height} = {width * height} pixels, "
            f"the limit is {limits.max_pixels}"
        )
    if reduce_to is not None and fmt is ImageFormat.JPEG:
        draft_mode = "L" if grey and image.mode in ("RGB", "L") else image.mode
        image.draft(draft_mode, (reduce_to, reduce_to))
    image.load()
    if reduce_to is not None:
        factor = min(image.size) // reduce_to
        if factor >= 2:
            image = image.reduce(factor)
    pixels = _to_rgb_or_grey(image, grey)
    return DecodedImage(format=fmt, width=width, height=height, pixels=pixels)


def _to_rgb_or_grey(image: Image.Image, grey: bool) -> np.ndarray:
    mode = image.mode
    if mode == "L" and grey:
        return np.asarray(image)
    if mode == "RGB":
        return np.asarray(image)
    if mode in _WIDE_MODES:
        return _narrow(np.asarray(image), grey)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        return _flatten_on_white(np.asarray(image.convert("RGBA")))
    return np.asarray(image.convert("RGB"))


def _narrow(wide: np.ndarray, grey: bool) -> np.ndarray:
    """16-bit, 32-bit or float grey → 8 bits, scaling rather than clipping."""
    values = wide.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    if wide.dtype.kind == "f" and top <= 1.0:
        values = values * 255.0
    elif top > 255.0:
        values = values / 257.0
    out = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out if grey else np.repeat(out[:, :, None], 3, axis=2)


def _flatten_on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    rgb = rgba[:, :, :3].astype(np.uint16)
    # out = rgb·a + 255·(1−a), rounded, in integers
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
