"""What a lookup reads: one published, unchanging state of the Matcher (`MatcherView`).

The Matcher applies changes to a private working copy and then publishes a new view by
replacing one reference (an atomic store under the interpreter), so lookups take no lock: each
reads whichever view was current when it began, from start to end, while a refresh builds the
next one beside it. The indices share their arrays with the working copy until it changes them
(`fork()`: codes are appended past a view's end, removals and re-indexing copy the masks first),
so publishing costs no copy of a large index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tutela.errors import InvalidInput
from tutela.indicators.matcher_entries import BankRule, EntryTable
from tutela.indicators.matcher_variants import VariantSet, match_variant
from tutela.indicators.matcher_videos import (
    FrameMatch,
    FrameSet,
    VideoDetail,
    frame_set,
    image_detail,
    score,
)
from tutela.indicators.video_banks import VPDQ
from tutela.matching import ExactIndex, PdqIndex
from tutela.signals.pdq import (
    DIHEDRAL_NAMES,
    LOW_QUALITY_DISTANCE,
    LOW_QUALITY_FLOOR,
    MIN_MATCHABLE_QUALITY,
    QUALITY_MARGIN,
    PdqHash,
    PdqSignal,
)
from tutela.signals.registry import get_signal_type
from tutela.signals.vpdq import VpdqFrame

__all__ = ["MatchResult", "MatcherView", "pdq_codes"]

PDQ = PdqSignal.name
PDQ_BYTES = PdqSignal.hex_length // 2
# The qualities where a query's matching changes (tutela.signals.pdq).
_QUALITY_RULES = (LOW_QUALITY_FLOOR, MIN_MATCHABLE_QUALITY)


@dataclass(frozen=True, slots=True)
class MatchResult:
    bank: str
    indicator_id: int
    signal_type: str
    distance: int
    # Which variant matched: the query's (a dihedral one, or a robust one), and after a "/" the
    # indicator's when one of its variants (tutela.indicators.variants) was nearest.
    variant: str | None = None
    # True when the distance is past the bank's threshold but inside its review band.
    review: bool = False
    # A video's match (tutela.indicators.matcher_videos): vPDQ's shares, the frames' times.
    video: VideoDetail | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "bank": self.bank,
            "indicator_id": self.indicator_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
        }
        if self.signal_type == PDQ:
            out["variant"] = self.variant or DIHEDRAL_NAMES[0]
        if self.review:
            out["review"] = True
        if self.video is not None:
            out["video"] = self.video.as_dict()
        return out


@dataclass(frozen=True, slots=True)
class MatcherView:
    """The enabled banks' rules and indices as of change `seq`. Never changed once published:
    any number of threads may read it at once."""

    seq: int = 0
    rules: Mapping[int, BankRule] = field(default_factory=dict)
    entries: EntryTable = field(default_factory=EntryTable)
    pdq: PdqIndex = field(default_factory=PdqIndex)
    exact: Mapping[str, ExactIndex] = field(default_factory=dict)
    # Video indicators' distinct frames, by indicator id (their codes are in `pdq`).
    videos: Mapping[int, FrameSet] = field(default_factory=dict)
    # PDQ indicators' variants, by indicator id (their codes are in `pdq` too).
    variants: Mapping[int, VariantSet] = field(default_factory=dict)

    @property
    def robust(self) -> bool:
        return any(rule.robust for rule in self.rules.values())

    # -- the three lookups ----------------------------------------------------------------------

    def match_hashes(
        self,
        signal_type: str,
        canonical: list[str],
        dihedral_variants: Sequence[Sequence[str]] | None,
        include_review: bool,
    ) -> list[list[MatchResult]]:
        """Matches for each (validated) value, nearest first (see Matcher.match_hashes)."""
        if signal_type == PDQ:
            return self._match_pdq(canonical, dihedral_variants, include_review)
        if get_signal_type(signal_type).perceptual:
            raise InvalidInput(f"matching {signal_type} is not supported")
        index = self.exact.get(signal_type)
        if index is None:
            return [[] for _ in canonical]
        found = index.query([bytes.fromhex(value) for value in canonical])
        return [self._exact_results(signal_type, ids) for ids in found]

    def match_rows(
        self, signal_type: str, rows: np.ndarray, include_review: bool
    ) -> dict[int, list[MatchResult]]:
        """Matches of many validated hashes (rows of bytes), nearest first, by row; a row that
        matches nothing is absent (see Matcher.match_batch)."""
        if signal_type != PDQ:
            canonical = [row.tobytes().hex() for row in rows]
            found = self.match_hashes(signal_type, canonical, None, include_review)
            return {row: matches for row, matches in enumerate(found) if matches}
        if not self.rules or len(self.pdq) == 0:
            return {}
        query_rows, ids, distances = self.pdq.query_flat(rows, self._radius(include_review))
        by_row: dict[int, list[tuple[int, int, int]]] = {}
        for row, ident, distance in zip(
            query_rows.tolist(), ids.tolist(), distances.tolist(), strict=True
        ):
            by_row.setdefault(row, []).append((ident, distance, 0))
        answers = {}
        for row, hits in by_row.items():
            results = self._pdq_results(hits, include_review, rows[row : row + 1])
            if results:
                answers[row] = results
        return answers

    def match_pdq(
        self, pdq: PdqHash, include_review: bool, margin: int
    ) -> list[MatchResult] | None:
        """Matches of one query's PDQ (see Matcher.match_pdq)."""
        main = list(pdq.dihedral) if pdq.dihedral else [pdq.hash]
        checked = [PdqSignal.validate(v) for v in main]
        robust = [(name, PdqSignal.validate(v)) for name, v in pdq.robust or ()]
        if not self.rules or len(self.pdq) == 0:
            return []
        # A fast quality may lie a few points from exact mode's: near the rule or the floor, any
        # candidate sends the query to exact mode, which knows its side.
        near = QUALITY_MARGIN if margin else 0
        if pdq.quality < LOW_QUALITY_FLOOR - near:
            return []  # too featureless to match at all
        unsure = any(rule - near <= pdq.quality < rule + near for rule in _QUALITY_RULES)
        low = pdq.quality < MIN_MATCHABLE_QUALITY and not unsure
        radius = LOW_QUALITY_DISTANCE if low else self._radius(include_review)
        codes = pdq_codes(checked)
        if len(checked) == len(DIHEDRAL_NAMES):
            found = self.pdq.query_dihedral(codes, radius + margin)
        else:
            found = [(i, d, 0) for i, d in self.pdq.query(codes, radius + margin)[0]]
        if unsure and found:
            return None
        if low:
            return self._low_quality_results(found, margin, codes)
        if margin and self._near_a_limit(found, margin, include_review):
            return None
        results = self._pdq_results(found, include_review, codes)
        if robust and self.robust:
            extra = self._robust_results(robust, radius, include_review, margin)
            if extra is None:
                return None
            known = {result.indicator_id for result in results}
            results += [result for result in extra if result.indicator_id not in known]
        return results

    def match_video(self, frames: Sequence[VpdqFrame], include_review: bool) -> list[MatchResult]:
        """Matches of a video's frames (see Matcher.match_video)."""
        query = frame_set(frames)
        if not len(query) or not self.rules or len(self.pdq) == 0:
            return []
        hits = self.pdq.query(query.codes, self._radius(include_review))
        images: dict[int, list[tuple[int, int]]] = {}
        candidates: set[int] = set()
        for row, found in enumerate(hits):
            for ident, distance in found:
                rule = self.rules.get(self.entries.bank_of(ident))
                if rule is None:
                    continue
                if ident in self.videos:
                    if distance <= rule.pdq_threshold:
                        candidates.add(ident)
                elif distance <= rule.pdq_threshold or (include_review and distance <= rule.radius):
                    images.setdefault(ident, []).append((row, distance))
        videos = self._video_results(query, candidates)
        stills = []
        for ident, rows in images.items():
            rule = self.rules[self.entries.bank_of(ident)]
            distance = min(d for _, d in rows)
            review = distance > rule.pdq_threshold
            detail = image_detail(query, rows)
            stills.append(MatchResult(rule.name, ident, PDQ, distance, None, review, detail))
        order = sorted(videos, key=lambda r: (r.distance, r.indicator_id))
        return order + sorted(stills, key=lambda r: (r.distance, r.indicator_id))

    # -- internals ------------------------------------------------------------------------------

    def _radius(self, include_review: bool) -> int:
        return max(
            rule.radius if include_review else rule.pdq_threshold for rule in self.rules.values()
        )

    def _video_results(self, query: FrameSet, candidates: set[int]) -> list[MatchResult]:
        results = []
        for ident in sorted(candidates):
            rule = self.rules[self.entries.bank_of(ident)]
            found = score(query, self.videos[ident], rule.pdq_threshold)
            if (
                found is None
                or found.query_match_percent < rule.vpdq_query_match
                or found.compared_match_percent < rule.vpdq_compared_match
            ):
                continue
            results.append(
                MatchResult(rule.name, ident, VPDQ, found.distance, None, False, found.detail)
            )
        return results

    def _low_quality_results(
        self, found: list[tuple[int, int, int]], margin: int, codes: np.ndarray
    ) -> list[MatchResult] | None:
        """Matches of a query under PDQ's quality rule: within LOW_QUALITY_DISTANCE and its
        bank's threshold, no review band, no robust variants (see tutela.signals.pdq)."""
        if margin:
            for ident, distance, _ in found:
                rule = self.rules.get(self.entries.bank_of(ident))
                limit = min(rule.pdq_threshold, LOW_QUALITY_DISTANCE) if rule else None
                if limit is not None and abs(distance - limit) <= margin:
                    return None
        within = [hit for hit in found if hit[1] <= LOW_QUALITY_DISTANCE]
        return self._pdq_results(within, False, codes)

    def _near_a_limit(
        self, found: list[tuple[int, int, int]], margin: int, include_review: bool
    ) -> bool:
        """Whether any candidate lies within `margin` bits of its bank's threshold, or of its
        review distance when the review band is asked for."""
        for ident, distance, _ in found:
            rule = self.rules.get(self.entries.bank_of(ident))
            if rule is None:
                continue
            limits = [rule.pdq_threshold]
            if include_review and rule.review_distance is not None:
                limits.append(rule.review_distance)
            if any(abs(distance - limit) <= margin for limit in limits):
                return True
        return False

    def _robust_results(
        self, variants: list[tuple[str, str]], radius: int, include_review: bool, margin: int = 0
    ) -> list[MatchResult] | None:
        """Matches of robust variants in robust banks, each indicator once (nearest variant);
        None when, with `margin`, a candidate in a robust bank lies that near a limit."""
        codes = pdq_codes([value for _, value in variants])
        hits = self.pdq.query(codes, radius + margin)
        best: dict[int, tuple[int, str, int]] = {}
        for position, ((name, _), row) in enumerate(zip(variants, hits, strict=True)):
            for ident, distance in row:
                if ident not in best or distance < best[ident][0]:
                    best[ident] = (distance, name, position)
        if margin:
            robust_found = [
                (ident, distance, 0)
                for ident, (distance, _, _) in best.items()
                if (rule := self.rules.get(self.entries.bank_of(ident))) and rule.robust
            ]
            if self._near_a_limit(robust_found, margin, include_review):
                return None
        results = []
        for ident, (distance, name, position) in sorted(best.items(), key=lambda item: item[1][0]):
            rule = self.rules.get(self.entries.bank_of(ident))
            if rule is None or not rule.robust or ident in self.videos:
                continue
            review = distance > rule.pdq_threshold
            if review and not (include_review and distance <= rule.radius):
                continue
            named = self._named(ident, name, codes[position])
            results.append(MatchResult(rule.name, ident, PDQ, distance, named, review))
        return results

    def _match_pdq(
        self,
        values: list[str],
        variants: Sequence[Sequence[str]] | None,
        include_review: bool,
    ) -> list[list[MatchResult]]:
        if variants is None:
            by_row = self.match_rows(PDQ, pdq_codes(values), include_review)
            return [by_row.get(row, []) for row in range(len(values))]
        if not self.rules or len(self.pdq) == 0:
            return [[] for _ in values]
        radius = self._radius(include_review)
        found, queries = [], []
        for eight in variants:
            checked = [PdqSignal.validate(v) for v in eight]
            queries.append(pdq_codes(checked))
            found.append(self.pdq.query_dihedral(queries[-1], radius))
        return [
            self._pdq_results(row, include_review, codes)
            for row, codes in zip(found, queries, strict=True)
        ]

    def _named(self, ident: int, query_variant: str, query: np.ndarray) -> str | None:
        """The match's variant name: the query's, and the indicator's variant that was nearest
        to it when the indicator has variants (matcher_variants)."""
        found = self.variants.get(ident)
        if found is None:
            return query_variant
        return match_variant(query_variant, found.nearest(query))

    def _pdq_results(
        self, row: list[tuple[int, int, int]], include_review: bool, codes: np.ndarray
    ) -> list[MatchResult]:
        """Results of index hits (id, distance, row of `codes` that found it)."""
        results = []
        for ident, distance, variant in row:
            rule = self.rules.get(self.entries.bank_of(ident))
            if rule is None:
                continue
            review = distance > rule.pdq_threshold
            if review and not (include_review and distance <= rule.radius):
                continue
            name = self._named(ident, DIHEDRAL_NAMES[variant], codes[variant])
            if ident in self.videos:
                # An image showing a frame of a banked video (a still taken from it).
                still = VideoDetail((FrameMatch(None, distance),), 1)
                results.append(MatchResult(rule.name, ident, VPDQ, distance, name, review, still))
                continue
            results.append(MatchResult(rule.name, ident, PDQ, distance, name, review))
        return results

    def _exact_results(self, signal_type: str, ids: list[int]) -> list[MatchResult]:
        results = []
        for ident in ids:
            rule = self.rules.get(self.entries.bank_of(ident))
            if rule is not None:
                results.append(MatchResult(rule.name, ident, signal_type, 0))
        return results


def pdq_codes(values: list[str]) -> np.ndarray:
    """Validated PDQ hex strings as rows of 32 bytes."""
    return np.frombuffer(bytes.fromhex("".join(values)), np.uint8).reshape(-1, PDQ_BYTES)
