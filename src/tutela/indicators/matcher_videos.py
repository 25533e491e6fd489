"""Video matching with vPDQ's semantics, over the Matcher's one PDQ index.

A banked video's distinct frames (quality ≥ 50, each PDQ once, as python-threatexchange's
VPDQIndex keeps them) are codes of the PDQ index that holds the image indicators too, all under
the video indicator's id. A query video is deduplicated the same way and its distinct frames go
through that index in one lookup (one query row per distinct frame). Each frame's hits are then:

- image indicators: the frame matched a banked image (a still of it in the video); reported
  with the times of the query frames that showed it;
- video indicators: candidates. For each, the shares are computed exactly, by comparing the
  query's distinct frames with the banked video's (popcounts over both sets): the query-match
  percentage (share of the query's frames within the bank's PDQ threshold of some banked frame)
  and the compared-match percentage (share of the banked video's frames within it of some query
  frame). The video matches when both reach the bank's thresholds; python-threatexchange's
  defaults are 80 % and 0 % at distance 31, quality ≥ 50 (vpdq_util's VPDQ_* constants).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tutela.signals.vpdq import VpdqFrame

# python-threatexchange's vPDQ defaults (threatexchange.extensions.vpdq.vpdq_util).
VPDQ_QUALITY_THRESHOLD = 50
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_COMPARED_MATCH_PERCENT = 0.0
# Frame times listed per match at most (a match's count of frames is always complete).
MAX_LISTED_FRAMES = 100
# Code pairs compared at once when scoring a candidate (bounds the temporary arrays).
_PAIR_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class FrameSet:
    """A video's distinct matchable frames: codes (n, 32) uint8, and for each the times of the
    frames that had it (first first)."""

    codes: np.ndarray
    times: tuple[tuple[float, ...], ...]

    def __len__(self) -> int:
        return len(self.times)


def frame_set(frames: Iterable[VpdqFrame]) -> FrameSet:
    """Quality-filtered, deduplicated frames, in first-seen order."""
    order: dict[str, list[float]] = {}
    for frame in frames:
        if frame.quality >= VPDQ_QUALITY_THRESHOLD:
            order.setdefault(frame.hash, []).append(frame.timestamp)
    codes = np.frombuffer(bytes.fromhex("".join(order)), np.uint8).reshape(-1, 32)
    return FrameSet(codes.copy(), tuple(tuple(times) for times in order.values()))


@dataclass(frozen=True, slots=True)
class FrameMatch:
    """A query frame (by its time; None for an image query) that matched, at `distance` from
    the banked frame (of a banked video: shown at `banked_time`)."""

    time: float | None
    distance: int
    banked_time: float | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"distance": self.distance}
        if self.time is not None:
            out["time"] = self.time
        if self.banked_time is not None:
            out["banked_time"] = self.banked_time
        return out


@dataclass(frozen=True, slots=True)
class VideoDetail:
    """What a match found in a video: vPDQ's two shares (of a banked video), the matched query
    frames' times (at most MAX_LISTED_FRAMES, earliest first) and how many there were."""

    frames: tuple[FrameMatch, ...]
    matched_frames: int
    query_match_percent: float | None = None
    compared_match_percent: float | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.query_match_percent is not None:
            out["query_match_percent"] = round(self.query_match_percent, 2)
        if self.compared_match_percent is not None:
            out["compared_match_percent"] = round(self.compared_match_percent, 2)
        out["matched_frames"] = self.matched_frames
        out["frames"] = [frame.as_dict() for frame in self.frames]
        return out


@dataclass(frozen=True, slots=True)
class VideoScore:
    query_match_percent: float
    compared_match_percent: float
    detail: VideoDetail
    distance: int


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances (len(a), len(b)) between two sets of 32-byte codes."""
    wa = np.ascontiguousarray(a).view(np.uint64)
    wb = np.ascontiguousarray(b).view(np.uint64)
    out = np.empty((len(wa), len(wb)), np.int32)
    step = max(1, _PAIR_BLOCK // max(1, len(wb)))
    for start in range(0, len(wa), step):
        block = wa[start : start + step, None, :] ^ wb[None, :, :]
        out[start : start + step] = np.bitwise_count(block).sum(axis=2, dtype=np.int32)
    return out


def score(query: FrameSet, banked: FrameSet, threshold: int) -> VideoScore | None:
    """vPDQ's shares of a query against one banked video; None when no frame pair is within
    `threshold`."""
    if not len(query) or not len(banked):
        return None
    table = distances(query.codes, banked.codes)
    nearest = table.argmin(axis=1)
    nearest_distance = table[np.arange(len(query)), nearest]
    query_hit = nearest_distance <= threshold
    if not query_hit.any():
        return None
    banked_hit = (table <= threshold).any(axis=0)
    frames = _in_time_order(
        FrameMatch(time, int(nearest_distance[i]), banked.times[int(nearest[i])][0])
        for i in np.flatnonzero(query_hit).tolist()
        for time in query.times[i]
    )
    query_pct = 100.0 * int(query_hit.sum()) / len(query)
    compared_pct = 100.0 * int(banked_hit.sum()) / len(banked)
    detail = VideoDetail(tuple(frames[:MAX_LISTED_FRAMES]), len(frames), query_pct, compared_pct)
    return VideoScore(query_pct, compared_pct, detail, int(nearest_distance[query_hit].min()))


def image_detail(query: FrameSet, hits: Sequence[tuple[int, int]]) -> VideoDetail:
    """The query frames (row, distance) that matched one banked image."""
    frames = _in_time_order(
        FrameMatch(time, distance) for row, distance in hits for time in query.times[row]
    )
    return VideoDetail(tuple(frames[:MAX_LISTED_FRAMES]), len(frames))


def nearest_frame(code: np.ndarray, banked: FrameSet) -> tuple[int, float]:
    """(distance, time) of a banked video's frame nearest to one code."""
    row = distances(code.reshape(1, 32), banked.codes)[0]
    best = int(row.argmin())
    return int(row[best]), banked.times[best][0]


def _in_time_order(frames: Iterable[FrameMatch]) -> list[FrameMatch]:
    return sorted(frames, key=lambda frame: (frame.time or 0.0, frame.distance))
