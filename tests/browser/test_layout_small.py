"""The layout on a tablet (768 px) and a handheld (360 px): nothing wider than the screen but
the tables, which scroll inside themselves; the skip link then the scan box lead the focus
order; a hospital user's home is its portal (screenshots of both widths)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.usefixtures("live")

OVERFLOW = """() => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('table, .table-wrap, nav, svg') && e.getBoundingClientRect().right
               > document.documentElement.clientWidth + 1)
  .map(e => e.tagName + '.' + e.className).slice(0, 5)"""


@pytest.mark.parametrize("width", [768, 360])
def test_the_portal_fits_a_tablet_and_a_handheld(sign_in: Any, width: int) -> None:
    page = sign_in("hospital_a", viewport={"width": width, "height": 800})
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/portal/")
    assert page.evaluate(OVERFLOW) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "scan-input"
    assert page.locator("#scan-input").is_visible()
    screenshot(page, f"portal-{width}")
