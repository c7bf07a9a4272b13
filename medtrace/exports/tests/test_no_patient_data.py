"""Patient data is never in any export (DESIGN §8, PIPL/GDPR).

The world holds patient data where medtrace keeps it: two implant records (name, ID number,
phone: encrypted at rest) and a complaint whose complainant is named with a phone number. Every
export format is fetched as bytes, by staff and by the hospitals, XLSX files unzipped, and
scanned for the values, their masked forms and their JSON-escaped spellings.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from medtrace.complaints.models import Complaint
from medtrace.lib import personal
from medtrace.service.models import ImplantRecord

from .factories import (
    COMPLAINANT,
    COMPLAINANT_CONTACT,
    PATIENT_ID,
    PATIENT_NAME,
    PATIENT_PHONE,
    ExportWorld,
)
from .helpers import body, partner, session_client, staff, token_client, xlsx_text
from .test_lists import PAGES

pytestmark = pytest.mark.django_db

SECRETS = (
    PATIENT_NAME,
    PATIENT_ID,
    PATIENT_PHONE,
    COMPLAINANT,
    COMPLAINANT_CONTACT,
    personal.mask_name(PATIENT_NAME),
    personal.mask_id_number(PATIENT_ID),
    personal.mask_phone(PATIENT_PHONE),
    personal.mask_name(COMPLAINANT),
)


def _spellings(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def _text(response: Any) -> str:
    data = body(response)
    if data[:2] == b"PK":  # XLSX: a zip of XML parts
        return xlsx_text(data)
    return data.decode("utf-8")


def _exports(ew: ExportWorld) -> list[tuple[str, Any, str]]:
    """(who, client, url) of every export."""
    admin = staff("np_admin", "admin")
    staff_token = token_client(admin)
    staff_session = session_client(admin)
    hospitals = [
        ("hospital_a", ew.w.hospital),
        ("hospital_b", ew.hospital_b),
    ]
    out: list[tuple[str, Any, str]] = []
    for name in ("cn-udi-di", "gudid", "eudamed"):
        for fmt in ("json", "xlsx"):
            out.append(("admin", staff_token, f"/api/v1/exports/{name}?format={fmt}"))
    out.append(("admin", staff_token, "/api/v1/fhir/Device?_count=1000"))
    for epc in ew.units.values():
        out.append(("admin", staff_token, f"/api/v1/fhir/Device/{quote(epc, safe='')}"))
    for url in PAGES.values():
        for fmt in ("csv", "xlsx"):
            joined = f"{url}{'&' if '?' in url else '?'}format={fmt}"
            out.append(("admin", staff_session, joined))
    for who, party in hospitals:
        user = partner(f"np_{who}", party)
        token, session = token_client(user), session_client(user)
        out.append((who, token, "/api/v1/fhir/Device"))
        for url in ("/products/", "/implants/", "/complaints/"):
            for fmt in ("csv", "xlsx"):
                out.append((who, session, f"{url}?format={fmt}"))
    return out


def test_the_world_really_holds_patient_data(ew: ExportWorld) -> None:
    record = ImplantRecord.objects.get(unit_epc=ew.epc("at_a"))
    assert (record.patient_name, record.patient_id_number) == (PATIENT_NAME, PATIENT_ID)
    assert Complaint.objects.filter(complainant_name=COMPLAINANT).exists()


def test_no_export_contains_patient_data(ew: ExportWorld) -> None:
    checked = 0
    for who, client, url in _exports(ew):
        response = client.get(url)
        assert response.status_code == 200, (who, url, response.status_code)
        text = _text(response)
        assert text.strip(), (who, url)
        for secret in SECRETS:
            for spelling in _spellings(secret):
                assert spelling not in text, f"{who} {url} contains {secret!r}"
        checked += 1
    # 6 DI files, 1 bundle + 6 devices, 2 files per list page, per hospital 1 bundle + 6 files.
    assert checked == 6 + 7 + 2 * len(PAGES) + 2 * 7


def test_the_implant_list_export_still_names_the_units(ew: ExportWorld) -> None:
    client = session_client(staff("np_service", "service"))

    text = _text(client.get("/implants/?format=csv"))

    assert ew.epc("at_a") in text and ew.epc("at_b") in text
