"""How near sub-quality PDQs come to unrelated hashes: evidence for querying them at a tight distance.

    python bench/low_quality.py [--images N]

PDQ's quality rule keeps a query of quality < 50 out of matching: featureless pictures hash
to near-arbitrary bits. Plain PDQ has no such rule, and bench/accuracy.py shows the copies Tutela
loses to it (a darkened or blurred copy whose quality falls under 50) sitting within 16 bits of
their own original. Whether such queries could be matched at a tighter distance depends on how
near they come to what they should not match. This draws N sub-quality pictures (soft gradients
with a few blurred blobs; the kind of upload the rule is for) and reports the distances from
their exact PDQs to:
  - every matchable file of bench/accuracy.py's development set (originals and copies, fast
    PDQ; run bench/accuracy.py once first), standing in for a bank of matchable indicators;
  - each other (a bank may hold sub-quality indicators too).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tutela.signals.hashing import hash_media
from tutela.signals.pdq import MIN_MATCHABLE_QUALITY, pdq_of_pixels

CACHE = Path(__file__).parent / ".cache" / "accuracy" / "v1"
LIMITS = (16, 24, 31)


def featureless(rng: np.random.Generator, width: int = 256, height: int = 192) -> Image.Image:
    """A two-colour gradient with up to five blobs, blurred by a radius of 4-30 pixels."""
    a, b = rng.integers(0, 256, (2, 3))
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    t = xx * np.cos(angle) + yy * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    image = Image.fromarray((a * (1 - t[..., None]) + b * t[..., None]).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 6))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(v) for v in rng.integers(10, 120, 2))
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(4, 30))))


def codes(hexes: list[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(-1, 32).view(np.uint64)


def histogram(queries: np.ndarray, others: np.ndarray, *, pairs: bool = False) -> np.ndarray:
    """Distances of every query to every other row (each unordered pair once when `pairs`)."""
    counts = np.zeros(257, np.int64)
    for lo in range(0, len(queries), 100):
        d = np.bitwise_count(queries[lo : lo + 100, None, :] ^ others[None]).sum(axis=2)
        if pairs:
            d = d[np.arange(d.shape[0])[:, None] + lo < np.arange(d.shape[1])[None, :]]
        counts += np.bincount(d.ravel(), minlength=257)
    return counts


def report(label: str, counts: np.ndarray) -> None:
    cumulative = np.cumsum(counts)
    within = ", ".join(f"≤ {n}: {int(cumulative[n])}" for n in LIMITS)
    print(
        f"{label}: {int(cumulative[-1]):,} comparisons, closest {int(np.argmax(counts > 0))} "
        f"bits; {within}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1500)
    args = parser.parse_args()
    paths = sorted(CACHE.glob("*/*.*"))
    if not paths:
        raise SystemExit("no cached development set: run bench/accuracy.py first")
    rng = np.random.default_rng(7)
    low: list[str] = []
    drawn = 0
    while len(low) < args.images and drawn < 4 * args.images:
        drawn += 1
        drawn_pdq = pdq_of_pixels(np.asarray(featureless(rng)))
        if drawn_pdq.quality < MIN_MATCHABLE_QUALITY:
            low.append(drawn_pdq.hash)
    matchable = []
    for path in paths:
        pdq = hash_media(path.read_bytes()).pdq
        if pdq is not None and pdq.matchable:
            matchable.append(pdq.hash)
    print(f"{len(low)} sub-quality pictures (of {drawn} drawn); {len(matchable):,} matchable files")
    report("sub-quality vs matchable", histogram(codes(low), codes(matchable)))
    report("sub-quality vs sub-quality", histogram(codes(low), codes(low), pairs=True))


if __name__ == "__main__":
    main()
