"""In the browser: sign in, scan a UDI into the scan box on any page, see the unit's life."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.ledger.models import UnitState

from .conftest import screenshot

pytestmark = pytest.mark.usefixtures("live")


def _a_shipped_unit() -> UnitState:
    state = (
        UnitState.objects.filter(
            epc__startswith="urn:epc:id:sgtin:", biz_step="shipping", product__isnull=False
        )
        .exclude(serial="")
        .order_by("epc")
        .first()
    )
    assert state is not None, "the demo has serialized units"
    return state


def test_scanning_a_udi_opens_the_unit_with_its_timeline(sign_in: Any) -> None:
    unit = _a_shipped_unit()
    page = sign_in("qa")
    page.goto("/")
    box = page.locator("#scan-input")
    box.fill(unit.epc)
    box.press("Enter")
    page.wait_for_load_state("networkidle")

    assert unit.serial in page.content()
    screenshot(page, "unit")


def test_a_bad_scan_shows_the_parser_reason(sign_in: Any) -> None:
    page = sign_in("qa", language="en")
    page.goto("/")
    page.fill("#scan-input", "(01)09506000134353(21)")
    page.press("#scan-input", "Enter")
    page.wait_for_load_state("networkidle")

    # The parser's own reason, word for word.
    assert "GTIN check digit should be 2, got 3" in page.locator("main").inner_text()
