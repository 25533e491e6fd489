"""Limits that bound what one untrusted file may cost to decode."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Bounds on one decode. Defaults suit photos from phones and cameras.

    max_bytes: largest accepted file.
    max_pixels: width × height from the header, checked before any pixel is decoded.
    decode_timeout_s: wall-clock time one decode may take inside an isolated worker.
    worker_memory_bytes: address-space cap of an isolated decoding worker.
    max_video_bytes: largest accepted video file (streamed from disk, never read whole).
    max_video_seconds: longest video decoded, by its header and by the frames it really holds.
    video_timeout_s: wall-clock time one video may take to decode and hash.
    vpdq_prune_distance: vPDQ's frame pruning: a sampled frame within this many bits of the last
        frame kept is left out of the hash (0 leaves out repeats of the same hash); -1, the
        default, keeps every sampled frame, as Meta's tools do.
    """

    max_bytes: int = 100 * 1024 * 1024
    max_pixels: int = 50_000_000
    decode_timeout_s: float = 20.0
    worker_memory_bytes: int = 2 * 1024 * 1024 * 1024
    max_video_bytes: int = 4 * 1024 * 1024 * 1024
    max_video_seconds: float = 4 * 3600.0
    video_timeout_s: float = 1800.0
    vpdq_prune_distance: int = -1

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_pixels",
            "decode_timeout_s",
            "worker_memory_bytes",
            "max_video_bytes",
            "max_video_seconds",
            "video_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise InvalidInput(f"media limit {name} must be positive")
        if not -1 <= self.vpdq_prune_distance <= 256:
            raise InvalidInput("vpdq_prune_distance must be -1 (off) or 0 to 256 bits")
