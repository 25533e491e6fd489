"""Detection accuracy: recall per edit family and false matches, plain PDQ against Tutela, one run.

    python bench/accuracy.py [--quick] [--originals N] [--workers W]

Development set (DESIGN ground rule 1: only images the rules allow): every 2-D photo shipped in
scikit-image, scikit-learn's sample images when scikit-learn is installed, and drawn pictures
(gradients and shapes, no text) up to `--originals`. Each original is stored as PNG; every edit
below makes one copy (JPEG q90 unless the edit is itself an encoding; screenshots are PNG), cached
under bench/.cache/accuracy (the set and the edits: bench/accuracy_set.py).

Four sides, all at PDQ distance ≤ 31:
  - plain PDQ: python-threatexchange `pdq_from_bytes` of the copy against that of the original;
  - tutela: what `tutela match FILE` does today: `hash_file` in fast mode with the eight dihedral
    variants, queried through the Matcher over a bank (temporary SQLite database) that holds the
    originals' exact hashes (`tutela hash --exact`); a copy under PDQ's quality rule is matched
    only within LOW_QUALITY_DISTANCE bits, one under LOW_QUALITY_FLOOR not at all (Matcher.match_pdq);
    a fast candidate within CONFIRM_MARGIN bits of the threshold is decided by the copy's exact
    hash instead (the run also counts how its answers differ from exact mode's);
  - tutela robust: the same with the bank marked robust, each copy's robust query variants
    (frame trimmed, small rotations undone: tutela.signals.robust) queried too;
  - robust+crops: the same with the bank built as `tutela bank add-media` builds it (the same
    code: tutela.signals.media_indicator in the workers, tutela.indicators.media_banks.add_media),
    each original's PDQ carrying its standard crops as indicator variants.
Negatives: every copy against every other original, every query variant against every indicator
hash counted as one comparison; their distance histogram gives the closest negatives' quantiles.
Later matching work plugs in as another `Side` and is measured the same way.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

THRESHOLD = 31
CONFIRM_MARGIN = 8  # tutela.indicators.matcher.CONFIRM_MARGIN (printed beside its figures)
CACHE = Path(__file__).parent / ".cache" / "accuracy" / "v1"  # bump when a recipe changes
BANK = "originals"
MIN_QUALITY = 50  # PDQ's own rule (tutela.signals.pdq.MIN_MATCHABLE_QUALITY)
sys.path.insert(0, str(Path(__file__).parent))  # its sibling modules, however it is loaded

from accuracy_set import (  # noqa: E402  (bench/ on the path, above)
    EDITS,
    GROUPS,
    Edit,
    Original,
    border,
    caption,
    dev_set,
    drawn_original,
    letterbox,
    png,
    rotate,
    screenshot,
)

__all__ = [
    "EDITS",
    "GROUPS",
    "Original",
    "border",
    "caption",
    "drawn_original",
    "letterbox",
    "rotate",
    "screenshot",
]


# -- hashing (in worker processes) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyHashes:
    edit: str
    plain: str | None  # threatexchange's PDQ; None when it could not read the file
    fast: str | None  # tutela's fast PDQ, None when the file was refused
    dihedral: tuple[str, ...] = ()
    # Exact-mode dihedral PDQs of the copy: what `tutela match` hashes when a fast candidate lies
    # near the threshold, and what exact mode would have queried.
    exact: tuple[str, ...] = ()
    # The robust query variants (name, hash) of the fast decode.
    robust: tuple[tuple[str, str], ...] = ()
    # A copy under PDQ's quality rule: its fast hash, for the figures on that rule.
    low: str | None = None
    # The qualities of the fast and the exact PDQ (the matcher applies PDQ's quality rule).
    quality: int = 100
    exact_quality: int = 100


@dataclass(frozen=True, slots=True)
class OriginalHashes:
    name: str
    plain: str
    exact: str
    quality: int
    copies: tuple[CopyHashes, ...]
    # Exact PDQs of the original's standard crops (tutela.signals.crops), as a bank built from
    # the media itself stores beside the indicator.
    crops: tuple[str, ...] = ()
    # What `tutela bank add-media` makes of the original (tutela.signals.media_indicator).
    media: object = None
    # CPU seconds of add-media's hashing of the original, and of `tutela hash --exact`'s.
    media_seconds: float = 0.0
    exact_seconds: float = 0.0


def cached_file(directory: Path, name: str, make: Callable[[], bytes]) -> Path:
    path = directory / name
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(make())
        os.replace(partial, path)
    return path


def make_copy(edit: Edit, source: Callable[[], Image.Image]) -> bytes:
    return edit.make(source())


def hash_original(
    original: Original, edits: Sequence[Edit] = EDITS, cache: Path = CACHE
) -> OriginalHashes:
    """Make (or reuse) the original's file and its copies, and hash each the way both sides do."""
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    from tutela.settings import Settings
    from tutela.signals.hashing import hash_file
    from tutela.signals.media_indicator import media_indicator
    from tutela.signals.pdq import PdqMode

    limits = Settings().media
    directory = cache / original.name
    image: list[Image.Image] = []  # decoded only when some file must be made

    def source() -> Image.Image:
        if not image:
            image.append(original.image())
        return image[0]

    path = cached_file(directory, "original.png", lambda: png(source()))
    plain, _ = pdq_from_bytes(path.read_bytes())
    started = time.process_time()
    exact = hash_file(str(path), mode=PdqMode.EXACT, limits=limits).pdq
    exact_seconds = time.process_time() - started
    media = media_indicator(str(path), limits=limits)
    media_seconds = time.process_time() - started - exact_seconds
    assert exact is not None, f"{original.name} does not decode"
    assert media.pdq == exact.hash, f"{original.name}: add-media's PDQ is not `hash --exact`'s"
    copies = []
    for edit in edits:
        make = functools.partial(make_copy, edit, source)
        path = cached_file(directory, f"{edit.name}.{edit.suffix}", make)
        try:
            copy_plain: str | None = pdq_from_bytes(path.read_bytes())[0]
        except Exception:
            copy_plain = None
        ours = hash_file(
            str(path), mode=PdqMode.FAST, limits=limits, dihedral=True, robust=True
        ).pdq
        exact_copy = hash_file(str(path), mode=PdqMode.EXACT, limits=limits, dihedral=True).pdq
        if ours is None or exact_copy is None or ours.dihedral is None:
            copies.append(CopyHashes(edit.name, copy_plain, None))
        else:
            copies.append(
                CopyHashes(
                    edit.name,
                    copy_plain,
                    ours.hash,
                    ours.dihedral,
                    exact_copy.dihedral or (),
                    ours.robust or (),
                    None if ours.matchable else ours.hash,
                    ours.quality,
                    exact_copy.quality,
                )
            )
    return OriginalHashes(
        original.name,
        plain,
        exact.hash,
        exact.quality,
        tuple(copies),
        tuple(h for _, h in media.variants),
        media,
        media_seconds,
        exact_seconds,
    )


