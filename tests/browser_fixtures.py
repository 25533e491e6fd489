"""Driving Debian's chromium with Playwright in the console tests. Not a test module.

Playwright cannot download its own browsers here; it drives /usr/bin/chromium (`make browser`
installs it) with the flags a closed, headless, root-run machine needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Browser tests belong to the full tier (`make test-all`); conftest skips them without chromium.
needs_chromium = pytest.mark.browser


def screenshots(name: str) -> Path:
    """Where a browser test leaves its screenshots (test-output/NAME, kept for people to look at)."""
    folder = Path(__file__).resolve().parents[1] / "test-output" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
