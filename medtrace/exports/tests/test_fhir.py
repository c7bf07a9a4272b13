"""FHIR R4 Device resources and Bundles: structure (validated with fhir.resources), value sets,
status from the unit's state, partner scoping."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device

from medtrace.exports import fhir
from medtrace.lib import udi
from medtrace.masterdata.tests import factories as md
from medtrace.trace.tests import factories as f

from .factories import ExportWorld
from .helpers import body, partner, staff, token_client

pytestmark = pytest.mark.django_db

# FHIR R4 (4.0.1) rules the model classes do not check: the required value sets of Device and
# Bundle, and the primitive formats (R4 datatypes page).
DEVICE_STATUS = {"active", "inactive", "entered-in-error", "unknown"}
UDI_ENTRY_TYPE = {"barcode", "rfid", "manual", "card", "self-reported", "unknown"}
DEVICE_NAME_TYPE = {
    "udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name",
    "model-name", "other",
}  # fmt: skip
DATE_TIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3])"
    r":[0-5][0-9]|14:00)))?)?)?"
)
ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")


def check_r4_device(resource: dict[str, Any]) -> None:
    """Valid against the R4 Device structure and its required bindings; never patient data."""
    Device.model_validate(resource)  # R4B's Device has R4's elements, types and cardinalities
    assert resource["resourceType"] == "Device"
    assert ID.fullmatch(resource["id"])
    assert resource["status"] in DEVICE_STATUS
    for carrier in resource.get("udiCarrier", []):
        assert carrier["entryType"] in UDI_ENTRY_TYPE
        assert carrier["issuer"].startswith("http")
    for name in resource.get("deviceName", []):
        assert name["type"] in DEVICE_NAME_TYPE
    for key in ("manufactureDate", "expirationDate"):
        if key in resource:
            assert DATE_TIME.fullmatch(resource[key]), resource[key]
    assert "patient" not in resource


def _get(client: Any, url: str) -> tuple[int, dict[str, Any]]:
    response = client.get(url)
    if response.status_code == 200:
        assert response["Content-Type"].startswith("application/fhir+json")
    return response.status_code, json.loads(body(response))


def test_every_unit_is_a_valid_r4_device(ew: ExportWorld) -> None:
    client = token_client(staff("fx_qa", "qa_ra"))

    status, bundle = _get(client, "/api/v1/fhir/Device?_count=1000")

    assert status == 200
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset"
    resources = [e["resource"] for e in bundle["entry"]]
    assert {r["identifier"][0]["value"] for r in resources} >= set(ew.units.values())
    for resource in resources:
        check_r4_device(resource)


def test_a_device_carries_the_udi_and_the_unit_facts(ew: ExportWorld) -> None:
    client = token_client(staff("fx_sv", "service"))

    status, device = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('at_a'), safe='')}")

    assert status == 200
    check_r4_device(device)
    assert device["udiCarrier"] == [
        {
            "deviceIdentifier": ew.gtin,
            "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
            "jurisdiction": "https://udi.nmpa.gov.cn",
            "carrierHRF": f"(01){ew.gtin}(17)2027-03-31(10)L2503A(21)CS0001",
            "entryType": "barcode",
        }
    ]
    assert device["status"] == "active"
    assert (device["lotNumber"], device["serialNumber"]) == ("L2503A", "CS0001")
    assert (device["manufactureDate"], device["expirationDate"]) == ("2025-03-02", "2027-03-31")
    assert device["manufacturer"] == "深圳迈瑞康医疗"
    assert (device["modelNumber"], device["partNumber"]) == ("CS-3018", "REF-CS3018")
    assert {"name": "瑞通", "type": "udi-label-name"} in device["deviceName"]
    assert device["type"]["coding"][0] == {"system": fhir.GMDN_SYSTEM, "code": "47896"}
    assert device["owner"] == {
        "identifier": {"system": fhir.GLN_SYSTEM, "value": ew.w.hospital.gln},
        "display": "第一人民医院",
    }
    assert device["location"]["display"] == "第一人民医院 ICU"
    assert device["identifier"][0] == {"system": "urn:ietf:rfc:3986", "value": ew.epc("at_a")}


def test_the_device_id_reads_the_device_back_and_any_udi_form_works(ew: ExportWorld) -> None:
    client = token_client(staff("fx_wh", "warehouse"))
    _status, device = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('at_b'), safe='')}")

    assert fhir.epc_from_fhir_id(device["id"]) == ew.epc("at_b")
    for ident in (device["id"], quote(f"(01){ew.gtin}(21)CS0003", safe="")):
        status, again = _get(client, f"/api/v1/fhir/Device/{ident}")
        assert status == 200 and again["id"] == device["id"]


def test_fhir_ids_round_trip_serials_with_any_gs1_character() -> None:
    for serial in ("AB-12.3", "x/y_z!%", "A:B", "Ω1"):
        epc = udi.sgtin_urn("06901234003017", serial, 7) if serial != "Ω1" else "urn:x:Ω1"
        rid = fhir.fhir_id(epc)
        assert rid is not None and ID.fullmatch(rid)
        assert fhir.epc_from_fhir_id(rid) == epc


def test_status_follows_the_unit_state(ew: ExportWorld) -> None:
    client = token_client(staff("fx_qc", "qc"))

    _s, destroyed = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('destroyed'), safe='')}")
    _s, in_stock = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('in_stock'), safe='')}")

    assert destroyed["status"] == "inactive"
    assert in_stock["status"] == "active"
    assert in_stock["location"]["display"] == "深圳迈瑞康医疗 Plant"


def test_a_unit_whose_events_were_all_retracted_is_entered_in_error(ew: ExportWorld) -> None:
    ghost = udi.sgtin_urn(ew.gtin, "GHOST1", 7)
    commissioned = f.commission([ghost], f.t(3), location=ew.w.plant.sgln)
    f.capture(commissioned)
    f.capture(f.retract(commissioned, f.t(4)))
    client = token_client(staff("fx_qa2", "qa_ra"))

    status, device = _get(client, f"/api/v1/fhir/Device/{quote(ghost, safe='')}")

    assert status == 200, device
    check_r4_device(device)
    assert device["status"] == "entered-in-error"
    assert device["serialNumber"] == "GHOST1"


def test_a_hospital_reads_its_own_devices_only(ew: ExportWorld) -> None:
    client = token_client(partner("fx_hosp_a", ew.w.hospital))

    status, bundle = _get(client, "/api/v1/fhir/Device")
    assert status == 200
    Bundle.model_validate(bundle)
    assert bundle["total"] == 2
    assert {e["resource"]["serialNumber"] for e in bundle["entry"]} == {"CS0001", "CS0002"}

    status, _body = _get(client, f"/api/v1/fhir/Device?holder={ew.hospital_b.gln}")
    assert status == 404  # another hospital's devices: as if it did not exist
    status, _body = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('at_b'), safe='')}")
    assert status == 404


def test_a_partner_does_not_learn_where_a_unit_went_after_it_left_them(ew: ExportWorld) -> None:
    client = token_client(partner("fx_dist", ew.w.distributor))

    status, device = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('at_a'), safe='')}")

    assert status == 200  # it passed through the distributor
    assert "owner" not in device and "location" not in device
    _s, own = _get(client, f"/api/v1/fhir/Device/{quote(ew.epc('at_dist'), safe='')}")
    assert own["owner"]["display"] == "华东医疗器械经销"


def test_staff_list_the_devices_at_a_holder_page_by_page(ew: ExportWorld) -> None:
    client = token_client(staff("fx_sales", "sales"))

    status, bundle = _get(client, f"/api/v1/fhir/Device?organization={ew.w.hospital.gln}&_count=1")
    assert status == 200 and bundle["total"] == 2 and len(bundle["entry"]) == 1
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert "_offset=1" in following
    _s, second = _get(client, following.replace("http://testserver", ""))
    assert len(second["entry"]) == 1
    assert all(link["relation"] != "next" for link in second["link"])
    assert second["entry"][0]["resource"]["serialNumber"] == "CS0002"

    _s, at_b = _get(client, f"/api/v1/fhir/Device?holder={ew.hospital_b.gln}")
    assert [e["resource"]["serialNumber"] for e in at_b["entry"]] == ["CS0003"]
    _s, by_di = _get(client, f"/api/v1/fhir/Device?udi-di={ew.w.gtin(ew.w.device)}")
    assert by_di["total"] == 0


def test_bad_paging_and_unknown_holders_are_refused_with_the_field(ew: ExportWorld) -> None:
    client = token_client(staff("fx_qa3", "qa_ra"))

    status, error = _get(client, "/api/v1/fhir/Device?_count=0")
    assert (status, error["field"]) == (422, "_count")
    status, error = _get(client, f"/api/v1/fhir/Device?holder={md.gln('6999999', 1)}")
    assert (status, error["field"]) == (404, "holder")


def test_the_us_jurisdiction_uses_the_fda_naming_system_and_english_names(
    ew: ExportWorld,
) -> None:
    client = token_client(staff("fx_qa4", "qa_ra"))

    _s, device = _get(
        client, f"/api/v1/fhir/Device/{quote(ew.epc('at_a'), safe='')}?jurisdiction=us"
    )
    assert device["udiCarrier"][0]["jurisdiction"] == "http://hl7.org/fhir/NamingSystem/fda-udi"
    assert device["manufacturer"] == "Shenzhen Mairuikang Medical"


def test_a_lot_is_not_a_device(ew: ExportWorld) -> None:
    client = token_client(staff("fx_qa5", "qa_ra"))
    lot = quote(f"(01){ew.gtin}(10)L2503A", safe="")

    status, _error = _get(client, f"/api/v1/fhir/Device/{lot}")
    assert status in (404, 422)
