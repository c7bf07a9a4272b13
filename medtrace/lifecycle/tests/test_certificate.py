"""The traceability certificate (issue 5 item 7): one PDF per unit with the UDI, the whole
lifecycle, the genealogy, the inspections and releases with signatures, the current holder and a
verification hash that anyone can check against the issuer's copy."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client

from medtrace.lifecycle import events as ev
from medtrace.lifecycle.certificate import certificate_issue, certificate_verify
from medtrace.lifecycle.models import TraceCertificate
from medtrace.quality import services as quality
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


@pytest.fixture
def made(w: f.World, qa_manager: Any) -> dict[str, str]:
    unit, board = w.device_sn("TC1"), w.board_sn("B1")
    ev.emit(
        [
            ev.object_event(
                action="ADD", epcs=[board, unit], biz_step="commissioning", disposition="active",
                biz_location=w.plant.sgln, ilmd={"cbvmda:lotNumber": "L24"},
            ),
            ev.transformation_event(
                input_quantities=[ev.quantity(w.resin_lot("R9"), 2, "KGM")], outputs=[board],
                biz_step="assembling", transactions=[ev.bt("prodorder", "WO-1")],
            ),
            ev.association_event(
                action="ADD", parent=unit, children=[board], biz_step="assembling"
            ),
            ev.object_event(
                epcs=[unit], biz_step="inspecting", disposition="conformant",
                read_point=w.plant.sgln,
            ),
        ],
        user=None,
    )  # fmt: skip
    quality.release_create(targets=[unit], user=qa_manager, password="pw-qa_manager")
    ev.emit(
        [
            ev.object_event(
                epcs=[unit], biz_step="shipping", disposition="in_transit",
                sources=ev.parties("source", owner=w.maker, holder=w.maker),
                destinations=ev.parties("destination", owner=w.hospital, holder=w.hospital),
            ),
            ev.object_event(
                epcs=[unit], biz_step="receiving", disposition="in_progress",
                biz_location=w.ward.sgln,
                sources=ev.parties("source", owner=w.maker, holder=w.maker),
                destinations=ev.parties("destination", owner=w.hospital, holder=w.hospital),
            ),
        ],
        user=None,
    )  # fmt: skip
    return {"unit": unit, "board": board}


def test_the_certificate_holds_the_whole_record(w: f.World, made: dict[str, str]) -> None:
    cert = certificate_issue(id=made["unit"], user=None)
    c = cert.content
    assert c["unit"]["udi"] == f"(01){w.gtin(w.device)}(10)L24(21)TC1"
    assert c["unit"]["product"]["name"] == "Infusion pump"
    assert [e["biz_step"] for e in c["lifecycle"]] == [
        "commissioning", "assembling", "assembling", "inspecting", "inspecting", "shipping",
        "receiving",
    ]  # fmt: skip
    assert c["lifecycle"][0]["where"] == "Plant" and c["lifecycle"][-1]["where"] == "ICU"
    # The board's assembly (a part installed into the unit) is part of the unit's life.
    assert c["lifecycle"][1]["documents"][0].startswith("prodorder:urn:epcglobal:cbv:bt:")
    parts = {g["epc"]: g for g in c["genealogy"]}
    assert set(parts) == {made["board"], w.resin_lot("R9")}
    assert parts[made["board"]]["relation"] == "associated"
    assert c["current"]["holder"] == w.hospital.name
    (release,) = c["releases"]
    assert release["signatures"][0]["meaning"] == "released"
    assert release["signatures"][0]["printed_name"] == "Qa Manager"
    assert cert.number.startswith("TC-") and len(cert.sha256) == 64


def test_verify_tells_intact_and_current(w: f.World, made: dict[str, str]) -> None:
    cert = certificate_issue(id=made["unit"], user=None)
    assert certificate_verify(cert, user=None) | {"changed_sections": []} == {
        "number": cert.number, "epc": made["unit"], "sha256": cert.sha256, "intact": True,
        "current": True, "changed_sections": [],
    }  # fmt: skip
    ev.emit([ev.object_event(epcs=[made["unit"]], biz_step="installing")], user=None)
    result = certificate_verify(cert, user=None)
    assert result["intact"] is True and result["current"] is False
    assert "lifecycle" in result["changed_sections"]
    table = TraceCertificate._meta.db_table
    with connection.cursor() as cursor:  # an attacker edits the stored copy
        cursor.execute(f"UPDATE {table} SET content = %s WHERE id = %s", ['{"x": 1}', cert.pk])
    cert.refresh_from_db()
    assert certificate_verify(cert, user=None)["intact"] is False


def test_api_and_page_give_the_pdf(
    w: f.World, made: dict[str, str], qa_manager: Any, hospital_a: Any
) -> None:
    client = Client()
    client.force_login(qa_manager)
    url = f"/api/v1/units/{quote(made['unit'], safe='')}/certificate"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    cert = TraceCertificate.objects.get(sha256=response["X-Certificate-SHA256"])
    data = client.get(url + "?format=json").json()
    assert data["content"]["unit"]["serial"] == "TC1" and data["number"] != cert.number
    assert client.get(f"/api/v1/certificates/{cert.number}").json()["sha256"] == cert.sha256
    assert client.get(f"/api/v1/certificates/{cert.number}/verify").json()["intact"] is True
    pdf = client.get(f"/api/v1/certificates/{cert.number}/pdf?lang=en")
    assert pdf.content.startswith(b"%PDF") and pdf["X-Certificate-SHA256"] == cert.sha256
    page = client.get(f"/trace/certificate/?id={quote(made['unit'], safe='')}")
    assert page.status_code == 200 and page.content.startswith(b"%PDF")
    # A partner outside the unit's custody learns nothing, not even that it exists.
    client.force_login(hospital_a)
    assert client.get(url).status_code == 404
    assert client.get(f"/api/v1/certificates/{cert.number}").status_code == 404


def test_a_lot_has_no_unit_certificate(w: f.World, made: dict[str, str]) -> None:
    from medtrace.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="not a serialized unit"):
        certificate_issue(id=w.resin_lot("R9"), user=None)
