"""DI exports for NMPA UDID, GUDID and EUDAMED: mapping, validation report, formats, access."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from medtrace.exports import documents
from medtrace.exports.cn_udi import CN_UDI_DI
from medtrace.exports.gudid_eudamed import EUDAMED, GUDID
from medtrace.masterdata.models import Product
from medtrace.masterdata.tests import factories as md

from .factories import ExportWorld
from .helpers import body, partner, session_client, staff, token_client, xlsx_rows

pytestmark = pytest.mark.django_db


def _export(fmt: Any, product_ids: list[int]) -> Any:
    return documents.di_export(fmt, Product.objects.filter(pk__in=product_ids))


def test_the_cn_record_maps_the_master_data_to_the_udid_fields(ew: ExportWorld) -> None:
    export = _export(CN_UDI_DI, [ew.stent.pk])
    r = export.records[0]

    assert r["zxxsdycpbs"] == ew.gtin
    assert r["cpbsbmtxmc"] == "GS1"
    assert r["zxxsdyzsydydsl"] == 1
    assert r["sydycpbs"] == ""
    assert r["cpbsfbrq"] == "2025-01-15"
    assert (r["cpmctymc"], r["spmc"], r["ggxh"]) == ("冠状动脉支架", "瑞通", "CS-3018")
    assert r["zczbhhzbapzbh"] == "国械注准20213130001"
    assert r["ylqxzcrbarmc"] == "深圳迈瑞康医疗"
    assert r["ylqxzcrbarywmc"] == "Shenzhen Mairuikang Medical"
    assert r["tyshxydm"] == "91350100M000100Y43"
    assert (r["flbm"], r["yflbm"], r["ybbm"]) == ("13-07-02", "", "C0310010000000000001")
    assert r["cgzmraqxgxx"] == "MR条件安全"
    assert (r["sfbjwycxsy"], r["sfwwjbz"], r["syqsfxyjxmj"]) == ("是", "是", "否")
    assert (r["sfybtzjbs"], r["btcpbsyzxxsdycpbssfyz"]) == ("否", "")
    # The production identifiers the label carries: lot, serial and expiry, no production date.
    assert [r[k] for k in ("scbssfbhph", "scbssfbhxlh", "scbssfbhscrq", "scbssfbhsxrq")] == [
        "是", "是", "否", "是",
    ]  # fmt: skip
    assert r["cphhhbh"] == "REF-CS3018"


def test_packaging_levels_count_the_next_lower_level(ew: ExportWorld) -> None:
    r = _export(CN_UDI_DI, [ew.stent.pk]).records[0]
    packages = ew.stent.identifiers.exclude(packaging_level="unit").order_by("quantity")
    pack, case = (i.di for i in packages)

    assert r["packingList"] == [
        {"bzcpbs": pack, "cpbzjb": "中包装", "bznhxyjcpbssl": 5, "bznhxyjbzcpbs": ew.gtin},
        {"bzcpbs": case, "cpbzjb": "箱", "bznhxyjcpbssl": 10, "bznhxyjbzcpbs": pack},
    ]


def test_storage_conditions_come_from_the_condition_profile(ew: ExportWorld) -> None:
    r = _export(CN_UDI_DI, [ew.stent.pk]).records[0]

    assert [(s["cchcztj"], s["zdz"], s["zgz"], s["jldw"]) for s in r["storageList"]] == [
        ("储存温度", 2, 25, "℃"),
        ("储存湿度", None, 60, "%RH"),
    ]
    assert r["tscchcztj"] == "避光，干燥处保存"


def test_a_product_with_full_data_is_complete_and_unkept_fields_are_listed(
    ew: ExportWorld,
) -> None:
    document = _export(CN_UDI_DI, [ew.stent.pk]).document()

    assert document["report"]["problems"] == []
    assert document["report"]["complete"] == 1
    not_kept = {n["field"] for n in document["report"]["not_in_master_data"]}
    assert not_kept == {"cplb", "qtxxdwzlj", "tsccsm", "tsrq"}
    assert all(document["records"][0][k] == "" for k in not_kept)


def test_missing_master_data_is_reported_per_field_never_invented(ew: ExportWorld) -> None:
    document = _export(CN_UDI_DI, [ew.w.device.pk]).document()
    problems = {p["field"]: p for p in document["report"]["problems"]}
    r = document["records"][0]

    assert document["report"]["incomplete"] == 1
    for field in ("cpbsfbrq", "sfybtzjbs", "sfwblztlcp", "cpms", "flbm", "cgzmraqxgxx",
                  "syqsfxyjxmj"):  # fmt: skip
        assert problems[field]["kind"] == "missing", field
        assert r[field] == "", field
    assert "set udi_published_on" in problems["cpbsfbrq"]["message"]
    assert problems["cpbsfbrq"]["di"] == ew.w.gtin(ew.w.device)
    # Booleans kept by medtrace are never missing; a sterile flag of False is an answer.
    assert r["sfwwjbz"] == "否" and "sfwwjbz" not in problems


def test_an_hibcc_product_is_invalid_for_the_nmpa_database(ew: ExportWorld) -> None:
    hibc = md.product(
        manufacturer=ew.w.maker,
        issuing_agency="hibcc",
        identifiers=[{"packaging_level": "unit", "di": "A123XYZ1"}],
    )
    export = _export(CN_UDI_DI, [hibc.pk])
    problems = [p for p in export.problems if p.field == "cpbsbmtxmc"]

    assert export.records[0]["cpbsbmtxmc"] == ""
    assert [p.kind for p in problems] == ["missing", "invalid"]
    assert "accepts GS1, MA and AHM" in problems[1].message
    assert _export(GUDID, [hibc.pk]).records[0]["issuingAgency"] == "HIBCC"


def test_a_package_that_does_not_hold_whole_inner_packs_is_invalid(ew: ExportWorld) -> None:
    # The product services refuse such a set; data edited around them (the admin's raw forms,
    # a database fix) is still caught before it reaches a regulator.
    odd = md.product(
        manufacturer=ew.w.maker,
        identifiers=[
            {"packaging_level": "unit", "di": md.gtin("6901234", 401)},
            {"packaging_level": "pack", "di": md.gtin("6901234", 401, "1"), "quantity": 12},
            {"packaging_level": "case", "di": md.gtin("6901234", 401, "2"), "quantity": 60},
        ],
    )
    odd.identifiers.filter(packaging_level="case").update(quantity=50)
    problems = [p for p in _export(CN_UDI_DI, [odd.pk]).problems if p.kind == "invalid"]

    assert len(problems) == 1
    assert "holds 50 base units, not a whole number of" in problems[0].message


def test_a_pre_2017_classification_code_goes_to_the_former_code_field(ew: ExportWorld) -> None:
    old = md.product(manufacturer=ew.w.maker, classification_code="6846")
    r = _export(CN_UDI_DI, [old.pk]).records[0]

    assert (r["yflbm"], r["flbm"]) == ("6846", "")


def test_the_gudid_record(ew: ExportWorld) -> None:
    export = _export(GUDID, [ew.stent.pk])
    r = export.records[0]
    pack = ew.stent.identifiers.get(packaging_level="pack").di

    assert (r["primaryDI"], r["issuingAgency"], r["deviceCount"]) == (ew.gtin, "GS1", 1)
    assert (r["brandName"], r["versionModelNumber"], r["catalogNumber"]) == (
        "瑞通", "CS-3018", "REF-CS3018",
    )  # fmt: skip
    assert (r["companyName"], r["dunsNumber"]) == ("Shenzhen Mairuikang Medical", "123456789")
    assert r["MRISafetyStatus"] == "MR Conditional"
    assert (r["deviceSterile"], r["sterilizationPriorToUse"], r["singleUse"]) == (True, False, True)
    assert (r["lotBatch"], r["serialNumber"], r["manufacturingDate"], r["expirationDate"]) == (
        True, True, False, True,
    )  # fmt: skip
    assert (r["gmdnCode"], r["productCode"]) == ("47896", "NIQ")
    assert r["packages"][1]["containsDINumber"] == pack
    assert r["packages"][1]["quantityPerPackage"] == 10
    assert r["commercialDistributionStatus"] == "In Commercial Distribution"
    assert export.problems == []
    not_kept = {n["field"] for n in export.not_in_master_data}
    assert {"premarketSubmissionNumber", "rx", "labeledContainsNRL"} <= not_kept


def test_gudid_needs_the_labeler_name_in_latin_characters(ew: ExportWorld) -> None:
    local = md.party(role="manufacturer", prefix="6930001", name="杭州本地器械")
    product = md.product(manufacturer=local)
    problems = {p.field: p for p in _export(GUDID, [product.pk]).problems}

    assert problems["companyName"].kind == "invalid"
    assert problems["dunsNumber"].kind == "missing"


def test_the_eudamed_record_never_maps_the_nmpa_class_to_an_eu_class(ew: ExportWorld) -> None:
    export = _export(EUDAMED, [ew.stent.pk])
    r = export.records[0]

    assert (r["basicUdiDi"], r["udiDi"], r["issuingEntity"]) == ("6901234CS3018XY", ew.gtin, "GS1")
    assert r["manufacturerSrn"] == "CN-MF-000012345"
    assert r["productionIdentifiers"] == ["BATCH_NUMBER", "SERIAL_NUMBER", "EXPIRATION_DATE"]
    assert r["riskClass"] == ""  # NMPA class III is not an EU MDR class
    assert "riskClass" in {n["field"] for n in export.not_in_master_data}
    assert (r["implantable"], r["marketStatus"]) == (True, "ON_THE_MARKET")
    assert [p["quantity"] for p in r["packages"]] == [5, 10]


def test_the_api_serves_json_and_xlsx_with_the_exports_scope(ew: ExportWorld) -> None:
    client = token_client(staff("ex_qa", "qa_ra"))

    response = client.get(f"/api/v1/exports/cn-udi-di?product={ew.stent.pk}")
    assert response.status_code == 200, response.content
    document = json.loads(body(response))
    assert document["format"] == "cn-udi-di" and document["count"] == 1

    response = client.get(f"/api/v1/exports/gudid?format=xlsx&product={ew.stent.pk}")
    assert response.status_code == 200
    data = body(response)
    from openpyxl import load_workbook

    names = load_workbook(io.BytesIO(data)).sheetnames
    assert names == ["GUDID DI records", "Packages", "Storage and handling", "report", "fields"]
    rows = xlsx_rows(data)
    assert rows[0][0] == "Primary DI" and rows[1][0] == ew.gtin
    assert rows[1][rows[0].index("For single use")] == "true"
    packages = xlsx_rows(data, "Packages")
    assert packages[0][:3] == ["Primary DI", "Package DI", "Quantity per package"]
    assert [p[2] for p in packages[1:]] == [5, 10]


def test_the_cn_xlsx_has_the_udid_headers(ew: ExportWorld) -> None:
    client = session_client(staff("ex_wh", "warehouse"))
    data = body(client.get(f"/api/v1/exports/cn-udi-di?format=xlsx&product={ew.stent.pk}"))

    rows = xlsx_rows(data)
    assert rows[0][:3] == [
        "最小销售单元产品标识", "产品标识编码体系名称", "最小销售单元中使用单元的数量",
    ]  # fmt: skip
    assert rows[1][0] == ew.gtin
    report = xlsx_rows(data, "report")
    assert {r[1] for r in report[1:]} == {"cplb", "qtxxdwzlj", "tsccsm", "tsrq"}


def test_all_active_products_by_default_and_inactive_on_request(ew: ExportWorld) -> None:
    client = token_client(staff("ex_ad", "admin"))
    from medtrace.masterdata import services

    services.product_update(
        product=ew.w.board, data={"active": False}, user=None, reason="obsolete"
    )

    active = json.loads(body(client.get("/api/v1/exports/eudamed")))
    every = json.loads(body(client.get("/api/v1/exports/eudamed?include_inactive=true")))
    udi_dis = {r["udiDi"] for r in active["records"]}
    assert ew.w.gtin(ew.w.board) not in udi_dis and ew.gtin in udi_dis
    assert every["count"] == active["count"] + 1


def test_an_unknown_product_is_404(ew: ExportWorld) -> None:
    response = token_client(staff("ex_qa2", "qa_ra")).get("/api/v1/exports/gudid?product=999999")

    assert response.status_code == 404
    assert json.loads(response.content)["field"] == "product"


def test_partners_and_users_without_a_role_are_refused(ew: ExportWorld) -> None:
    hospital = token_client(partner("ex_hosp", ew.w.hospital))
    nobody = session_client(staff("ex_nobody", None))

    for client in (hospital, nobody):
        response = client.get("/api/v1/exports/cn-udi-di")
        assert response.status_code == 403
        assert json.loads(response.content)["error"] == "permission_denied"


def test_a_token_without_the_exports_scope_is_refused(ew: ExportWorld) -> None:
    client = token_client(staff("ex_qa3", "qa_ra"), scopes=["masterdata:read"])

    response = client.get("/api/v1/exports/cn-udi-di")
    assert response.status_code == 403
    assert "exports:read" in response.content.decode()
