"""PDQ, Meta's 256-bit perceptual image hash, computed by the reference C++ (via `pdqhash`).

Two modes: `exact` hashes the full decoded image and reproduces Meta's output bit for bit (used to
make indicators); `fast` decodes at reduced resolution first (JPEG DCT scaling) and stays within a
few bits of exact (used to scan uploads).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pdqhash

from tutela.signals.base import SignalType, hamming_hex

# PDQ's own rule: hashes under this quality are too featureless to match on at a bank's threshold.
MIN_MATCHABLE_QUALITY = 50
# ...yet a darkened, blurred or shrunk copy of a plain picture often falls under the rule while its
# hash stays near its original's (bench/accuracy.py: every copy plain PDQ found and Tutela missed).
# Such a query is matched only this near: bench/low_quality.py found no two unrelated sub-quality
# pictures within 16 bits of each other (closest 20) and none within 74 of a matchable hash.
LOW_QUALITY_DISTANCE = 16
# ...and not at all under this quality: a uniform or almost uniform picture hashes to noise (two
# black pictures have the same hash).
LOW_QUALITY_FLOOR = 20
# Fast mode's quality stays within 2 points of exact mode's on the harness's copies: a fast
# quality this near the rule or the floor, with a candidate, is decided by the exact hash.
QUALITY_MARGIN = 4
# Fast mode keeps the shorter side at least this long; chosen by measured drift from exact.
FAST_MIN_SIDE = 256
# Order of pdqhash.compute_dihedral's output, as in the reference.
DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "antitranspose",
)


class PdqMode(StrEnum):
    EXACT = "exact"
    FAST = "fast"


class PdqSignal(SignalType):
    name = "pdq"
    hex_length = 64
    default_threshold = 31
    perceptual = True

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(a, b)


@dataclass(frozen=True, slots=True)
class PdqHash:
    hash: str
    quality: int
    # The eight dihedral variants in DIHEDRAL_NAMES order, when asked for.
    dihedral: tuple[str, ...] | None = None
    # (name, hash) of each robust query variant (tutela.signals.robust), when asked for.
    robust: tuple[tuple[str, str], ...] | None = None

    @property
    def matchable(self) -> bool:
        """Whether it matches at a bank's threshold (PDQ's rule); one under the rule and at or
        over LOW_QUALITY_FLOOR matches within LOW_QUALITY_DISTANCE only."""
        return self.quality >= MIN_MATCHABLE_QUALITY

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "hash": self.hash,
            "quality": self.quality,
            "matchable": self.matchable,
        }
        if self.dihedral is not None:
            out["dihedral"] = list(self.dihedral)
        if self.robust is not None:
            out["robust"] = dict(self.robust)
        return out


def pdq_of_pixels(pixels: np.ndarray, *, dihedral: bool = False) -> PdqHash:
    """PDQ of (H, W, 3) RGB or (H, W) grey uint8 pixels, exactly as the reference computes it."""
    rgb = pixels if pixels.ndim == 3 else np.broadcast_to(pixels[:, :, None], (*pixels.shape, 3))
    if dihedral:
        vectors, quality = pdqhash.compute_dihedral(rgb)
        hexes = tuple(_vector_to_hex(v) for v in vectors)
        return PdqHash(hash=hexes[0], quality=int(quality), dihedral=hexes)
    vector, quality = pdqhash.compute(rgb)
    return PdqHash(hash=_vector_to_hex(vector), quality=int(quality))


def _vector_to_hex(bits: np.ndarray) -> str:
    return bytes(np.packbits(np.asarray(bits, dtype=np.uint8))).hex()


def pdq_bytes(value: str) -> bytes:
    """32 raw bytes of a canonical PDQ hex value (the matching index's form)."""
    return bytes.fromhex(PdqSignal.validate(value))