def hash_all(originals: Sequence[Original], workers: int) -> list[OriginalHashes]:
    done: list[OriginalHashes] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for hashed in pool.map(hash_original, originals):
            done.append(hashed)
            if len(done) % 10 == 0 or len(done) == len(originals):
                print(f"\rhashed {len(done)}/{len(originals)} originals", end="", file=sys.stderr)
    print(file=sys.stderr)
    return done


# -- the sides and what they are scored on ----------------------------------------------------


@dataclass(slots=True)
class Side:
    """One way of matching: the hashes each original contributes to the index, the hashes each
    copy is queried with, and the (copy, original) pairs its own matching code reported."""

    name: str
    indicator_codes: np.ndarray  # (K, 32) uint8
    indicator_owner: np.ndarray  # (K,) original index
    query_codes: np.ndarray  # (M, 32) uint8
    query_owner: np.ndarray  # (M,) copy index
    matched: set[tuple[int, int]] = field(default_factory=set)
    # Queries whose fast candidates lay near the threshold and were hashed exactly.
    confirmed: int = 0
    # Seconds its Matcher spent answering the queries, and codes in its index.
    lookup_seconds: float = 0.0
    index_codes: int = 0


@dataclass(frozen=True, slots=True)
class Copy:
    original: int
    edit: str


