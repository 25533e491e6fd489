"""The provider's order queue in a real browser (Debian's chromium driven by Playwright): the
countdown ticks down in the page by the console's own script, the clock moved past 50 % shows
the first mark, and a countdown left running just short of 90 % crosses to the second mark by
itself; then the compliance officer files an impediment through the form. Screenshots go to
test-output/order-queue/."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from browser_fixtures import CHROMIUM, LAUNCH_ARGS, needs_chromium, screenshots
from password_hashing import cheap_argon2  # noqa: F401  (a fixture)
from test_order_queue_console import PASSWORD, T0, Queue
from test_order_queue_console import queue as queue  # a fixture

pytestmark = [needs_chromium, pytest.mark.usefixtures("cheap_argon2")]
SHOTS = screenshots("order-queue")


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/ui/login")
    page.wait_for_selector("input[name=name]:focus")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/home")


def seconds_left(text: str) -> int:
    """'23 h 58 min 59 s' as seconds."""
    hours, _, minutes, _, seconds, _ = text.split()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


def test_the_countdown_ticks_and_crosses_50_and_90_percent(queue: Queue) -> None:
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # A missing resource other than the browser's own favicon request is an error.
            page.on(
                "response",
                lambda r: (
                    errors.append(r.url)
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            sign_in(page, queue.base, "cora")
            page.click("text=Received orders")
            page.wait_for_url("**/ui/order-queue")
            remaining = page.locator(f"tr[data-order='{queue.order_id}'] .remaining")
            mark = page.locator(f"tr[data-order='{queue.order_id}'] .mark")
            first = seconds_left(remaining.inner_text())
            assert 23 * 3600 + 58 * 60 <= first <= 23 * 3600 + 59 * 60
            assert mark.is_hidden()
            time.sleep(2.2)
            later = seconds_left(remaining.inner_text())
            assert 1 <= first - later <= 4  # it ticks, by the page's own script
            page.screenshot(path=str(SHOTS / "1-running.png"))

            queue.clock.set(T0 + timedelta(hours=12, seconds=1))
            page.reload()
            assert mark.inner_text() == "50 %" and mark.is_visible()
            assert seconds_left(remaining.inner_text()) <= 12 * 3600
            page.screenshot(path=str(SHOTS / "2-half.png"))

            # Two seconds short of 90 %: the page crosses the mark while it is open.
            queue.clock.set(T0 + timedelta(hours=21, minutes=36) - timedelta(seconds=2))
            page.reload()
            assert mark.inner_text() == "50 %"
            expect(mark).to_have_text("90 %", timeout=6000)  # polled; the CSP forbids eval
            assert "late" in (mark.get_attribute("class") or "")
            page.screenshot(path=str(SHOTS / "3-ninety.png"))

            queue.clock.set(T0 + timedelta(hours=21, minutes=40))  # the server's time moves on
            page.click(f"tr[data-order='{queue.order_id}'] a")
            page.wait_for_url(f"**/ui/order-queue/{queue.order_id}")
            row = page.locator(f"tr[data-item='{queue.item_ids[2]}']")
            row.locator("select[name=reason]").select_option("de_facto_impossibility")
            row.locator("input[name=explanation]").fill("Placeholder: storage unreachable.")
            row.locator("button").click()
            page.wait_for_selector(f"tr[data-item='{queue.item_ids[2]}'] .pill.late")
            assert "de facto impossibility" in row.inner_text()
            # Two items still await removal: the order stays on the clock.
            assert page.locator("#countdown .mark").inner_text() == "90 %"
            page.screenshot(path=str(SHOTS / "4-impediment.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
