"""Crafted media files, built in code, that a decoder meets in the wild or from an attacker.

Not a test module: `hostile_cases()` returns the corpus and `test_media_hostile.py` runs it through
`decode_image`, `hash_media` and `tutela hash`. Every image is drawn here or comes from a photo that
ships inside scikit-image (DESIGN ground rule 1). Each case names what must happen: an error code
from `tutela.errors` or "hash" (a PDQ hash must come out).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import skimage.data
from PIL import Image

HASH = "hash"
EMPTY = "empty"
UNSUPPORTED = "unsupported_format"
CORRUPT = "corrupt"
TOO_LARGE = "too_large"

EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class HostileCase:
    name: str  # a file name; its extension may lie on purpose
    data: bytes
    expect: str  # HASH or the error code
    note: str


# ---------------------------------------------------------------------------------------------
# Building blocks (also used by the awkward-encoding tests)


@cache
def photo(name: str = "chelsea", width: int = 192) -> np.ndarray:
    """A scikit-image photo as (H, W, 3) uint8, resized to `width` so decoding stays cheap."""
    pixels = getattr(skimage.data, name)()
    image = Image.fromarray(pixels).convert("RGB")
    height = round(image.height * width / image.width)
    resized = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))
    resized.flags.writeable = False
    return resized


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_raw(
    width: int, height: int, bit_depth: int, colour_type: int, rows: bytes, extra: bytes = b""
) -> bytes:
    """A PNG from already filtered scanlines (each row starts with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + extra
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def png16(pixels16: np.ndarray) -> bytes:
    """A 16-bit PNG (grey for (H, W), RGB for (H, W, 3)) written by hand: Pillow cannot write
    16-bit RGB."""
    height, width = pixels16.shape[:2]
    colour_type = 0 if pixels16.ndim == 2 else 2
    body = pixels16.astype(">u2").reshape(height, -1).view(np.uint8)
    rows = np.concatenate([np.zeros((height, 1), np.uint8), body], axis=1)
    return png_raw(width, height, 16, colour_type, rows.tobytes())


def alpha_mask(height: int, width: int) -> np.ndarray:
    """A soft disc: opaque in the middle, fading to clear at the corners."""
    ys, xs = np.mgrid[0:height, 0:width]
    r = np.hypot((ys - height / 2) / height, (xs - width / 2) / width)
    mask: np.ndarray = np.clip(255 * (1.0 - (r - 0.3) / 0.3), 0, 255).astype(np.uint8)
    return mask


def rgba_photo() -> np.ndarray:
    rgb = photo()
    return np.dstack([rgb, alpha_mask(*rgb.shape[:2])])


def la_photo() -> np.ndarray:
    grey = np.asarray(Image.fromarray(photo()).convert("L"))
    return np.dstack([grey, alpha_mask(*grey.shape)])


def palette_with_transparency(pixels: np.ndarray | None = None) -> Image.Image:
    """A 64-colour palette photo whose most common colour is fully transparent."""
    image = Image.fromarray(photo() if pixels is None else pixels).quantize(64)
    counts = np.bincount(np.asarray(image).ravel(), minlength=64)
    image.info["transparency"] = int(np.argmax(counts))
    return image


def jpeg(pixels: np.ndarray, **options: object) -> bytes:
    options.setdefault("quality", 90)
    return encode(Image.fromarray(pixels), "JPEG", **options)


def cmyk_jpeg(pixels: np.ndarray) -> bytes:
    """Adobe CMYK JPEG (Pillow writes an APP14 marker with transform 0, inverted channels)."""
    return encode(Image.fromarray(pixels).convert("CMYK"), "JPEG", quality=90)


def ycck_jpeg(pixels: np.ndarray) -> bytes:
    """Adobe YCCK JPEG, which Pillow cannot write: store YCbCr of the CMY channels plus K, then
    set the APP14 transform flag to 2 so libjpeg converts YCCK back to CMYK on decoding."""
    cmyk = np.asarray(Image.fromarray(pixels).convert("CMYK"))
    ycc = np.asarray(Image.fromarray(np.ascontiguousarray(cmyk[..., :3])).convert("YCbCr"))
    # Pillow stores CMYK inverted (Adobe convention), so pre-invert YCC and keep K as given:
    # the file then holds (Y, Cb, Cr, 255-K), which libjpeg's YCCK→CMYK turns into 255-CMYK.
    stored = np.dstack([255 - ycc, cmyk[..., 3]])
    data = encode(Image.fromarray(stored, "CMYK"), "JPEG", quality=90)
    marker = data.find(b"\xff\xee")
    if marker < 0 or data[marker + 4 : marker + 9] != b"Adobe":
        raise AssertionError("Pillow wrote no Adobe APP14 marker for CMYK")
    transform_at = marker + 4 + 11  # FFEE, length (2), "Adobe" (5), version (2), flags (4)
    if data[transform_at] != 0:
        raise AssertionError("unexpected Adobe transform byte")
    return data[:transform_at] + b"\x02" + data[transform_at + 1 :]


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return exif.tobytes()


def animated(fmt: str, frames: list[np.ndarray], **options: object) -> bytes:
    images = [Image.fromarray(f) for f in frames]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=100, **options)