def codes_of(values: Iterable[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, 32)


def distances(queries: np.ndarray, indicators: np.ndarray) -> np.ndarray:
    """Hamming distances (len(queries), len(indicators)) between rows of 32-byte codes."""
    q, i = queries.view(np.uint64), indicators.view(np.uint64)
    return np.asarray(np.bitwise_count(q[:, None, :] ^ i[None, :, :]).sum(axis=2), np.int32)


@dataclass(frozen=True, slots=True)
class Comparisons:
    """What comparing every query variant with every indicator hash gave."""

    # Negative comparisons (a copy's own original left out) per distance 0..256.
    histogram: np.ndarray
    # (copies, originals), own originals included: the nearest any of the copy's variants came
    # to any of the original's hashes; 257 where nothing was compared.
    closest: np.ndarray

    @property
    def comparisons(self) -> int:
        return int(self.histogram.sum())

    def within(self, threshold: int) -> int:
        return int(self.histogram[: threshold + 1].sum())

    def quantile(self, fraction: float) -> int:
        """The smallest distance d with at least `fraction` of the comparisons at or below d
        (fraction 0: the closest negative)."""
        cumulative = np.cumsum(self.histogram)
        target = max(1, math.ceil(fraction * cumulative[-1]))
        return int(np.searchsorted(cumulative, target))


def compare(side: Side, copies: Sequence[Copy], n_originals: int, chunk: int = 2048) -> Comparisons:
    """Every query variant of every copy against every indicator hash of every original."""
    histogram = np.zeros(257, np.int64)
    closest = np.full((len(copies), n_originals), 257, np.int32)
    own_of_copy = np.array([c.original for c in copies], np.int64)
    for lo in range(0, len(side.query_codes), chunk):
        d = distances(side.query_codes[lo : lo + chunk], side.indicator_codes)
        owners = side.query_owner[lo : lo + chunk]
        own = side.indicator_owner[None, :] == own_of_copy[owners][:, None]
        histogram += np.bincount(d[~own], minlength=257)
        rows = np.broadcast_to(owners[:, None], d.shape)
        cols = np.broadcast_to(side.indicator_owner[None, :], d.shape)
        np.minimum.at(closest, (rows.ravel(), cols.ravel()), d.ravel())
    return Comparisons(histogram, closest)


def recall(
    copies: Sequence[Copy],
    matched: set[tuple[int, int]],
    key: Callable[[Copy], str] = lambda copy: copy.edit,
) -> dict[str, tuple[int, int]]:
    """(found, total) per edit (or other `key`): a copy is found when its own original is among
    its matches; a match to another original does not count."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index, copy in enumerate(copies):
        out[key(copy)][0] += (index, copy.original) in matched
        out[key(copy)][1] += 1
    return {name: (found, total) for name, (found, total) in out.items()}


def plain_side(hashed: Sequence[OriginalHashes], copies: Sequence[Copy], threshold: int) -> Side:
    hits = [(i, h) for i, h in enumerate(c for o in hashed for c in o.copies) if h.plain]
    side = Side(
        "plain PDQ",
        codes_of(o.plain for o in hashed),
        np.arange(len(hashed)),
        codes_of(h.plain for _, h in hits if h.plain),
        np.array([i for i, _ in hits], np.int64),
    )
    # Plain PDQ's matching is the distance itself; any exhaustive index answers the same.
    closest = compare(side, copies, len(hashed)).closest
    rows, cols = np.nonzero(closest <= threshold)
    side.matched = set(zip(rows.tolist(), cols.tolist(), strict=True))
    return side


def tutela_side(
    hashed: Sequence[OriginalHashes], threshold: int, *, robust: bool = False, crops: bool = False
) -> Side:
    """The originals' exact hashes in a bank, the copies through the Matcher as `tutela match`
    does (minus the isolated decoding processes): fast dihedral hashes searched CONFIRM_MARGIN
    bits beyond the threshold, the exact ones instead when a candidate lies that near it.
    `robust`: the bank is robust and the copies' robust variants are queried too. `crops`: the
    bank is built by add-media's code, each original's PDQ with its crops as variants."""
    from sqlalchemy import select

    from tutela.db import open_database
    from tutela.indicators.banks import create_bank
    from tutela.indicators.ledger import add_indicator
    from tutela.indicators.matcher import CONFIRM_MARGIN, Matcher
    from tutela.indicators.media_banks import add_media
    from tutela.indicators.models import Indicator
    from tutela.settings import Settings
    from tutela.signals.media_indicator import MediaIndicator
    from tutela.signals.pdq import PdqHash

    queried = [(i, h) for i, h in enumerate(c for o in hashed for c in o.copies) if h.fast]
    codes: list[str] = []
    owners_of_codes: list[int] = []
    side = Side(
        ("robust+crops" if crops else "tutela robust") if robust else "tutela",
        codes_of(h for o in hashed for h in (o.exact, *(o.crops if crops else ()))),
        np.array([i for i, o in enumerate(hashed) for _ in range(1 + len(o.crops) * crops)]),
        np.zeros((0, 32), np.uint8),
        np.zeros(0, np.int64),
    )
    confirmed = 0
    with tempfile.TemporaryDirectory() as tmp:
        database = open_database(Settings(data_dir=Path(tmp)))
        try:
            create_bank(database, BANK, pdq_threshold=threshold, robust=robust)
            owners: dict[int, list[int]] = defaultdict(list)
            if crops:
                # As `tutela bank add-media` banks them: each PDQ with its crops as variants.
                media = [o.media for o in hashed]
                assert all(isinstance(m, MediaIndicator) for m in media)
                add_media(database, BANK, media)  # type: ignore[arg-type]
                of_value: dict[str, list[int]] = defaultdict(list)
                for index, original in enumerate(hashed):
                    of_value[original.exact].append(index)
                with database.reader() as session:
                    rows = session.execute(
                        select(Indicator.id, Indicator.value).where(Indicator.signal_type == "pdq")
                    )
                    for ident, value in rows:
                        owners[ident] += of_value[value]
            else:
                for index, original in enumerate(hashed):
                    owners[add_indicator(database, BANK, "pdq", original.exact).id].append(index)
            matcher = Matcher(database, use_snapshot=False)
            matcher.load()
            side.index_codes = len(matcher._view.pdq)
            started = time.perf_counter()
            for copy, h in queried:
                variants = h.robust if robust else None
                fast = PdqHash(h.fast or "", h.quality, h.dihedral, variants)
                used, results = fast, matcher.match_pdq(fast, margin=CONFIRM_MARGIN)
                if results is None:
                    confirmed += 1
                    used = PdqHash(h.exact[0], h.exact_quality, h.exact, variants)
                    results = matcher.match_pdq(used, margin=0) or []
                side.matched |= {(copy, o) for r in results for o in owners[r.indicator_id]}
                used_codes = list(used.dihedral or ()) + [v for _, v in used.robust or ()]
                codes += used_codes
                owners_of_codes += [copy] * len(used_codes)
            side.lookup_seconds = time.perf_counter() - started
        finally:
            database.close()
    side.query_codes = codes_of(codes) if codes else np.zeros((0, 32), np.uint8)
    side.query_owner = np.array(owners_of_codes, np.int64)
    side.confirmed = confirmed
    return side


def exact_mode_pairs(hashed: Sequence[OriginalHashes], threshold: int) -> set[tuple[int, int]]:
    """(copy, original) pairs that exact mode finds: the copies' exact dihedral hashes against
    the originals' (an exhaustive search), for the copies tutela queries."""
    from tutela.signals.pdq import LOW_QUALITY_DISTANCE, LOW_QUALITY_FLOOR

    queried = [(i, h) for i, h in enumerate(c for o in hashed for c in o.copies) if h.fast]
    if not queried:
        return set()
    codes = codes_of(v for _, h in queried for v in h.exact)
    d = distances(codes, codes_of(o.exact for o in hashed)).reshape(len(queried), 8, -1)
    # PDQ's quality rule as the matcher applies it (Matcher.match_pdq).
    quality = np.array([h.exact_quality for _, h in queried])
    limit = np.where(quality < MIN_QUALITY, min(threshold, LOW_QUALITY_DISTANCE), threshold)
    limit[quality < LOW_QUALITY_FLOOR] = -1
    rows, cols = np.nonzero(d.min(axis=1) <= limit[:, None])
    return {(queried[r][0], int(c)) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)}


