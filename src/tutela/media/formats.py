"""Image and video formats recognised from their first bytes; a file's name is never trusted.

No decoder is imported here: a process that only sorts files (the `tutela hash` parent) stays light."""

from __future__ import annotations

import struct
from enum import StrEnum

from tutela.errors import EmptyMedia, UnsupportedFormat

# What a file that is neither is told: every format Tutela takes, images and videos.
UNSUPPORTED_MESSAGE = (
    "not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF) or video (MP4/MOV, WebM/MKV, AVI), "
    "judged by its content"
)


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    BMP = "bmp"
    TIFF = "tiff"

    @property
    def pillow_name(self) -> str:
        return self.value.upper()


def sniff_format(head: bytes) -> ImageFormat:
    """Name the image format of `head` (the first bytes of a file) or refuse it."""
    if not head:
        raise EmptyMedia("the file is empty")
    if head.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ImageFormat.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if head.startswith(b"BM") and len(head) >= 26:
        return ImageFormat.BMP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ImageFormat.TIFF
    raise UnsupportedFormat(UNSUPPORTED_MESSAGE)


def webp_canvas_size(head: bytes) -> tuple[int, int] | None:
    """Width and height a WebP's first chunk declares (VP8X canvas, VP8 or VP8L frame), read from
    the first 30 bytes; None when they cannot be read there (the decoder will then refuse it).

    Needed because libwebp's animation decoder allocates two canvases when it is created, before
    any size check of ours could run on what Pillow reports.
    """
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


class VideoFormat(StrEnum):
    MP4 = "mp4"  # also MOV, 3GP: the ISO base media family
    MATROSKA = "matroska"  # also WebM
    AVI = "avi"

    @property
    def demuxer(self) -> str:
        return {
            VideoFormat.MP4: "mov,mp4,m4a,3gp,3g2,mj2",
            VideoFormat.MATROSKA: "matroska,webm",
            VideoFormat.AVI: "avi",
        }[self]


# ISO base media boxes a file may start with (ftyp first in nearly all; old QuickTime files
# start with moov, mdat, wide, free or skip).
_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def sniff_video(head: bytes) -> VideoFormat | None:
    """The video container `head` (a file's first 16 bytes or more) starts, or None."""
    if len(head) >= 8 and head[4:8] in _ISO_FIRST_BOXES:
        return VideoFormat.MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return VideoFormat.MATROSKA
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return VideoFormat.AVI
    return None


def is_video_file(path: str) -> bool:
    """Whether the file's first bytes name a video container (False when it cannot be read:
    the image path then reports why)."""
    try:
        with open(path, "rb") as handle:
            return sniff_video(handle.read(16)) is not None
    except OSError:
        return False
