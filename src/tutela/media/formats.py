"""Image formats recognised from their first bytes; a file's name is never trusted."""

from __future__ import annotations

from enum import StrEnum

from tutela.errors import EmptyMedia, UnsupportedFormat


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
    raise UnsupportedFormat(
        "not a supported image (JPEG, PNG, GIF, WebP, BMP or TIFF), judged by its content"
    )
