from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import translation

from medtrace.masterdata.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Master data, users and the event stream (the department stories have their own tests),
    loaded once for the module, which only reads them, in a transaction rolled back at its end;
    each test runs in a savepoint inside it (pytest-django's ``db``)."""
    from medtrace.masterdata.demo.load import load_demo

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with translation.override("en"):
                load_demo(log=lambda _line: None, lifecycle=False)
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password="medtrace-demo")
    return client


def test_the_home_page_asks_anonymous_visitors_to_sign_in(demo: None) -> None:
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_home_page_lists_the_demo_products_in_chinese_by_default(demo: None) -> None:
    response = _login("qa").get("/")

    html = response.content.decode()
    assert response.status_code == 200
    for product in Product.objects.all():
        assert product.name in html
        assert product.nmpa_registration_no in html
    assert 'lang="zh-hans"' in html


def test_a_product_page_shows_its_dis_bom_and_a_label(demo: None) -> None:
    product = Product.objects.get(model="IP-300")
    client = _login("qa")

    response = client.get(f"/products/{product.pk}/")
    label = client.get(
        f"/products/{product.pk}/label.svg?serial=SAMPLE0001&manufactured=2025-01-01"
    )

    html = response.content.decode()
    assert product.identifiers.get().di in html
    assert "M-MOTOR-24" in html
    assert label.status_code == 200 and label["Content-Type"] == "image/svg+xml"


def test_scanning_a_bad_udi_shows_the_parsers_reason(demo: None) -> None:
    response = _login("warehouse").get("/scan/", {"code": "(01)00844588003289"})

    assert response.status_code == 422
    assert "check digit" in response.content.decode()


def test_scanning_a_demo_udi_opens_its_product(demo: None) -> None:
    product = Product.objects.get(model="FS-12")
    di = product.identifiers.get().di

    response = _login("warehouse").get("/scan/", {"code": f"(01){di}(17)300101(10)L1(21)S1"})

    assert response.status_code == 200
    assert product.name in response.content.decode()


def test_the_ui_stays_chinese_for_an_english_browser_until_english_is_chosen(demo: None) -> None:
    client = _login("qa")

    before = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    after = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert 'lang="zh-hans"' in before.content.decode()
    assert 'lang="en"' in after.content.decode()
    assert "Infusion pump" in after.content.decode()


def test_api_errors_are_english_unless_the_client_asks_for_chinese(demo: None) -> None:
    client = _login("qa")

    english = client.get("/api/v1/identify", {"udi": "(01)00844588003289"})
    chinese = client.get(
        "/api/v1/identify", {"udi": "(01)00844588003289"}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    )

    assert english.status_code == chinese.status_code == 422
    assert english["Content-Language"] == "en"
    assert chinese["Content-Language"] == "zh-hans"


def test_scanning_a_unit_opens_its_life_story(demo: None) -> None:
    from medtrace.ledger.models import UnitState

    # A pump of the event stream (serials P…), which went all the way to a hospital.
    pump = (
        UnitState.objects.filter(product__model="IP-300", serial__startswith="P")
        .order_by("epc")
        .first()
    )
    assert pump is not None
    client = _login("qa")

    scan = client.get("/scan/", {"code": f"(01){pump.gtin}(21){pump.serial}"})
    page = client.get(scan["Location"])

    html = page.content.decode()
    assert scan.status_code == 302
    assert page.status_code == 200
    assert pump.serial is not None and pump.serial in html
    assert "installing" in html and "commissioning" in html
    assert "24V 步进电机" in html  # a component from the backward trace


def test_a_lot_page_lists_the_units_it_reached_by_holder(demo: None) -> None:
    client = _login("qa")

    page = client.get("/trace/", {"id": "urn:epc:class:lgtin:6920002.000005.PS00000"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "苏州市第一人民医院" in html or "南京市中心医院" in html
    assert "urn:epc:id:sgtin:6901234.010001.P00000001" in html


def test_an_unknown_unit_gives_a_clear_error_page(demo: None) -> None:
    page = _login("qa").get("/trace/", {"id": "urn:epc:id:sgtin:6901234.010001.NOPE"})

    assert page.status_code == 404
