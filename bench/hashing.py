"""Hashing throughput: Tutela's fast path against the python-threatexchange path, same files, one core.

Builds ~12 MP and ~1 MP JPEGs from the benign photos shipped in scikit-image, upscaled and
re-encoded (the issue's recipe), and a second set of each with sensor-like grain added, whose files
have camera-like sizes (an upscaled photo is unusually smooth and compresses to half the bytes).
Each set is hashed with
  - tutela: `tutela.signals.hash_media` in fast mode (PDQ + MD5 + SHA-1 + SHA-256), and
  - threatexchange: `pdq_hasher.pdq_from_bytes` + hashlib MD5 and SHA-256 (the peer path HMA uses).
Also reports the fast mode's drift from exact PDQ. Run: `python bench/hashing.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from tutela.signals import PdqMode, hash_media, pdq_of_bytes

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "cat")
SIZES = {"12mp": (4000, 3000), "1mp": (1152, 864)}
GRAIN_SIGMA = 4.0
CACHE = Path(__file__).parent / ".cache" / "hashing"


def build_jpegs(label: str, size: tuple[int, int], grain: float) -> list[bytes]:
    """Upscaled photos (with grain when `grain` > 0), as JPEG quality 90; cached between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    files = []
    for name in PHOTOS:
        path = CACHE / f"{label}-grain{grain:g}-{name}.jpg"
        if not path.exists():
            photo = Image.fromarray(np.asarray(getattr(skdata, name)())).convert("RGB")
            big = np.asarray(photo.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
            noise = rng.normal(0, grain, big.shape) if grain else np.zeros(big.shape)
            pixels = np.clip(big + noise.astype(np.int16), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
            path.write_bytes(buffer.getvalue())
        files.append(path.read_bytes())
    return files


def tutela_hash(data: bytes) -> object:
    return hash_media(data, mode=PdqMode.FAST)


def peer_hash(data: bytes) -> object:
    return (
        pdq_from_bytes(data),
        hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def images_per_second(fn: Callable[[bytes], object], files: list[bytes], rounds: int) -> float:
    fn(files[0])  # warm caches and lazy imports
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for data in files:
            fn(data)
        best = min(best, time.perf_counter() - start)
    return len(files) / best


def drift(files: list[bytes]) -> list[int]:
    out = []
    for data in files:
        exact = pdq_of_bytes(data, mode=PdqMode.EXACT)
        fast = pdq_of_bytes(data, mode=PdqMode.FAST)
        out.append((int(exact.hash, 16) ^ int(fast.hash, 16)).bit_count())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # one core for both sides
    results = {}
    for grain in (GRAIN_SIGMA, 0.0):
        for label, size in SIZES.items():
            files = build_jpegs(label, size, grain)
            mean_kb = statistics.mean(len(f) for f in files) / 1024
            peer_rounds = 1 if label == "12mp" else args.rounds
            peer = images_per_second(peer_hash, files, peer_rounds)
            ours = images_per_second(tutela_hash, files, args.rounds)
            bits = drift(files)
            name = label if grain == 0 else f"{label}-grain"
            print(
                f"{name}: {len(files)} JPEGs of {size[0]}x{size[1]}, mean {mean_kb:.0f} KiB; "
                f"fast-vs-exact PDQ drift max {max(bits)} mean {statistics.mean(bits):.1f} bits"
            )
            results[name] = (ours, peer)
    # The grain sets first, then the recipe, whose two lines close the output.
    for label, (ours, peer) in results.items():
        print(
            f"hashing-{label}: tutela {ours:.1f} images/s vs threatexchange {peer:.1f} images/s "
            f"= {ours / peer:.1f}×"
        )


if __name__ == "__main__":
    main()