def print_quality_rule(
    hashed: Sequence[OriginalHashes], copies: Sequence[Copy], tight: int = 16
) -> None:
    """Figures for PDQ's quality rule: how near copies under it come to their own original and
    to the others (whether querying them at a tight distance would be safe)."""
    low = [(i, h.low) for i, h in enumerate(c for o in hashed for c in o.copies) if h.low]
    print(f"\ncopies under PDQ's quality rule (matched within {tight} bits only): {len(low)}")
    if not low:
        return
    d = distances(codes_of(v for _, v in low), codes_of(o.exact for o in hashed))
    own = np.array([copies[i].original for i, _ in low])
    own_d = d[np.arange(len(low)), own]
    d[np.arange(len(low)), own] = 257
    closest_negative = int(d.min())
    for limit in (tight, THRESHOLD):
        print(
            f"  within {limit} bits of their own original: {int((own_d <= limit).sum())}; "
            f"negatives within {limit}: {int((d <= limit).sum())} of {d.size:,}"
        )
    print(f"  closest negative of these: {closest_negative} bits")


# -- the run ----------------------------------------------------------------------------------


def percent(found: int, total: int) -> str:
    return f"{100 * found / total:5.1f} %" if total else "    -  "


def summed(counts: Iterable[tuple[int, int]]) -> tuple[int, int]:
    pairs = list(counts)
    return sum(f for f, _ in pairs), sum(t for _, t in pairs)


