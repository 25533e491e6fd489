"""One file's signals as `tutela hash` prints them, made in a decoding worker and handed back as
plain data (strings, numbers, dicts, a TutelaError).

The parent process never unpickles a PdqHash or MediaSignals, so it never imports numpy, Pillow or
the hashers: for one small file their import is most of the command's time, and the worker
imports them anyway (HASHING_MODULE, before it says it is ready).
"""

from __future__ import annotations

from dataclasses import dataclass

from tutela.errors import MediaError
from tutela.media.limits import MediaLimits

# What a worker running summarise_file should import before its first file.
HASHING_MODULE = "tutela.signals.hashing"


@dataclass(frozen=True, slots=True)
class FileSummary:
    """What `tutela hash` prints for one file. `signals` is MediaSignals.signals_dict(); `pdq` and
    `quality` are set for a photo, `video_frames` and `vpdq_lines` (its vPDQ in Meta's line form,
    frame numbers included) for a video; `error` (a media error) when the bytes are not usable
    media, the exact hashes being in `signals` all the same."""

    content_type: str
    signals: dict[str, object]
    pdq: str | None = None
    quality: int | None = None
    video_frames: int | None = None
    error: MediaError | None = None
    vpdq_lines: str | None = None


def summarise_file(path: str, *, exact: bool, dihedral: bool, limits: MediaLimits) -> FileSummary:
    """Hash the file at `path` (tutela.signals.hashing.hash_file); a file that cannot be read or
    is over the size limit raises its TutelaError."""
    from tutela.signals.hashing import hash_file
    from tutela.signals.pdq import PdqMode
    from tutela.signals.vpdq import to_reference_lines

    mode = PdqMode.EXACT if exact else PdqMode.FAST
    result = hash_file(path, mode=mode, limits=limits, dihedral=dihedral)
    return FileSummary(
        content_type=result.content_type,
        signals=result.signals_dict(),
        pdq=result.pdq.hash if result.pdq is not None else None,
        quality=result.pdq.quality if result.pdq is not None else None,
        video_frames=len(result.vpdq.frames) if result.vpdq is not None else None,
        error=result.error,
        vpdq_lines=to_reference_lines(result.vpdq.frames) if result.vpdq is not None else None,
    )
