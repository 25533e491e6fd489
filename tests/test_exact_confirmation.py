"""Every path that hashes a file answers as exact mode does (issue 16: no recall lost to speed).

Uploads (the detection pipeline and intake), `tutela scan` and `POST /v1/match` hash in fast mode
and hand a file whose fast candidate lies within CONFIRM_MARGIN bits of a bank's limit back to
the hashing processes for an exact hash (tutela.detection.pipeline.Decider, fast_outcome). Here
edited copies of scikit-image photos and drawn pictures (no abuse material) go through the
pipeline's own hashing and deciding, against banks whose thresholds are spread so that many
copies sit near one, and every answer is compared with exact mode's.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import pytest
from PIL import Image, ImageEnhance, ImageFilter, ImageOps
from skimage import data as skdata

from provider_fixtures import drawn_image, in_process_client, jpeg, png
from tutela.db import Database
from tutela.detection.hasher import Hasher, HashJob, Result, hash_task
from tutela.detection.pipeline import Decider, outcome_of
from tutela.detection.verdicts import Outcome
from tutela.indicators.banks import create_bank
from tutela.indicators.ledger import add_indicator
from tutela.indicators.matcher import Matcher
from tutela.media import MediaLimits
from tutela.settings import Settings
from tutela.signals.base import hamming_hex
from tutela.signals.hashing import pdq_of_bytes
from tutela.signals.pdq import PdqMode

LIMITS = MediaLimits(decode_timeout_s=30)
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry")
# One bank per threshold, so that copies at every distance sit near some bank's limit; every
# other one robust (its robust variants are confirmed the same way), each with a review band.
THRESHOLDS = (6, 12, 18, 24, 31, 38, 46, 54, 62, 70)


def _rotated(image: Image.Image) -> bytes:
    return jpeg(image.rotate(3, Image.Resampling.BICUBIC, expand=True, fillcolor="black"), 90)


EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "half": lambda im: jpeg(im.resize((im.width // 2, im.height // 2)), 80),
    "third": lambda im: jpeg(im.resize((im.width // 3, im.height // 3)), 90),
    "blur": lambda im: jpeg(im.filter(ImageFilter.GaussianBlur(2)), 70),
    "q30": lambda im: jpeg(im, 30),
    "darker": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(0.7), 85),
    "border": lambda im: jpeg(ImageOps.expand(im, min(im.size) // 10, fill="white"), 90),
    "rotated": _rotated,
}


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


def originals() -> list[Image.Image]:
    return [photo(name) for name in PHOTOS] + [
        Image.open(io.BytesIO(jpeg(drawn_image(seed), 95))).convert("RGB") for seed in range(4)
    ]


def answer(outcome: Outcome) -> list[tuple[str, int, int, str | None, bool]]:
    return sorted(
        (m.bank, m.indicator_id, m.distance, m.variant, m.review) for m in outcome.matches
    )


def banked(database: Database, pictures: list[Image.Image]) -> Matcher:
    for index, threshold in enumerate(THRESHOLDS):
        name = f"t{threshold}"
        robust = index % 2 == 1
        create_bank(
            database, name, pdq_threshold=threshold, review_distance=threshold + 10, robust=robust
        )
        for picture in pictures:
            value = pdq_of_bytes(png(picture), mode=PdqMode.EXACT).hash
            add_indicator(database, name, "pdq", value)
    matcher = Matcher(database, use_snapshot=False)
    matcher.load()
    return matcher


@pytest.mark.slow
def test_the_pipeline_answers_every_edited_copy_exactly_as_exact_mode_does(
    database: Database,
) -> None:
    pictures = originals()
    matcher = banked(database, pictures)
    copies = [make(picture) for picture in pictures for make in EDITS.values()]
    decider = Decider(matcher)
    asked: list[int] = []

    def confirm(key: int, result: Result) -> bool:
        needs = decider.needs_exact(key, result)
        if needs:
            asked.append(key)
        return needs

    jobs = (HashJob(key, data, robust=matcher.robust) for key, data in enumerate(copies))
    with Hasher(LIMITS, workers=2) as hasher:
        hashed = hasher.hash_many(jobs, confirm=confirm)
        got = {key: decider.outcome(key, result) for key, result in hashed}
    assert sorted(got) == list(range(len(copies)))
    fast_alone_wrong = 0
    for key, data in enumerate(copies):
        exact_job = HashJob(key, data, exact=True, robust=True)
        exact = outcome_of(matcher, hash_task(exact_job, limits=LIMITS))
        assert answer(got[key]) == answer(exact), f"copy {key}"
        fast = outcome_of(matcher, hash_task(HashJob(key, data, robust=True), limits=LIMITS))
        fast_alone_wrong += answer(fast) != answer(exact)
    # The test has teeth: fast mode alone answers some copies wrongly, and they were confirmed.
    assert fast_alone_wrong > 0
    # (With banks up to 70 bits wide and the picture-box variants, every copy here has some
    # candidate near a limit, so all may be confirmed; that copies far from every limit are
    # not is not checked here.)
    assert len(asked) > 0


def test_a_file_matched_over_http_is_answered_as_exact_mode_where_fast_mode_alone_is_not(
    settings: Settings, database: Database
) -> None:
    # A copy whose fast distance differs from its exact one, and a bank whose threshold sits
    # between them: fast mode alone would answer wrongly.
    original = photo("astronaut")
    reference = pdq_of_bytes(png(original), mode=PdqMode.EXACT).hash
    for edit in ("blur", "q30", "half", "third", "darker"):
        data = EDITS[edit](original)
        e = hamming_hex(reference, pdq_of_bytes(data, mode=PdqMode.EXACT).hash)
        f = hamming_hex(reference, pdq_of_bytes(data, mode=PdqMode.FAST).hash)
        if e != f:
            break
    else:
        pytest.fail("no copy whose fast distance differs from its exact one")
    create_bank(database, "between", pdq_threshold=min(e, f))
    add_indicator(database, "between", "pdq", reference)

    async def post() -> dict[str, object]:
        async with in_process_client(settings, database) as client:
            reply = await client.post("/v1/match", files={"file": ("copy.jpg", data)})
            assert reply.status_code == 200
            body: dict[str, object] = reply.json()
            return body

    matches = asyncio.run(post())["matches"]
    assert isinstance(matches, list)
    if e <= f:  # exact mode matches at e; fast alone would not have (f > threshold) or differ
        assert [m["distance"] for m in matches] == [e]
    else:  # exact mode does not match; fast mode alone would have, at f
        assert matches == []
