"""The unit page on a tablet (768 px) and a handheld (360 px): nothing wider than the screen
(the genealogy graph and the phase bar scroll inside themselves), the DataMatrix drawn, the
phase bar and the records reachable; screenshots of both widths."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.ledger.models import UnitState

from .conftest import screenshot

pytestmark = pytest.mark.usefixtures("live")

OVERFLOW = """() => [...document.querySelectorAll('main *')]
  .filter(e => !e.closest('svg, .unit-phase-nav, .genealogy, .table-wrap')
               && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map(e => e.tagName + '.' + e.className).slice(0, 5)"""


def _a_repaired_pump() -> str:
    """A pump of the department stories: made, shipped, installed, maintained, repaired."""
    state = (
        UnitState.objects.filter(
            product__model="IP-300", serial__startswith="P", biz_step="repairing"
        ).first()
        or UnitState.objects.filter(product__model="IP-300").order_by("epc").first()
    )
    assert state is not None
    return state.epc


@pytest.mark.parametrize("width", [768, 360])
def test_the_unit_page_fits_a_tablet_and_a_handheld(sign_in: Any, width: int) -> None:
    epc = _a_repaired_pump()
    page = sign_in("qa", viewport={"width": width, "height": 900})

    page.goto(f"/trace/?id={epc}")
    page.wait_for_load_state("networkidle")

    assert page.evaluate(OVERFLOW) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    symbol = page.locator(".unit-symbol img")
    assert symbol.evaluate("img => img.complete && img.naturalWidth > 0")
    assert symbol.bounding_box()["width"] >= 96  # a scanner can still read it off the screen
    page.click(".unit-phase-nav a[href='#phase-use']")
    assert page.locator("#phase-use").is_visible()
    assert page.locator("#unit-records").is_visible()
    screenshot(page, f"unit-{width}")


def test_a_hospital_reads_its_own_unit_on_a_handheld(sign_in: Any) -> None:
    from medtrace.accounts import scoping
    from medtrace.accounts.models import User

    user = User.objects.get(username="hospital_a")
    own = scoping.scope_units(user, UnitState.objects.filter(product__isnull=False))
    state = own.order_by("epc").first()
    assert state is not None, "the demo ships units to hospital_a"
    page = sign_in("hospital_a", viewport={"width": 360, "height": 900})

    page.goto(f"/trace/?id={state.epc}")
    page.wait_for_load_state("networkidle")

    assert page.evaluate("document.documentElement.scrollWidth") <= 361
    assert page.locator(".unit-head h1").is_visible()
    assert page.locator("#unit-audit-h").count() == 0  # the maker's audit trail is internal
