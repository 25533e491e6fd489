"""Command start-up: `tutela --help` and `tutela hash` of one small photo, against the peer script
(python-threatexchange's PDQ hasher + MD5 + SHA-256 on the same file), all pinned to one core.

Each command runs `--runs` times as a fresh process; the median wall time is reported.
Run: `python bench/startup.py [--runs N]`. Targets (issue 13): --help under 0.3 s, hash under 0.6 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "pdq" / "aaa-orig.jpg"
TUTELA = str(Path(sys.executable).parent / "tutela")
PEER = (
    "import hashlib, sys\n"
    "from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "pdq, quality = pdq_from_file(sys.argv[1])\n"
    "print(pdq, quality, hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())\n"
)


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of `command` run `runs` times on core 0 (after one untimed warm-up)."""
    pinned = ["taskset", "-c", "0", *command]
    subprocess.run(pinned, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(pinned, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} cores, pinned to core 0"
    print(f"start-up, median of {args.runs} runs ({env_note})")
    help_s = median_seconds([TUTELA, "--help"], args.runs)
    print(f"  tutela --help                  {help_s:6.3f} s  (target 0.3 s)")
    hash_s = median_seconds([TUTELA, "hash", "--json", str(PHOTO)], args.runs)
    print(f"  tutela hash (one photo)        {hash_s:6.3f} s  (target 0.6 s)")
    peer_s = median_seconds([sys.executable, "-c", PEER, str(PHOTO)], args.runs)
    print(f"  threatexchange script (same)   {peer_s:6.3f} s")
    print(
        f"startup: tutela {hash_s:.3f} s vs threatexchange {peer_s:.3f} s = "
        f"{peer_s / hash_s:.2f}× (hash of one photo; --help {help_s:.3f} s)"
    )


if __name__ == "__main__":
    main()
