"""In the browser, on the demo: the unit's genealogy graph expands a node in place, and QA
opens a recall from a lot page (the recall form comes pre-filled with the lot)."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.ledger.models import UnitState

from .conftest import screenshot

pytestmark = pytest.mark.usefixtures("live")


def _a_pump() -> UnitState:
    unit = (
        UnitState.objects.filter(epc__startswith="urn:epc:id:sgtin:", product__model="IP-300")
        .exclude(lot=None)
        .exclude(lot="")
        .order_by("epc")
        .first()
    )
    assert unit is not None, "the demo has IP-300 pumps"
    return unit


def test_the_genealogy_graph_expands_a_node_in_place(sign_in: Any) -> None:
    pump = _a_pump()
    page = sign_in("qa", language="en")
    page.goto("/trace/?id=" + pump.epc)
    graph = page.locator("#genealogy")
    graph.wait_for()
    boxes = graph.locator("a[data-key]:not([data-key^='x:'])")
    before = boxes.count()
    expand = graph.locator("a.gx[data-fragment]").first
    expand.wait_for()
    url = page.url
    expand.click()
    page.wait_for_function(
        f"document.querySelectorAll('#genealogy a[data-key]:not([data-key^=\"x:\"])').length"
        f" > {before}"
    )
    assert boxes.count() > before
    assert "expand=" in page.url and page.url != url  # the address names the expanded node
    screenshot(page, "genealogy")


def test_qa_opens_a_recall_from_the_lot_page(sign_in: Any) -> None:
    pump = _a_pump()
    company, item, _serial = pump.epc.removeprefix("urn:epc:id:sgtin:").split(".")
    lot = f"urn:epc:class:lgtin:{company}.{item}.{pump.lot}"
    page = sign_in("qa", language="en")
    page.goto("/trace/lot/?id=" + lot)
    assert pump.lot and pump.lot in page.locator("main").inner_text()
    screenshot(page, "lot")
    with page.expect_navigation():
        page.click("#open-recall")
    page.wait_for_load_state("networkidle")
    assert "/recalls/new/" in page.url and "kind=lot" in page.url
    form = page.locator("main form").first
    assert pump.lot in form.inner_html()  # the lot is filled in
    assert pump.serial and pump.serial in page.locator("main").inner_text()  # scope preview
    screenshot(page, "recall-new")
