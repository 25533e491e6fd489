"""What an indicator made from an image holds (`tutela bank add-media`, bench/accuracy.py): the
exact hashes of its bytes, its exact PDQ (`tutela hash --exact`), and the exact PDQs of its
standard crops (tutela.signals.crops), all from one decode. Made in a decoding worker and handed
back as plain data (strings, numbers, a TutelaError), as tutela.signals.file_summary does."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.errors import MediaError, UnsupportedFormat
from tutela.media.limits import MediaLimits

# What a worker running media_indicator should import before its first file.
MEDIA_INDICATOR_MODULE = "tutela.signals.crops"


@dataclass(frozen=True, slots=True)
class MediaIndicator:
    """An image's hashes for a bank: `pdq`, `quality` and `variants` ((name, PDQ hex) of its
    matchable standard crops) are None/empty when it is not a usable image (`error` says why)."""

    md5: str
    sha256: str
    pdq: str | None = None
    quality: int | None = None
    variants: tuple[tuple[str, str], ...] = ()
    error: MediaError | None = None


def media_indicator(path: str, *, limits: MediaLimits) -> MediaIndicator:
    """Hash the image at `path` for a bank; a file that cannot be read or is over the size
    limit raises its TutelaError, one that is no usable image (a video included: banks take
    a video's vPDQ through `tutela bank import`) carries its MediaError."""
    import hashlib

    from tutela.media.decode import decode_image
    from tutela.media.formats import is_video_file
    from tutela.signals.crops import crop_variants
    from tutela.signals.hashing import read_limited
    from tutela.signals.pdq import pdq_of_pixels

    data = read_limited(path, limits)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    if is_video_file(path):
        error = UnsupportedFormat("a video: bank its vPDQ with `tutela bank import`")
        return MediaIndicator(md5, sha256, error=error)
    try:
        pixels = decode_image(data, limits).pixels
    except MediaError as error:
        return MediaIndicator(md5, sha256, error=error)
    # The same decode and hash as `tutela hash --exact` (tutela.signals.hashing.pdq_of_bytes).
    pdq = pdq_of_pixels(pixels)
    return MediaIndicator(md5, sha256, pdq.hash, pdq.quality, crop_variants(pixels))