def gif_frames() -> list[np.ndarray]:
    """Two very different frames, already on a 256-colour palette so GIF stores them exactly."""
    first = Image.fromarray(photo("chelsea")).quantize(256).convert("RGB")
    size = (first.width, first.height)
    second = Image.fromarray(photo("camera")).convert("RGB").resize(size).quantize(256)
    return [np.asarray(first), np.asarray(second.convert("RGB"))]


def webp_frames() -> list[np.ndarray]:
    first = photo("chelsea")
    size = (first.shape[1], first.shape[0])
    second = np.asarray(Image.fromarray(photo("coffee")).resize(size))
    return [first, second]


# ---------------------------------------------------------------------------------------------
# Hostile and awkward files


def _sof_resized(data: bytes, width: int, height: int) -> bytes:
    """Rewrite a baseline JPEG's SOF0 frame size."""
    at = data.find(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def _gif_header(width: int, height: int, image_width: int, image_height: int) -> bytes:
    """A GIF with a 2-colour table and one image of the given size, pixels all index 0."""
    screen = (
        b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    )
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, image_width, image_height, 0)
    # LZW, minimum code size 2: clear code (4), one 0, end (5), packed LSB first in 3-bit codes.
    lzw = b"\x02\x02\x44\x01\x00"
    return screen + descriptor + lzw + b";"


def _tiff(
    width: int, height: int, pixels: bytes, *, next_ifd: int | None = None, strip_offset: int = 0
) -> bytes:
    """A little-endian grey 8-bit uncompressed TIFF with one strip. `next_ifd` None means the IFD
    chain ends; an int is written as the offset of the next IFD (to build loops)."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 0),  # StripOffsets, patched below
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, len(pixels)),  # StripByteCounts
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = strip_offset or ifd_offset + ifd_size
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = data_offset if tag == 273 else value
        if kind == 3:
            body += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            body += struct.pack("<HHII", tag, kind, count, value)
    body += struct.pack("<I", 0 if next_ifd is None else next_ifd)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + body + pixels


def _webp_vp8x(width: int, height: int) -> bytes:
    """A WebP whose VP8X header claims a canvas of width × height, followed by a tiny frame."""
    small = encode(Image.new("RGB", (4, 4), (200, 30, 30)), "WEBP", lossless=True)
    vp8l = small[12:]  # the VP8L chunk of a simple lossless file
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _elf_header() -> bytes:
    ident = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400000, 64, 0, 0, 64, 56, 0, 0, 0, 0)


def _zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "a harmless archive standing in for an image\n" * 20)
    return out.getvalue()


_XXE_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">
  <text x="0" y="20">&xxe;</text>
</svg>
"""

_PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def _text_bomb(kind: bytes) -> bytes:
    """A valid small PNG with one compressed text chunk that inflates to 16 MiB."""
    inflated = zlib.compress(b"\x00" * (16 << 20), 9)
    if kind == b"zTXt":
        body = b"Comment\x00\x00" + inflated
    else:  # iTXt: keyword, compressed flag, method, language, translated keyword
        body = b"Comment\x00\x01\x00en\x00Comment\x00" + inflated
    rows = b"".join(b"\x00" + bytes(range(16)) for _ in range(16))
    return png_raw(16, 16, 8, 0, rows, extra=png_chunk(kind, body))


def _png_bomb() -> bytes:
    """IHDR claims 100000 × 100000 grey; the IDAT is a few hundred bytes of zlib'd zeros, which
    would inflate to 10 GB."""
    width = height = 100_000
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    stream = zlib.compressobj(9)
    idat = stream.compress(b"\x00" * (width + 1) * 64) + stream.flush(zlib.Z_SYNC_FLUSH)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def _scan_bomb() -> bytes:
    """A progressive 1024x1024 grey JPEG whose last (tiny) scan repeats 2000 times: 28 kB that
    libjpeg would spend seconds on, hours at 50 MP."""
    data = encode(Image.new("L", (1024, 1024), 128), "JPEG", progressive=True, quality=90)
    last_scan = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return data[:last_scan] + data[last_scan:end] * 2000 + b"\xff\xd9"


