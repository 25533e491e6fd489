"""All the signals of one media file: exact hashes of the bytes, PDQ of the pixels."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tutela.errors import MediaError, MediaTooLarge, NotFound, TruncatedMedia, Unreadable
from tutela.media.decode import decode_image
from tutela.media.formats import is_video_file as is_video_file
from tutela.media.limits import MediaLimits
from tutela.signals.pdq import FAST_MIN_SIDE, PdqHash, PdqMode, pdq_of_pixels
from tutela.signals.pdq_fast import fast_grid, pdq_of_grid

if TYPE_CHECKING:
    from tutela.signals.vpdq import VpdqHash

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class MediaSignals:
    """What `tutela hash` prints for one file. `pdq` (a photo) or `vpdq` (a video) is None when the
    bytes are not usable media (then `error` says why); the exact hashes are always there, so a file
    that will not decode can still match an MD5/SHA list."""

    content_type: str
    md5: str
    sha1: str
    sha256: str
    pdq: PdqHash | None
    error: MediaError | None = None
    vpdq: VpdqHash | None = None

    def signals_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.pdq is not None:
            out["pdq"] = self.pdq.as_dict()
        if self.vpdq is not None:
            out["vpdq"] = self.vpdq.as_dict()
        out["md5"] = self.md5
        out["sha1"] = self.sha1
        out["sha256"] = self.sha256
        return out


def hash_media(
    data: bytes,
    *,
    mode: PdqMode = PdqMode.FAST,
    limits: MediaLimits | None = None,
    dihedral: bool = False,
    robust: bool = False,
) -> MediaSignals:
    """Hash `data`. Media errors are carried in the result, not raised, so the exact hashes survive.
    `robust` adds the PDQs of the robust query variants (tutela.signals.robust)."""
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        pdq = pdq_of_bytes(data, mode=mode, limits=limits, dihedral=dihedral, robust=robust)
    except MediaError as error:
        return MediaSignals("photo", md5, sha1, sha256, pdq=None, error=error)
    return MediaSignals("photo", md5, sha1, sha256, pdq=pdq)


def pdq_of_bytes(
    data: bytes,
    *,
    mode: PdqMode = PdqMode.FAST,
    limits: MediaLimits | None = None,
    dihedral: bool = False,
    robust: bool = False,
) -> PdqHash:
    """PDQ of an image file's bytes; raises MediaError when they are not a usable image.
    `robust` adds the robust query variants, made from the same decoded pixels."""
    grid = None
    if mode is PdqMode.EXACT:
        image = decode_image(data, limits)
        pdq = pdq_of_pixels(image.pixels, dihedral=dihedral)
    else:
        image = decode_image(data, limits, reduce_to=FAST_MIN_SIDE, grey=True)
        grid = fast_grid(image.pixels, stored_width=image.width, stored_height=image.height)
        pdq = pdq_of_grid(grid, dihedral=dihedral)
    if not robust:
        return pdq
    from tutela.signals.robust import robust_variants  # only where a robust bank is enabled

    if not pdq.matchable:
        grid = None  # no straightened variants of an upload under PDQ's quality rule
    elif grid is None:  # exact mode: the reference keeps its buffer to itself
        grid = fast_grid(image.pixels, stored_width=image.width, stored_height=image.height)
    return replace(pdq, robust=robust_variants(image.pixels, grid))


def hash_file(
    path: str,
    *,
    mode: PdqMode = PdqMode.FAST,
    limits: MediaLimits | None = None,
    dihedral: bool = False,
    robust: bool = False,
) -> MediaSignals:
    """Hash the file at `path`, refusing one over the size limit before reading it. A video is
    streamed from disk: its exact hashes chunk by chunk, its frames by the decoder."""
    limits = limits or MediaLimits()
    if is_video_file(path):
        return hash_video_file(path, mode=mode, limits=limits)
    data = read_limited(path, limits)
    return hash_media(data, mode=mode, limits=limits, dihedral=dihedral, robust=robust)


def read_limited(path: str, limits: MediaLimits) -> bytes:
    """The bytes of the image file at `path`, refusing one over the size limit unread."""
    try:
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            raise MediaTooLarge(f"file has {size} bytes, the limit is {limits.max_bytes}")
        with open(path, "rb") as handle:
            return handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror or type(error).__name__}") from None


def hash_video_file(
    path: str, *, mode: PdqMode = PdqMode.FAST, limits: MediaLimits | None = None
) -> MediaSignals:
    """Exact hashes and vPDQ of the video at `path`; media errors are carried in the result. A
    video cut short keeps the vPDQ of the frames it holds, with TruncatedMedia as its error."""
    limits = limits or MediaLimits()
    md5, sha1, sha256 = (
        hashlib.md5(usedforsecurity=False),
        hashlib.sha1(usedforsecurity=False),
        hashlib.sha256(),
    )
    try:
        if os.stat(path).st_size > limits.max_video_bytes:
            raise MediaTooLarge(f"video is over the limit of {limits.max_video_bytes} bytes")
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                md5.update(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror or type(error).__name__}") from None
    digests = md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest()
    try:
        from tutela.signals.vpdq import vpdq_of_file  # PyAV's frame sampling: videos only

        vpdq = vpdq_of_file(path, mode=mode, limits=limits)
    except MediaError as error:
        return MediaSignals("video", *digests, pdq=None, error=error)
    if vpdq.cut_short is not None:
        # Hashed up to the cut and matched so; the error says the rest was never looked at.
        cut = TruncatedMedia(f"the video is cut short: {vpdq.cut_short}")
        return MediaSignals("video", *digests, pdq=None, vpdq=vpdq, error=cut)
    return MediaSignals("video", *digests, pdq=None, vpdq=vpdq)
