"""CPU cost of hashing one file: fast mode, fast mode with robust variants, exact mode.

    python bench/hash_cost.py [--every N] [--limit N] [--rounds N]

Files: the development set bench/accuracy.py caches under bench/.cache/accuracy (run it once
first), in three groups: the originals (pictures to their edges, as most uploads are, PNG), the
same as JPEG q90, and the edited copies (a quarter of them framed or turned, where the robust variants do the most work).
Each file is hashed in this process as a hashing process does (`hash_media`, dihedral PDQs),
and process CPU time is reported per file and as ratios to fast mode: what robust matching
adds to every upload, and what one exact confirmation costs (a file whose fast candidate lies
within CONFIRM_MARGIN bits of a bank's limit is hashed again exactly; bench/accuracy.py prints
how many are).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from tutela.media import MediaLimits
from tutela.signals.hashing import hash_media
from tutela.signals.pdq import PdqMode

CACHE = Path(__file__).parent / ".cache" / "accuracy" / "v1"


def cpu_ms(
    files: list[bytes], modes: dict[str, Callable[[bytes], object]], rounds: int
) -> dict[str, float]:
    """Process CPU milliseconds per file for each mode, best of `rounds` (other load on the
    machine only ever adds); the modes take turns within each round, so a change in the
    machine's load weighs on all of them alike."""
    best = dict.fromkeys(modes, float("inf"))
    for _ in range(rounds):
        for mode, hash_one in modes.items():
            started = time.process_time()
            for data in files:
                hash_one(data)
            best[mode] = min(best[mode], time.process_time() - started)
    return {mode: 1000 * seconds / len(files) for mode, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=13, help="take every Nth cached copy")
    parser.add_argument("--limit", type=int, default=400, help="at most this many per group")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many, modes in turn")
    args = parser.parse_args()
    paths = sorted(CACHE.glob("*/*.*"))
    if not paths:
        raise SystemExit("no cached development set: run bench/accuracy.py first")
    groups = {
        "originals": [p for p in paths if p.stem == "original"][: args.limit],
        # The same pictures as JPEG (q90): the common upload that matches nothing.
        "as JPEG": [p for p in paths if p.stem == "jpeg-q90"][: args.limit],
        "copies": [p for p in paths if p.stem != "original"][:: args.every][: args.limit],
    }
    limits = MediaLimits()
    modes: dict[str, Callable[[bytes], object]] = {
        "fast": lambda d: hash_media(d, mode=PdqMode.FAST, limits=limits, dihedral=True),
        "fast+robust": lambda d: hash_media(
            d, mode=PdqMode.FAST, limits=limits, dihedral=True, robust=True
        ),
        "exact": lambda d: hash_media(d, mode=PdqMode.EXACT, limits=limits, dihedral=True),
    }
    print(f"{'files':<10} {'n':>4} " + " ".join(f"{m + ' ms':>15}" for m in modes), end="")
    print(f" {'robust adds':>12} {'exact/fast':>11}")
    for group, chosen in groups.items():
        files = [p.read_bytes() for p in chosen]
        for data in files[:5]:  # warm caches and imports
            for hash_one in modes.values():
                hash_one(data)
        ms = cpu_ms(files, modes, args.rounds)
        adds = ms["fast+robust"] / ms["fast"] - 1
        row = " ".join(f"{ms[m]:>15.2f}" for m in modes)
        print(
            f"{group:<10} {len(files):>4} {row} {100 * adds:>10.0f} % {ms['exact'] / ms['fast']:>10.1f}×"
        )


if __name__ == "__main__":
    main()
