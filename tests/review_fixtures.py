"""Fixtures for the review and enforcement tests: benign photos that ship with scikit-image
(an astronaut, a cup of coffee, a cat, a rocket) stand in for known material (DESIGN rule 1).

Not a test module.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata
from sqlalchemy.exc import SADeprecationWarning

from password_hashing import CHEAP
from provider_fixtures import make_bank
from tutela.auth import passwords
from tutela.auth.users import create_user
from tutela.db.database import Database, open_database
from tutela.detection.hasher import Hasher
from tutela.detection.items import accept_signals, accept_upload, get_item
from tutela.detection.pipeline import process_batch
from tutela.indicators.matcher import Matcher
from tutela.master_key import generate_master_key
from tutela.settings import Settings

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
PASSWORD = "correct horse battery staple"
# name → roles: two reviewers (for four eyes and complaints), a senior, and the other roles.
PEOPLE = {
    "rita": ("reviewer",),
    "remy": ("reviewer",),
    "sena": ("senior_reviewer",),
    "sami": ("senior_reviewer",),
    "aldo": ("auditor",),
    "ada": ("administrator",),
    "cora": ("compliance_officer",),
}
METADATA = {
    "account_id": "account-7",
    "username": "uploader7",
    "upload_ip": "192.0.2.7",
    "upload_port": 50123,
    "uploaded_at": "2025-03-01T10:00:00+01:00",
    "service": "photos",
}
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def photo(name: str) -> Image.Image:
    pixels = getattr(skdata, name)()
    image = Image.fromarray(pixels)
    return image.convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def with_vault(settings: Settings) -> Settings:
    return dataclasses.replace(settings, vault_key=generate_master_key().encode())


def add_people(database: Database) -> None:
    for name, roles in PEOPLE.items():
        create_user(database, name, PASSWORD, roles, actor="test")


def detect(database: Database, settings: Settings, names: tuple[str, ...]) -> list[int]:
    """Upload a re-encoded copy of each banked photo and run detection; return the case ids."""
    ids = [
        accept_upload(
            database,
            f"upload-{name}",
            {"item_id": f"upload-{name}", **METADATA},
            jpeg_bytes(photo(name)),
        ).id
        for name in names
    ]
    _run_detection(database, settings)
    cases = [get_item(database, ident).case_id for ident in ids]
    assert all(case is not None for case in cases)
    return [int(case) for case in cases if case is not None]


def detect_hash_only(database: Database, settings: Settings, name: str) -> int:
    from tutela.signals.hashing import pdq_of_bytes
    from tutela.signals.pdq import PdqMode

    value = pdq_of_bytes(jpeg_bytes(photo(name)), mode=PdqMode.EXACT).hash
    ident = accept_signals(
        database, f"hashes-{name}", {"item_id": f"hashes-{name}", **METADATA}, {"pdq": value}
    ).id
    _run_detection(database, settings)
    case = get_item(database, ident).case_id
    assert case is not None
    return int(case)


def _run_detection(database: Database, settings: Settings) -> None:
    matcher = Matcher(database)
    matcher.load()
    # The detection pipeline is being reworked by its owner; a deprecation warning from inside it
    # (SQLAlchemy 2.1's Result.tuples) is not what these tests are about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SADeprecationWarning)
        with Hasher(settings.media, workers=1) as hasher:
            while process_batch(database, hasher, matcher, worker="test", limit=16, lease_s=60):
                pass


@pytest.fixture
def review_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Database, Settings]]:
    """A SQLite node with a verified bank of the photos, a vault key and the people above."""
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP)
    settings = with_vault(Settings(data_dir=tmp_path / "data"))
    database = open_database(settings)
    make_bank(database, "known", [photo(name) for name in PHOTOS])
    add_people(database)
    try:
        yield database, settings
    finally:
        database.close()
        passwords._dummy_hash.cache_clear()
