"""PDQ: exact mode is Meta's reference bit for bit; fast mode stays within a few bits of it."""

from __future__ import annotations

import hashlib
import io
import json
import statistics

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from conftest import TESTDATA as SHARED_TESTDATA
from tutela.signals import PdqMode, hash_media, pdq_of_bytes
from tutela.signals.pdq_fast import fast_pdq

TESTDATA = SHARED_TESTDATA / "pdq"
EXPECTED: dict[str, dict[str, object]] = json.loads((TESTDATA / "expected.json").read_text())


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def jpeg(pixels: np.ndarray, quality: int = 90, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def benign_photos() -> list[tuple[str, bytes]]:
    """Photos shipped with scikit-image at several sizes, as JPEG and PNG."""
    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        photo = Image.fromarray(np.asarray(getattr(skdata, name)())).convert("RGB")
        for scale in (0.5, 1.0, 3.0):
            size = (int(photo.width * scale), int(photo.height * scale))
            pixels = np.asarray(photo.resize(size, Image.Resampling.BICUBIC))
            out.append((f"{name}-x{scale}.jpg", jpeg(pixels)))
        buffer = io.BytesIO()
        photo.save(buffer, "PNG")
        out.append((f"{name}.png", buffer.getvalue()))
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_mode_reproduces_the_reference_vectors_bit_for_bit(name: str) -> None:
    expected = EXPECTED[name]
    signals = hash_media((TESTDATA / name).read_bytes(), mode=PdqMode.EXACT, dihedral=True)
    assert signals.pdq is not None
    assert signals.pdq.hash == expected["pdq"]
    assert signals.pdq.quality == expected["quality"]
    assert list(signals.pdq.dihedral or ()) == expected["pdq_dihedral"]
    assert signals.md5 == expected["md5"]
    assert signals.sha256 == expected["sha256"]


def test_fast_mode_stays_within_ten_bits_of_exact_on_photos_of_quality_80_or_more() -> None:
    files = [(name, (TESTDATA / name).read_bytes()) for name in sorted(EXPECTED)]
    distances = []
    for name, data in files + benign_photos():
        exact = pdq_of_bytes(data, mode=PdqMode.EXACT)
        if exact.quality < 80:
            continue
        distance = bits_apart(exact.hash, pdq_of_bytes(data, mode=PdqMode.FAST).hash)
        assert distance <= 10, name
        distances.append(distance)
    assert len(distances) >= 25
    assert statistics.mean(distances) <= 6


def test_fast_dihedral_variants_match_the_reference_variants() -> None:
    data = (TESTDATA / "aaa-orig.jpg").read_bytes()
    fast = pdq_of_bytes(data, mode=PdqMode.FAST, dihedral=True)
    expected = EXPECTED["aaa-orig.jpg"]["pdq_dihedral"]
    assert fast.dihedral is not None
    assert isinstance(expected, list)
    for ours, theirs in zip(fast.dihedral, expected, strict=True):
        assert bits_apart(ours, theirs) <= 10


def test_fast_mode_on_full_resolution_grey_equals_the_reference() -> None:
    grey = np.asarray(Image.open(TESTDATA / "aaa-orig.jpg").convert("L"))
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    exact = hash_media(_png(rgb), mode=PdqMode.EXACT, dihedral=True).pdq
    fast = fast_pdq(grey, stored_width=grey.shape[1], stored_height=grey.shape[0], dihedral=True)
    assert exact is not None and exact.dihedral is not None and fast.dihedral is not None
    assert fast.quality == exact.quality
    assert max(bits_apart(a, b) for a, b in zip(fast.dihedral, exact.dihedral, strict=True)) <= 2


def test_rotated_pixels_match_one_of_the_dihedral_variants() -> None:
    # scikit-image's data loaders carry no annotations.
    photo = np.asarray(skdata.astronaut())  # type: ignore[no-untyped-call]
    original = pdq_of_bytes(jpeg(photo), dihedral=True)
    rotated = pdq_of_bytes(jpeg(np.ascontiguousarray(np.rot90(photo))))
    assert original.dihedral is not None
    distances = [bits_apart(rotated.hash, variant) for variant in original.dihedral]
    # re-encoding the rotated pixels moves a few bits; far inside the matching threshold of 31
    assert distances[1] <= 16
    assert distances[1] == min(distances)
    assert distances[0] > 60


def test_featureless_image_is_hashed_but_marked_unmatchable() -> None:
    flat = np.full((300, 300, 3), 128, dtype=np.uint8)
    for mode in PdqMode:
        pdq = pdq_of_bytes(_png(flat), mode=mode)
        assert pdq.quality < 50
        assert not pdq.matchable
        assert pdq.as_dict()["matchable"] is False


def test_image_under_five_pixels_a_side_gets_quality_zero() -> None:
    tiny = np.zeros((3, 40, 3), dtype=np.uint8)
    for mode in PdqMode:
        pdq = pdq_of_bytes(_png(tiny), mode=mode)
        assert pdq.quality == 0
        assert not pdq.matchable


def test_exact_hashes_survive_a_file_that_is_not_an_image() -> None:
    data = b"%PDF-1.7 not an image"
    signals = hash_media(data)
    assert signals.pdq is None
    assert signals.error is not None and signals.error.code == "unsupported_format"
    assert signals.md5 == hashlib.md5(data).hexdigest()
    assert signals.sha1 == hashlib.sha1(data).hexdigest()
    assert signals.sha256 == hashlib.sha256(data).hexdigest()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_picture_too_small_to_hash_gets_the_all_zero_hash_in_fast_mode() -> None:
    # As the reference: under MIN_HASHABLE_SIDE pixels a side there is nothing to say.
    tiny = _png(np.full((3, 3, 3), 120, np.uint8))
    pdq = pdq_of_bytes(tiny, mode=PdqMode.FAST, dihedral=True)
    assert (pdq.hash, pdq.quality) == ("0" * 64, 0)
    assert pdq.dihedral == ("0" * 64,) * 8
    assert pdq_of_bytes(tiny, mode=PdqMode.FAST).dihedral is None
