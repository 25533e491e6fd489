"""Untrusted bytes → pixels, refusing anything too big, broken or unknown before it costs memory.

Pixels come out as stored, as Meta's reference PDQ tools read them: EXIF orientation is not applied
(dihedral matching covers rotations) and alpha is ignored: a transparent pixel keeps the colour
stored under it, a palette pixel its palette colour. Hashes then equal the reference's bit for bit,
so lists made with Meta's tools, pdqhash or python-threatexchange match (issue 16).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from tutela.errors import CorruptMedia, EmptyMedia, MediaTooLarge, TutelaError
from tutela.media.formats import ImageFormat, sniff_format, webp_canvas_size
from tutela.media.limits import MediaLimits

# libjpeg decodes every scan of a progressive JPEG over the whole image and sets no limit of its
# own: a 50 kB file repeating one tiny scan 2000 times costs seconds per megapixel. Encoders write
# about 10 scans (a few dozen when optimising); far more is an attack on decoding time.
MAX_JPEG_SCANS = 1000
# Modes whose colour needs no more than dropping alpha (or expanding a palette) to be read.
_GREY_WITH_ALPHA = frozenset({"LA", "La"})
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
    if fmt is ImageFormat.JPEG and (scans := _jpeg_scan_count(data)) > MAX_JPEG_SCANS:
        raise MediaTooLarge(f"jpeg has {scans} scans, the limit is {MAX_JPEG_SCANS}")
    if fmt is ImageFormat.WEBP and (declared := webp_canvas_size(data[:30])):
        # libwebp allocates the whole canvas (twice) as soon as Pillow opens the file.
        _check_size(fmt, *declared, limits)
    image: Image.Image = Image.open(io.BytesIO(data), formats=[fmt.pillow_name])
    width, height = image.size
    _check_size(fmt, width, height, limits)
    if reduce_to is not None and fmt is ImageFormat.JPEG:
        draft_mode = "L" if grey and image.mode in ("RGB", "L") else image.mode
        image.draft(draft_mode, (reduce_to, reduce_to))
    image.load()
    if reduce_to is not None:
        factor = min(image.size) // reduce_to
        if factor >= 2:
            image = _reducible(image).reduce(factor)
    pixels = _to_rgb_or_grey(image, grey)
    return DecodedImage(format=fmt, width=width, height=height, pixels=pixels)


def _jpeg_scan_count(data: bytes) -> int:
    """Start-of-scan markers from the first scan on. Before it, marker segments are skipped by
    their lengths (an EXIF thumbnail holds SOS bytes of its own); after it, 0xFF in entropy-coded
    data is always stuffed, so every FF DA is a real scan."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker == 0xDA:
            return data.count(b"\xff\xda", at)
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return 0


def _check_size(fmt: ImageFormat, width: int, height: int, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{fmt.value} header gives zero size {width}x{height}")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"{fmt.value} image is {width}x{height} = {width * height} pixels, "
            f"the limit is {limits.max_pixels}"
        )


def _reducible(image: Image.Image) -> Image.Image:
    """An 8-bit equivalent of `image` that Pillow's reduce() accepts and averages correctly.

    reduce() raises "image has wrong mode" for palette, bilevel and 16-bit images (so every large
    GIF, PNG-8 or 16-bit PNG came out `corrupt` in fast mode) and would average palette indices,
    not colours, for PA. Alpha is dropped first: reduce() premultiplies by it, which would darken
    the colours the reference hashes under transparent pixels.
    """
    mode = image.mode
    if mode in ("P", "PA", "RGBA", "RGBa"):
        return image.convert("RGB")
    if mode in _GREY_WITH_ALPHA:
        return image.convert("L")
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16"):
        return Image.fromarray(_narrow(np.asarray(image), grey=True, bits=16))
    return image


def _to_rgb_or_grey(image: Image.Image, grey: bool) -> np.ndarray:
    """RGB (or grey when asked and enough) of the stored colour values; alpha is dropped, never
    composited, as the reference tools do (threatexchange hands pdqhash the RGBA array, whose
    fourth channel it ignores, and converts LA to RGB)."""
    mode = image.mode
    if mode == "L" and grey:
        return np.asarray(image)
    if mode == "RGB":
        return np.asarray(image)
    if mode in _WIDE_MODES:
        return _narrow(np.asarray(image), grey, bits=16 if mode.startswith("I;16") else None)
    if mode in _GREY_WITH_ALPHA and grey:
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGB"))


def _narrow(wide: np.ndarray, grey: bool, bits: int | None = None) -> np.ndarray:
    """16-bit, 32-bit or float grey → 8 bits, scaling rather than clipping.

    `bits=16`: the file says 16-bit, so scale by 1/257 whatever the values; guessing from the
    brightest value would stretch a dark 16-bit image (all values ≤ 255) to full brightness.
    """
    values = wide.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    if bits == 16:
        values = values / 257.0
    elif wide.dtype.kind == "f" and top <= 1.0:
        values = values * 255.0
    elif top > 255.0:
        values = values / 257.0
    out = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out if grey else np.repeat(out[:, :, None], 3, axis=2)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