def _bad_ihdr_crc() -> bytes:
    data = bytearray(encode(Image.fromarray(photo()), "PNG"))
    data[29] ^= 0xFF  # first byte of the IHDR CRC (8 signature + 8 head + 13 body)
    return bytes(data)


def _zero_width_png() -> bytes:
    return png_raw(0, 16, 8, 0, b"\x00" * 16)


def _huge_chunk_length_png() -> bytes:
    good = encode(Image.fromarray(photo()), "PNG")
    header = good[:33]  # signature and IHDR
    return header + struct.pack(">I", 0x7FFFFFF0) + b"IDAT" + b"\x00" * 64


def hostile_cases() -> list[HostileCase]:
    """The corpus, built fresh; about 150 kB in all."""
    rng = np.random.default_rng(20240611)
    rgb = photo()
    width = rgb.shape[1]
    plain_jpeg = jpeg(rgb)
    plain_png = encode(Image.fromarray(rgb), "PNG")
    webp = encode(Image.fromarray(rgb), "WEBP", quality=90)
    noise = b"\x00" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    wide = np.tile(np.arange(50_000, dtype=np.uint32) % 251, (1, 1)).astype(np.uint8)
    exif6 = encode(Image.fromarray(rgb), "JPEG", quality=90, exif=exif_with_orientation(6))
    grey16 = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257
    rgb16 = rgb.astype(np.uint16) * 257
    loop_pixels = np.asarray(Image.fromarray(rgb).convert("L").resize((32, 32))).tobytes()
    cases = [
        # Not images at all, whatever the name says.
        HostileCase("empty.jpg", b"", EMPTY, "zero bytes"),
        HostileCase("noise.jpg", noise, UNSUPPORTED, "4 kB of random bytes"),
        HostileCase("notes.jpg", b"just some text, not a picture\n" * 10, UNSUPPORTED, "text"),
        HostileCase(
            "page.png", b"<!doctype html><html><body>hi</body></html>", UNSUPPORTED, "html"
        ),
        HostileCase("document.jpg", _PDF, UNSUPPORTED, "PDF"),
        HostileCase("archive.png", _zip_archive(), UNSUPPORTED, "ZIP"),
        HostileCase("program.gif", _elf_header() + b"\x00" * 64, UNSUPPORTED, "ELF executable"),
        HostileCase("entity.svg", _XXE_SVG, UNSUPPORTED, "SVG with an external entity (XXE)"),
        HostileCase("entity_svg.png", _XXE_SVG, UNSUPPORTED, "XXE SVG named as a PNG"),
        HostileCase(
            "icon.jpg",
            encode(Image.fromarray(rgb), "ICO"),
            UNSUPPORTED,
            "ICO: Pillow reads it, Tutela does not accept it",
        ),
        HostileCase(
            "text.bmp",
            b"BM is how this text starts, not a bitmap\n",
            CORRUPT,
            "text that happens to start with the BMP magic",
        ),
        # Broken or truncated.
        HostileCase(
            "truncated.jpg", plain_jpeg[: len(plain_jpeg) // 2], CORRUPT, "JPEG cut in half"
        ),
        HostileCase("truncated_header.jpg", plain_jpeg[:40], CORRUPT, "JPEG cut inside the header"),
        HostileCase("truncated.png", plain_png[: len(plain_png) // 2], CORRUPT, "PNG cut in half"),
        HostileCase("signature_only.png", plain_png[:8], CORRUPT, "PNG signature and nothing else"),
        HostileCase("truncated.webp", webp[: len(webp) // 2], CORRUPT, "WebP cut in half"),
        HostileCase("bad_crc.png", _bad_ihdr_crc(), CORRUPT, "IHDR chunk with a broken CRC"),
        HostileCase(
            "huge_chunk.png",
            _huge_chunk_length_png(),
            CORRUPT,
            "IDAT chunk claims 2 GB, file ends after 64 bytes",
        ),
        HostileCase("zero_width.png", _zero_width_png(), CORRUPT, "IHDR width 0"),
        HostileCase(
            "zero_height.gif",
            _gif_header(16, 0, 16, 0),
            CORRUPT,
            "GIF screen and image of height 0",
        ),
        HostileCase(
            "zero_height.jpg",
            _sof_resized(plain_jpeg, width, 0),
            CORRUPT,
            "JPEG SOF height 0 (DNL marker never comes)",
        ),
        HostileCase(
            "tiff_strip_outside.tif",
            _tiff(32, 32, loop_pixels, strip_offset=1 << 30),
            CORRUPT,
            "TIFF strip offset past the end of the file",
        ),
        # Bombs: small files claiming huge pixel counts or inflating far beyond their size.
        HostileCase("bomb.png", _png_bomb(), TOO_LARGE, "IHDR 100000x100000, tiny IDAT"),
        HostileCase(
            "bomb.gif", _gif_header(65535, 65535, 1, 1), TOO_LARGE, "GIF logical screen 65535x65535"
        ),
        HostileCase(
            "bomb.jpg",
            _sof_resized(plain_jpeg, 65000, 65000),
            TOO_LARGE,
            "JPEG SOF claims 65000x65000",
        ),
        HostileCase(
            "bomb.tif",
            _tiff(100_000, 100_000, b"\x00" * 64),
            TOO_LARGE,
            "TIFF claims 100000x100000",
        ),
        HostileCase(
            "bomb.webp",
            _webp_vp8x(16384, 16384),
            TOO_LARGE,
            "WebP VP8X canvas 16384x16384 around a 4x4 frame",
        ),
        HostileCase(
            "scan_bomb.jpg",
            _scan_bomb(),
            TOO_LARGE,
            "progressive JPEG with 2000 scans: a decoding-time bomb",
        ),
        HostileCase("ztxt_bomb.png", _text_bomb(b"zTXt"), TOO_LARGE, "zTXt inflating to 16 MiB"),
        HostileCase("itxt_bomb.png", _text_bomb(b"iTXt"), TOO_LARGE, "iTXt inflating to 16 MiB"),
        # Awkward but legitimate: each must hash.
        HostileCase(
            "ifd_loop.tif",
            _tiff(32, 32, loop_pixels, next_ifd=8),
            HASH,
            "TIFF whose next-IFD offset points at itself; the first frame is fine",
        ),
        HostileCase("cmyk.jpg", cmyk_jpeg(rgb), HASH, "Adobe CMYK JPEG"),
        HostileCase("ycck.jpg", ycck_jpeg(rgb), HASH, "Adobe YCCK JPEG (transform 2), crafted"),
        HostileCase("grey16.png", png16(grey16), HASH, "16-bit grey PNG"),
        HostileCase("rgb16.png", png16(rgb16), HASH, "16-bit RGB PNG"),
        HostileCase(
            "palette_transparency.png",
            encode(palette_with_transparency(), "PNG"),
            HASH,
            "palette PNG with a tRNS transparent colour",
        ),
        HostileCase(
            "la.png", encode(Image.fromarray(la_photo(), "LA"), "PNG"), HASH, "grey + alpha PNG"
        ),
        HostileCase(
            "rgba.png", encode(Image.fromarray(rgba_photo(), "RGBA"), "PNG"), HASH, "RGBA PNG"
        ),
        HostileCase("animated.gif", animated("GIF", gif_frames()), HASH, "two-frame GIF"),
        HostileCase(
            "animated.webp", animated("WEBP", webp_frames(), lossless=True), HASH, "two-frame WebP"
        ),
        HostileCase("animated.png", animated("PNG", webp_frames()), HASH, "two-frame APNG"),
        HostileCase("exif_rotated.jpg", exif6, HASH, "EXIF orientation 6; stored pixels hash"),
        HostileCase("progressive.jpg", jpeg(rgb, progressive=True), HASH, "progressive JPEG"),
        HostileCase(
            "grey.jpg",
            jpeg(np.asarray(Image.fromarray(rgb).convert("L"))),
            HASH,
            "one-channel JPEG",
        ),
        HostileCase(
            "zip_appended.jpg",
            plain_jpeg + _zip_archive(),
            HASH,
            "JPEG with a ZIP archive after EOI (polyglot); the image part hashes",
        ),
        HostileCase("photo.bmp", encode(Image.fromarray(rgb), "BMP"), HASH, "BMP"),
        HostileCase("photo.tif", encode(Image.fromarray(rgb), "TIFF"), HASH, "TIFF"),
        HostileCase("photo.webp", webp, HASH, "lossy WebP"),
        HostileCase("jpeg_named.png", plain_jpeg, HASH, "JPEG bytes under a .png name"),
        HostileCase(
            "one_pixel.png",
            encode(Image.new("RGB", (1, 1), (90, 120, 200)), "PNG"),
            HASH,
            "1x1: hashes, with quality 0 (not matchable)",
        ),
        HostileCase(
            "wide_50000x1.png",
            encode(Image.fromarray(wide), "PNG"),
            HASH,
            "50000x1 is under the pixel limit: hashes (quality says how useful it is)",
        ),
    ]
    return cases