def print_recall(
    sides: Sequence[Side], copies: Sequence[Copy], hashed: Sequence[OriginalHashes]
) -> dict[str, list[tuple[int, int]]]:
    """The recall tables (per edit, per family and group, per source); (found, total) per group
    and side."""
    per_edit = [recall(copies, side.matched) for side in sides]
    heads = " ".join(f"{side.name:>13}" for side in sides)
    print(f"\nrecall at PDQ distance ≤ {THRESHOLD}, {len(hashed)} copies per edit")
    print(f"{'group':<9} {'family':<11} {'strength':<16} {heads}")
    for edit in EDITS:
        row = " ".join(f"{percent(*r[edit.name]):>13}" for r in per_edit)
        print(f"{edit.group:<9} {edit.family:<11} {edit.strength:<16} {row}")
    print(f"\n{'group':<9} {'family':<28} {heads}")
    by_group: dict[str, list[tuple[int, int]]] = {}
    for group in GROUPS:
        members = [e for e in EDITS if e.group == group]
        for family in dict.fromkeys(e.family for e in members):
            names = [e.name for e in members if e.family == family]
            row = " ".join(f"{percent(*summed(r[n] for n in names)):>13}" for r in per_edit)
            print(f"{group:<9} {family:<28} {row}")
        by_group[group] = [summed(r[e.name] for e in members) for r in per_edit]
        row = " ".join(f"{percent(*g):>13}" for g in by_group[group])
        print(f"{group:<9} {'(all ' + group + ')':<28} {row}")
    # Drawn pictures fill up the count; the photos alone say whether they flatter the result.
    group_of = {e.name: e.group for e in EDITS}

    def source_and_group(copy: Copy) -> str:
        return f"{hashed[copy.original].name.partition('-')[0]} {group_of[copy.edit]}"

    by_source = [recall(copies, side.matched, source_and_group) for side in sides]
    print(f"\n{'source':<9} {'group':<28} {heads}")
    for key in sorted(by_source[0], key=lambda k: (k.split()[0], GROUPS.index(k.split()[1]))):
        source, group = key.split()
        row = " ".join(f"{percent(*r[key]):>13}" for r in by_source)
        print(f"{source:<9} {group:<28} {row}")
    unqueried = sum(not c.fast for o in hashed for c in o.copies)
    unread = sum(not c.plain for o in hashed for c in o.copies)
    print(f"  (tutela could not hash {unqueried} copies; threatexchange could not read {unread})")
    peer, *others = sides
    for side in others:
        # Why a side lost what the peer found: never queried, or found too far away.
        lost = [
            i
            for i, copy in enumerate(copies)
            if (i, copy.original) in peer.matched and (i, copy.original) not in side.matched
        ]
        queried = set(side.query_owner.tolist())
        silent = sum(i not in queried for i in lost)
        print(
            f"  ({side.name} missed {len(lost)} copies that {peer.name} found: {silent} not "
            f"queried, {len(lost) - silent} beyond {THRESHOLD} bits)"
        )
    return by_group


def print_negatives(sides: Sequence[Side], copies: Sequence[Copy], n_originals: int) -> list[int]:
    """The false-match table; false (copy, original) pairs per side."""
    print("\nnegatives: each copy against every other original; quantiles of all comparisons")
    print(
        f"{'side':<14} {'comparisons':>12} {'≤ ' + str(THRESHOLD):>6} {'false pairs':>12} "
        f"{'min':>5} {'0.001%':>7} {'0.01%':>6} {'0.1%':>6}"
    )
    false_counts = []
    for side in sides:
        found = compare(side, copies, n_originals)
        rows, cols = np.nonzero(found.closest <= THRESHOLD)
        exhaustive = set(zip(rows.tolist(), cols.tolist(), strict=True))
        if side.matched != exhaustive:
            # The side's own matching code and an exhaustive search must agree, or the
            # harness (or the index) is wrong.
            print(
                f"  WARNING: {side.name}'s matching reported {len(side.matched)} pairs, "
                f"exhaustive search {len(exhaustive)}"
            )
        false = {(c, o) for c, o in side.matched if copies[c].original != o}
        false_counts.append(len(false))
        quantiles = " ".join(
            f"{found.quantile(q):>{w}}" for q, w in ((0, 5), (1e-5, 7), (1e-4, 6), (1e-3, 6))
        )
        print(
            f"{side.name:<14} {found.comparisons:>12,} {found.within(THRESHOLD):>6} "
            f"{len(false):>12} {quantiles}"
        )
    return false_counts


