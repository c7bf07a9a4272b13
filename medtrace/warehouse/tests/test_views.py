"""The warehouse pages, driven like a keyboard-wedge scanner: one scan per POST (Enter)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from medtrace.quality import services as quality
from medtrace.warehouse import services
from medtrace.warehouse.models import Container, StockCount, StockMove

from .factories import Site, in_days, make, site, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Site:
    return site()


@pytest.fixture
def browser(warehouse_clerk: Any) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    client.force_login(warehouse_clerk)
    return client


def items(html: str) -> list[str]:
    return re.findall(r'name="item" value="([^"]+)"', html)


def errors(html: str) -> list[str]:
    return re.findall(r'<p[^>]*class="error[^"]*"[^>]*>([^<]+)</p>', html)


def test_home_shows_stock_and_is_internal(
    s: Site, browser: Client, qa_manager: Any, hospital_a: Any
) -> None:
    stock(s, qa_manager, "P1", expiry=in_days(40))

    page = browser.get("/warehouse/")

    assert page.status_code == 200
    html = page.content.decode()
    assert s.w.device.model in html and in_days(40) in html and s.a01.code in html
    assert 'id="scan-input"' in html  # the global scan box of the header
    partner = Client()
    partner.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page texts below are the sources
    partner.force_login(hospital_a)
    assert partner.get("/warehouse/").status_code == 403
    assert Client().get("/warehouse/").status_code == 302


def test_the_packing_station_collects_scans_refuses_in_red_and_closes_with_a_label(
    s: Site, browser: Client, warehouse_clerk: Any
) -> None:
    units = make(s, "P1", "P2", "P3")
    boxed = services.container_create(user=warehouse_clerk)
    services.container_pack(container=boxed, children=["P3"], user=warehouse_clerk)

    first = browser.post("/warehouse/pack/", {"level": "case", "scan": "P1", "action": "add"})
    assert first.status_code == 200 and "autofocus" in first.content.decode()
    second = browser.post(
        "/warehouse/pack/", {"level": "case", "scan": "P2", "item": items(first.content.decode())}
    )
    collected = items(second.content.decode())
    assert collected == units[:2]
    refused = browser.post("/warehouse/pack/", {"level": "case", "scan": "P3", "item": collected})
    assert refused.status_code == 422
    assert errors(refused.content.decode()) == [
        f"Cannot pack P3 into the new case: it is already packed in SSCC {boxed.sscc}; unpack "
        "it from there first"
    ]
    assert items(refused.content.decode()) == collected  # the good scans are kept

    closed = browser.post(
        "/warehouse/pack/", {"level": "case", "action": "close", "item": collected}
    )

    assert closed.status_code == 302
    case = Container.objects.exclude(pk=boxed.pk).get()
    assert closed["Location"] == f"/warehouse/containers/{case.sscc}/?print=1"
    assert case.status == "closed"
    page = browser.get(closed["Location"]).content.decode()
    assert f"/warehouse/containers/{case.sscc}/label.png" in page and "window.print()" in page
    label = browser.get(f"/warehouse/containers/{case.sscc}/label.pdf")
    assert label.status_code == 200 and label["Content-Type"] == "application/pdf"


def test_the_move_page_moves_the_collected_scans(s: Site, browser: Client) -> None:
    make(s, "P1", at=s.line)
    added = browser.post("/warehouse/move/", {"scan": "P1", "to_location": s.a01.pk})
    assert items(added.content.decode()) == [s.sn("P1")]

    moved = browser.post(
        "/warehouse/move/", {"action": "move", "item": [s.sn("P1")], "to_location": s.a01.pk}
    )

    assert moved.status_code == 302
    move = StockMove.objects.get()
    assert move.to_location == s.a01
    assert move.number in browser.get(moved["Location"]).content.decode()


def test_the_pick_page_shows_fefo_blocks_in_red_and_takes_an_override(
    s: Site, browser: Client, qa_manager: Any
) -> None:
    stock(s, qa_manager, "SOON", expiry=in_days(30))
    stock(s, qa_manager, "LATE", expiry=in_days(300))
    (held,) = stock(s, qa_manager, "HELD", expiry=in_days(10))
    quality.hold_place(targets=[held], reason="dented", user=qa_manager)
    made = browser.post(
        "/warehouse/pick-lists/", {"product": s.w.device.pk, "quantity": "1", "ref": "SO-9"}
    )
    assert made.status_code == 302
    url = made["Location"]
    page = browser.get(url).content.decode()
    assert "SOON" in page and "HELD" not in page

    blocked = browser.post(url, {"scan": "HELD"})
    assert blocked.status_code == 422
    (message,) = errors(blocked.content.decode())
    assert message.startswith("Cannot pick HELD: it ") and "on QC hold HOLD-" in message
    assert "dented" in message

    later = browser.post(url, {"scan": "LATE"})
    assert later.status_code == 409
    html = later.content.decode()
    assert "pick SOON first" in errors(html)[0] and 'name="override_reason"' in html

    done = browser.post(url, {"scan": "LATE", "override_reason": "customer wants long date"})
    assert done.status_code == 302
    assert "customer wants long date" in browser.get(url).content.decode()


def test_the_count_page_scans_and_reconciles(s: Site, browser: Client) -> None:
    make(s, "P1", "P2")
    started = browser.post("/warehouse/counts/", {"location": s.a01.pk})
    assert started.status_code == 302
    url = started["Location"]

    browser.post(url, {"scan": "P1"})
    page = browser.get(url).content.decode()
    assert "Missing" in page and "P2" in page
    posted = browser.post(url, {"action": "reconcile"})

    assert posted.status_code == 302
    count = StockCount.objects.get()
    assert (count.status, count.matched, count.missing) == ("reconciled", 1, 1)
    assert "is reconciled: 1 matched, 1 missing, 0 unexpected" in browser.get(url).content.decode()
