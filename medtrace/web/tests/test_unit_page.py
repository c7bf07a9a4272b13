"""The unit page: header, lifecycle timeline by phase, corrections, both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from medtrace.quality.holds import hold_place
from medtrace.trace.tests import factories as f

from .unit_world import SHIPMENT, bt, capture, life, login, page, visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


def _phase_headings(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>.*", "", h).strip()
        for h in re.findall(r'<h3 id="phase-[^"]+-h">(.*?)</h3>', html, flags=re.S)
    ]


def _header_and_timeline(html: str) -> str:
    """The page's own text: header, phases, timeline and records (the genealogy graph apart)."""
    start = html.index('<article class="unit-page"')
    genealogy = html.index('<section class="unit-genealogy"')
    records = html.index('<section class="unit-records"')
    return visible_text(html[start:genealogy] + html[records:])


def test_the_header_shows_the_udi_product_registration_status_holder_and_location(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "H-1", user=qa_manager, installed=False)
    gtin = w.gtin(w.device)

    html = page(login(qa_manager), unit.epc)

    header = html[html.index('<header class="unit-head">') :]
    text = visible_text(header[: header.index("</header>")])
    assert f"(01){gtin}(21)H-1" in text  # the human-readable UDI, GS1 brackets
    assert 'src="/trace/datamatrix.svg?id=' in html
    assert "Infusion pump" in text and "IP-9" in text
    assert "国械注准20203140123" in text  # the NMPA registration number
    assert "注册证编号" in text
    # Disposition and status in words, never the raw CBV term.
    assert "处理中" in text and "收货" in text
    assert "in_progress" not in text and "receiving" not in text
    # The holder and the place by name, not as URNs.
    assert "第一人民医院" in text and "ICU" in text
    assert "urn:epc:id:sgln" not in text


def test_open_holds_concerning_the_unit_are_listed_with_a_link(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "H-2", user=qa_manager)
    [hold] = hold_place(targets=[unit.epc], reason="Label misprint", user=qa_manager)

    html = page(login(qa_manager), unit.epc, "en")

    text = visible_text(html)
    assert hold.number in text and "Label misprint" in text and "on hold" in text
    assert f'href="/records/quality.hold/{hold.pk}/"' in html


def test_the_timeline_has_the_eight_phases_in_order_with_what_when_where_who_and_document(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "T-1", user=qa_manager)

    html = page(login(qa_manager), unit.epc, "en")

    assert _phase_headings(html) == [
        "Procurement", "Production", "Quality", "Warehouse", "Distribution", "Use", "Service",
        "End of life",
    ]  # fmt: skip
    shipped = re.search(r'<li id="ev-\d+"[^>]*data-biz-step="shipping".*?</li>', html, re.S)
    assert shipped is not None
    step = visible_text(shipped.group(0))
    assert "Shipped" in step and "In transit" in step
    assert "2025-03-05 09:00" in step  # 09:00 Beijing time, as captured (+08:00)
    assert "FG warehouse" in step  # where: the location's name
    assert "Qa Manager" in step  # who: the printed name of the user who recorded it
    assert f"Shipment {SHIPMENT}" in step  # the linked document, by its number
    assert "to 第一人民医院" in step
    installed = re.search(r'<li id="ev-\d+"[^>]*data-biz-step="installing".*?</li>', html, re.S)
    assert installed is not None and "Installed" in visible_text(installed.group(0))
    assert html.index('id="phase-distribution"') < html.index('data-biz-step="installing"')


def test_a_document_of_ours_links_to_its_page(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "T-2", user=qa_manager)
    [hold] = hold_place(targets=[unit.epc], reason="Check", user=qa_manager)
    capture(
        f.obj([unit.epc], f.t(8), biz_step="inspecting", disposition="conformant",
              btt=[("testres", bt(w, hold.number))]),
        user=qa_manager,
    )  # fmt: skip

    html = page(login(qa_manager), unit.epc, "en")

    assert f'<a href="/records/quality.hold/{hold.pk}/">{hold.number}</a>' in html


def test_the_page_is_translated_in_chinese_and_in_english(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "T-3", user=qa_manager)
    client = login(qa_manager)

    chinese = _header_and_timeline(page(client, unit.epc, "zh-hans"))
    english = _header_and_timeline(page(client, unit.epc, "en"))

    chinese_words = (
        "采购", "生产", "质量", "仓储", "流通", "使用", "售后", "报废", "赋码启用", "发货",
        "在途", "安装", "已启用", "生命周期", "当前持有方", "文件与证书",
    )  # fmt: skip
    english_words = (
        "Procurement", "Production", "Commissioned", "Shipped", "In transit", "Installed",
        "Active", "Lifecycle", "Current holder", "Documents and certificates",
    )  # fmt: skip
    for word in chinese_words:
        assert word in chinese, word
    for word in english_words:
        assert word in english, word
    for raw in ("commissioning", "shipping", "in_transit", "installing", "end-of-life"):
        assert raw not in chinese and raw not in english, raw


def test_a_corrected_step_is_struck_through_with_its_reason_and_a_link_to_the_correction(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "C-1", user=qa_manager)
    wrong = f.obj([unit.epc], f.t(8), biz_step="inspecting", disposition="non_conformant")
    capture(wrong, user=qa_manager)
    right = f.obj([unit.epc], f.t(8, 10), biz_step="inspecting", disposition="conformant")

    capture(f.retract(wrong, f.t(9), corrective=[right["eventID"]]), right, user=qa_manager)

    html = page(login(qa_manager), unit.epc, "en")
    corrected = re.search(r'<li id="(ev-\d+)" class="unit-step is-corrected.*?</li>', html, re.S)
    correction = re.search(r'<li id="(ev-\d+)" class="unit-step is-correction.*?</li>', html, re.S)
    assert corrected is not None and correction is not None
    text = visible_text(corrected.group(0))
    assert "Corrected" in text and "Non-conformant" in text
    assert "Declared in error on 2025-03-09 09:00: its data were wrong." in text
    assert f'href="#{correction.group(1)}"' in corrected.group(0)
    assert f'href="#{corrected.group(1)}"' in correction.group(0)
    assert "Corrects an earlier record" in visible_text(correction.group(0))


def test_a_withdrawn_step_says_there_is_no_correcting_record(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "C-2", user=qa_manager)
    wrong = f.obj([unit.epc], f.t(8), biz_step="shipping", disposition="in_transit")
    capture(wrong, user=qa_manager)

    capture(f.retract(wrong, f.t(9), reason="did_not_occur"), user=qa_manager)

    chinese = visible_text(page(login(qa_manager), unit.epc))
    assert "已更正" in chinese and "该事件并未发生" in chinese
    assert "无更正记录：该步骤已撤销。" in chinese


def test_events_of_its_case_are_shown_as_such(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "V-1", user=qa_manager)

    html = page(login(qa_manager), unit.epc, "en")

    shipped = re.search(r'<li id="ev-\d+"[^>]*data-biz-step="shipping".*?</li>', html, re.S)
    assert shipped is not None and "is-related" in shipped.group(0)
    assert "while packed in" in visible_text(shipped.group(0))
    assert "urn:epc:id:sscc:" in shipped.group(0)


def test_a_lot_or_container_id_still_opens_the_trace_not_the_unit_page(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "V-2", user=qa_manager)
    case = unit.events[2]["parentID"]

    response = login(qa_manager).get("/trace/", {"id": case})

    assert response.status_code == 200
    assert 'class="unit-page"' not in response.content.decode()