def print_variant_cost(robust: Side, crops: Side, hashed: Sequence[OriginalHashes]) -> None:
    """What indicator variants cost, against the same side without them in the same run."""
    media = sum(o.media_seconds for o in hashed)
    exact = sum(o.exact_seconds for o in hashed)
    print(
        f"\ncost of indicator variants ({crops.name} vs {robust.name}, same run): index codes "
        f"{crops.index_codes:,} vs {robust.index_codes:,} = "
        f"{crops.index_codes / max(1, robust.index_codes):.1f}×; the same lookups "
        f"{crops.lookup_seconds:.2f} s vs {robust.lookup_seconds:.2f} s = "
        f"{crops.lookup_seconds / max(1e-9, robust.lookup_seconds):.2f}×; add-media's hashing "
        f"of an original {media / max(1e-9, exact):.2f}× `tutela hash --exact`'s CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24 originals: a smoke run")
    parser.add_argument("--originals", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    count = 24 if args.quick else args.originals

    started = time.perf_counter()
    originals, notes = dev_set(count)
    hashed_all = hash_all(originals, args.workers)
    hashed = [h for h in hashed_all if h.quality >= MIN_QUALITY]
    if left_out := [h.name for h in hashed_all if h.quality < MIN_QUALITY]:
        notes.append(f"under PDQ's quality rule, left out: {', '.join(left_out)}")
    copies = [Copy(i, c.edit) for i, o in enumerate(hashed) for c in o.copies]
    kinds: dict[str, int] = defaultdict(int)
    for h in hashed:
        kinds[h.name.partition("-")[0]] += 1
    print(
        f"development set: {len(hashed)} originals "
        f"({', '.join(f'{n} {k}' for k, n in kinds.items())}), {len(EDITS)} edits, "
        f"{len(copies):,} copies; hashed in {time.perf_counter() - started:.0f} s"
    )
    for note in notes:
        print(f"  note: {note}")
    disagree = sum(h.plain != h.exact for h in hashed)
    print(f"  originals whose `tutela hash --exact` differs from threatexchange's: {disagree}")

    sides = [
        plain_side(hashed, copies, THRESHOLD),
        tutela_side(hashed, THRESHOLD),
        tutela_side(hashed, THRESHOLD, robust=True),
        tutela_side(hashed, THRESHOLD, robust=True, crops=True),
    ]
    by_group = print_recall(sides, copies, hashed)
    exact_pairs = exact_mode_pairs(hashed, THRESHOLD)
    queried = sum(1 for o in hashed for c in o.copies if c.fast)
    print(
        f"  (tutela: {sides[1].confirmed} of {queried} queries had a fast candidate within "
        f"±{CONFIRM_MARGIN} bits of the threshold and were hashed exactly; answers differing "
        f"from exact mode's: {len(sides[1].matched ^ exact_pairs)})"
    )
    print_quality_rule(hashed, copies)
    false_counts = print_negatives(sides, copies, len(hashed))
    pairs = len(copies) * (len(hashed) - 1)
    print(f"  ({pairs:,} unrelated (copy, original) pairs; tutela compares 8 variants per pair)")
    if pairs < 1_000_000:
        print("  (under 1,000,000 negative pairs: run the default size for the issue's figures)")
    print_variant_cost(sides[2], sides[3], hashed)
    print(f"done in {time.perf_counter() - started:.0f} s")

    (plain_found, plain_total), (ours_found, ours_total), *_ = by_group["easy"]
    ours, plain = ours_found / ours_total, plain_found / plain_total
    print(
        f"accuracy: tutela {100 * ours:.1f} % recall vs plain PDQ {100 * plain:.1f} % on easy edits "
        f"= {ours / plain:.3f}× (false matches: tutela {false_counts[1]}, tutela robust "
        f"{false_counts[2]}, robust+crops {false_counts[3]}, plain {false_counts[0]} in {pairs:,} "
        "negatives)"
    )


if __name__ == "__main__":
    main()
