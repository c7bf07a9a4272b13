"""The unit page's records, partner scoping, its DataMatrix, and its bounded cost."""

from __future__ import annotations

import re
from typing import Any

import pytest
import zxingcpp
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageDraw

from medtrace.audit.signatures import signature_apply
from medtrace.lifecycle.certificate import certificate_issue
from medtrace.masterdata.tests import factories as md
from medtrace.quality.holds import hold_place
from medtrace.quality.models import Hold
from medtrace.trace.tests import factories as f

from .unit_world import SHIPMENT, bt, capture, life, login, page, visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h3", start + 1)
    return html[start : end if end > 0 else len(html)]


def test_records_list_certificates_signatures_and_the_audit_history(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "R-1", user=qa_manager)
    cert = certificate_issue(id=unit.epc, user=qa_manager)
    [hold] = hold_place(targets=[unit.epc], reason="Label check", user=qa_manager)
    signature_apply(record=hold, meaning="approved", user=qa_manager, password="pw-qa_manager")

    html = page(login(qa_manager), unit.epc, "en")

    documents = _section(html, "unit-documents-h")
    assert cert.number in documents and "Traceability certificate" in documents
    assert f'href="/api/v1/certificates/{cert.number}/pdf"' in documents
    signatures = visible_text(_section(html, "unit-signatures-h"))
    assert hold.number in signatures and "approved" in signatures
    assert "Qa Manager" in signatures and "valid" in signatures
    audit = visible_text(_section(html, "unit-audit-h"))
    assert cert.number in audit  # the certificate's issue
    assert hold.number in audit and "Label check" in audit  # the hold, with its reason
    assert "captured ledger events" in audit  # the captures that stored its events


def test_a_signature_on_a_record_changed_since_is_shown_invalid(
    w: f.World, qa_manager: Any
) -> None:
    unit = life(w, "R-2", user=qa_manager)
    [hold] = hold_place(targets=[unit.epc], reason="Label check", user=qa_manager)
    signature_apply(record=hold, meaning="approved", user=qa_manager, password="pw-qa_manager")
    Hold.objects.filter(pk=hold.pk).update(reason="changed behind the signature")

    html = page(login(qa_manager), unit.epc, "en")

    signatures = visible_text(_section(html, "unit-signatures-h"))
    assert "invalid: the record changed after signing" in signatures


def test_a_hospital_sees_its_own_unit_and_nothing_of_other_parties(
    w: f.World, hospital_a: Any, hospital_b: Any
) -> None:
    ward_a = md.location(owner=hospital_a.party, kind="site", ref=1, name="Ward A")
    unit = life(w, "P-1", hospital=hospital_a.party, ward=ward_a)
    other = life(w, "P-2")  # shipped to the world's own hospital

    html = page(login(hospital_a), unit.epc, "en")

    text = visible_text(html)
    assert "Ward A" in text  # its own place by name
    assert "深圳迈瑞康医疗" in text  # the maker, where the maker's plant is
    assert "Plant" not in text and "FG warehouse" not in text  # not the maker's site names
    assert "Audit history" not in text and "Electronic signatures" not in text
    assert login(hospital_a).get("/trace/", {"id": other.epc}).status_code == 404
    assert login(hospital_b).get("/trace/", {"id": unit.epc}).status_code == 404
    assert login(hospital_b).get("/trace/datamatrix.svg", {"id": unit.epc}).status_code == 404


def _decode_svg(svg: str) -> Any:
    """Paint the SVG's module runs (M x y h w ...) on a bitmap and read it with zxing-cpp."""
    box = [int(v) for v in re.search(r'viewBox="([-\d ]+)"', svg).group(1).split()]  # type: ignore[union-attr]
    scale, (x0, y0, width, height) = 8, box
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)", svg):
        left, top = (int(x) - x0) * scale, (int(y) - y0) * scale
        draw.rectangle((left, top, left + int(run) * scale - 1, top + scale - 1), fill=0)
    [found] = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.HRI)
    return found


def test_the_datamatrix_is_a_gs1_datamatrix_of_the_units_udi(w: f.World, qa_manager: Any) -> None:
    unit = life(w, "D-1", user=qa_manager)
    client = login(qa_manager)

    response = client.get("/trace/datamatrix.svg", {"id": unit.epc})
    again = client.get(
        "/trace/datamatrix.svg", {"id": unit.epc}, HTTP_IF_NONE_MATCH=response["ETag"]
    )

    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert "max-age" in response["Cache-Control"]
    symbol = _decode_svg(response.content.decode())
    assert symbol.symbology_identifier == "]d2"  # a GS1 DataMatrix (FNC1 first)
    assert symbol.text == f"(01){w.gtin(w.device)}(21)D-1"
    assert again.status_code == 304


def _queries(client: Any, epc: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        html = page(client, epc, "en")
    return len(captured.captured_queries), html


def _lived(w: f.World, serial: str, count: int, user: Any) -> str:
    """A unit with exactly ``count`` events: made, stored count - 3 times, shipped with its
    despatch advice, received at the hospital."""
    unit = w.device_sn(serial)
    hospital = [("possessing_party", w.pgln(w.hospital))]
    capture(
        f.commission([unit], f.t(1), read_point=w.plant.sgln),
        *[f.obj([unit], f.t(2, n % 24), biz_step="storing", location=w.warehouse.sgln)
          for n in range(count - 3)],
        f.obj([unit], f.t(5), biz_step="shipping", disposition="in_transit",
              read_point=w.warehouse.sgln, btt=[("desadv", bt(w, SHIPMENT))],
              sources=[("possessing_party", w.pgln(w.maker))], destinations=hospital),
        f.obj([unit], f.t(6), biz_step="receiving", location=w.ward.sgln,
              sources=[("possessing_party", w.pgln(w.maker))], destinations=hospital),
        user=user,
    )  # fmt: skip
    return unit


def test_the_unit_page_costs_the_same_queries_for_3_or_60_events(
    w: f.World, qa_manager: Any, django_assert_max_num_queries: Any
) -> None:
    short, long = _lived(w, "Q-1", 3, qa_manager), _lived(w, "Q-2", 60, qa_manager)
    client = login(qa_manager)
    page(client, short)  # warm: session, permissions, translations

    (few, short_html), (many, long_html) = _queries(client, short), _queries(client, long)

    assert '<span class="count">3</span>' in short_html
    assert '<span class="count">60</span>' in long_html
    assert few == many
    # 26 statements on SQLite, 32 on PostgreSQL (transactions, SET LOCAL): session, user and
    # menu, the trace's walks, one batch of the page's small reads, signatures, audit history.
    with django_assert_max_num_queries(32):
        page(client, long, "en")


def test_an_hibc_unit_gets_its_hibc_data_and_a_plain_datamatrix() -> None:
    from datetime import date

    from medtrace.web.unit_symbol import symbol_svg, unit_udi

    udi = unit_udi(
        epc="urn:medtrace:hibc:K123.PS6510:SN001", gtin=None, serial="SN001", lot="L1",
        expiry=date(2030, 1, 1), manufactured=None, pi_elements=["expiry", "lot", "serial"],
    )  # fmt: skip

    assert udi is not None and not udi.gs1
    assert udi.hri == udi.data and udi.data.startswith("+K123PS6510/$$3300101L1/SSN001")
    symbol = _decode_svg(symbol_svg(udi.data, gs1=False))
    assert (symbol.symbology_identifier, symbol.text) == ("]d1", udi.data)
