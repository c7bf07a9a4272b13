"""Master-data imports: parties, locations, products with their DIs, materials (CSV and XLSX)."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.errors import PermissionDenied
from medtrace.imports.models import ImportJob
from medtrace.imports.tests.factories import csv_bytes, errors_by_row, file_of, run
from medtrace.masterdata.models import (
    Location,
    Material,
    MaterialSupplier,
    Party,
    Product,
    ProductIdentifier,
)
from medtrace.masterdata.tests import factories as md

pytestmark = pytest.mark.django_db
FORMATS = ["csv", "xlsx"]
PARTY_HEADER = ["name", "role", "gln", "gs1_company_prefix", "uscc", "country", "city"]


def _party_rows(n: int, start: int = 1) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for i in range(start, start + n):
        prefix = "6940001" if i == 1 else ""  # the company prefix is optional
        rows.append([f"医院 {i}", "hospital", md.gln("6940001", i), prefix, "", "CN", "上海"])
    return rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_parties_are_imported_with_an_audit_entry_each(fmt: str, qa_manager) -> None:
    name, content = file_of(fmt, PARTY_HEADER, _party_rows(3))

    job = run("parties", content, name=name, user=qa_manager)

    assert job.status == "imported", job.errors
    assert job.summary["parties"] == 3
    assert job.total_rows == 3 and job.error_count == 0
    parties = Party.objects.filter(gln__startswith="694000").order_by("gln")
    assert [p.name for p in parties] == ["医院 1", "医院 2", "医院 3"]
    assert parties[0].gs1_company_prefix == "6940001" and parties[1].country == "CN"
    entries = AuditEntry.objects.filter(object_type="masterdata.party", action="create")
    assert sorted(int(e.object_id) for e in entries) == sorted(p.pk for p in parties)
    assert {e.reason for e in entries} == {f"import {job.pk}: {name}"}
    assert {e.actor_name for e in entries} == {"qa_manager"}
    assert AuditEntry.objects.filter(
        object_type="imports.importjob", object_id=str(job.pk)
    ).exists()


def test_a_dry_run_validates_and_stores_nothing(qa_manager) -> None:
    job = run("parties", csv_bytes(PARTY_HEADER, _party_rows(2)), user=qa_manager, dry_run=True)

    assert job.status == "valid"
    assert job.summary["parties"] == 2
    assert not Party.objects.filter(gln__startswith="694000").exists()
    assert not AuditEntry.objects.filter(object_type="masterdata.party").exists()


def test_a_dry_run_of_a_bad_file_lists_its_errors_and_stores_nothing(qa_manager) -> None:
    rows = [*_party_rows(1), ["", "nope", "123", "", "", "cn", ""]]

    job = run("parties", csv_bytes(PARTY_HEADER, rows), user=qa_manager, dry_run=True)

    assert job.status == "invalid"
    assert set(errors_by_row(job)[3]) == {"name", "role", "gln", "country"}
    assert not Party.objects.filter(gln__startswith="694000").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_with_several_bad_rows_is_refused_whole_with_every_error(fmt: str) -> None:
    rows = _party_rows(4)
    rows[1][1] = "wholesaler"  # row 3: role
    rows[2][2] = "6940001000039"  # row 4: GLN check digit
    rows[2][5] = "cn"  # row 4: country too
    rows[3][0] = ""  # row 5: name missing
    name, content = file_of(fmt, PARTY_HEADER, rows)

    job = run("parties", content, name=name)

    assert job.status == "invalid"
    errors = errors_by_row(job)
    assert set(errors) == {3, 4, 5}
    assert "not one of the accepted values" in errors[3]["role"]
    assert "check digit" in errors[4]["gln"]
    assert "ISO 3166-1" in errors[4]["country"]
    assert "required" in errors[5]["name"]
    first = next(e for e in job.errors if e["row"] == 3)
    assert first["expected"].startswith("one of: manufacturer, supplier")
    assert first["value"] == "wholesaler"
    assert job.error_count == 4 and job.summary["rows_with_errors"] == 3
    assert not Party.objects.filter(gln__startswith="694000").exists()  # not even row 2


def test_keys_repeated_in_the_file_or_already_stored_are_errors() -> None:
    existing = md.party(role="hospital", prefix="6940009")
    rows = [
        *_party_rows(2),
        ["Copy", "hospital", md.gln("6940001", 1), "", "", "CN", ""],  # row 4: row 2's GLN
        ["Old", "hospital", existing.gln, "", "", "CN", ""],  # row 5: in medtrace already
    ]

    job = run("parties", csv_bytes(PARTY_HEADER, rows))

    errors = errors_by_row(job)
    assert (
        errors[4]["gln"]
        == f"{md.gln('6940001', 1)} is already on row 2 of this file; each record appears once"
    )
    assert errors[5]["gln"] == f"Party with this GLN already exists (id {existing.pk})"
    assert set(errors) == {4, 5}
    assert not Party.objects.filter(gln__startswith="6940001").exists()


def test_header_problems_refuse_the_file_before_any_row() -> None:
    job = run("parties", csv_bytes(["name", "colour", "name"], [["A", "red", "B"]]))

    assert job.status == "invalid"
    by_column = {e["column"]: e for e in job.errors}
    assert all(e["row"] == 1 for e in job.errors)
    assert "unknown column" in by_column["colour"]["message"]
    assert "appears twice" in by_column["name"]["message"]
    assert "required column missing" in by_column["role"]["message"]


def test_permission_is_the_master_data_services_own(warehouse_clerk) -> None:
    # The warehouse adds locations, not parties (accounts.roles).
    with pytest.raises(PermissionDenied):
        run("parties", csv_bytes(PARTY_HEADER, _party_rows(1)), user=warehouse_clerk)
    assert not ImportJob.objects.exists()


# Locations ----------------------------------------------------------------------------------


LOCATION_HEADER = ["party_gln", "parent_code", "kind", "code", "name", "gln", "extension"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_locations_with_enclosing_locations_in_the_file_in_any_order(fmt: str) -> None:
    owner = md.party(role="manufacturer", prefix="6940100")
    site = md.location(owner=owner, kind="site", ref=1, code="S1")
    g = owner.gln
    rows = [
        [g, "WH2", "bin", "WH2-A1", "Bin A1", md.gln("6940100", 4), "A1"],  # parent further down
        [g, "S1", "warehouse", "WH1", "Warehouse 1", md.gln("6940100", 2), ""],  # parent in db
        [g, "", "site", "S2", "Site 2", md.gln("6940100", 3), ""],
        [g, "S2", "warehouse", "WH2", "Warehouse 2", md.gln("6940100", 4), ""],
    ]
    name, content = file_of(fmt, LOCATION_HEADER, rows)

    job = run("locations", content, name=name)

    assert job.status == "imported", job.errors
    stored = {loc.code: loc for loc in Location.objects.filter(party=owner)}
    assert stored["WH1"].parent == site
    assert stored["WH2"].parent == stored["S2"]
    assert stored["WH2-A1"].parent == stored["WH2"]
    assert stored["WH2-A1"].sgln == "urn:epc:id:sgln:6940100.00004.A1"
    assert stored["WH2"].extension == "0"  # the model's default for a blank cell


def test_location_rules_come_from_the_location_model() -> None:
    owner = md.party(role="manufacturer", prefix="6940100")
    other = md.party(role="distributor", prefix="6940200")
    rows = [
        [owner.gln, "", "site", "S1", "Site", md.gln("6940100", 1), ""],
        [owner.gln, "S1", "bin", "B1", "Bin in a site", md.gln("6940100", 2), "B1"],  # row 3
        [owner.gln, "", "site", "S9", "Foreign GLN", md.gln("6940200", 9), ""],  # row 4
        [other.gln, "NOPE", "warehouse", "W", "W", md.gln("6940200", 1), ""],  # row 5
        ["6949999999997", "", "site", "X", "X", md.gln("6940100", 5), ""],  # row 6
        [owner.gln, "", "site", "S1", "Again", md.gln("6940100", 6), ""],  # row 7
    ]

    job = run("locations", csv_bytes(LOCATION_HEADER, rows))

    errors = errors_by_row(job)
    assert errors[3] == {"parent_code": "A Bin cannot be inside a Site."}
    assert "must start with" in errors[4]["gln"]
    assert "has no location with code NOPE" in errors[5]["parent_code"]
    assert errors[6] == {"party_gln": "no party with GLN 6949999999997 in medtrace"}
    assert "already on row 2" in errors[7]["code"]
    assert not Location.objects.filter(party=owner).exists()


# Products -----------------------------------------------------------------------------------

PRODUCT_HEADER = [
    "manufacturer_gln", "name", "model", "nmpa_registration_no", "risk_class", "tracking",
    "udi_pi_elements", "shelf_life_days", "unit_di", "pack_di", "pack_quantity", "case_di",
    "case_quantity",
]  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_products_are_imported_with_their_dis_per_packaging_level(fmt: str) -> None:
    maker = md.party(role="manufacturer", prefix="6940300")
    rows = [
        [maker.gln, "输液泵", "IP-1", "国械注准20203140123", "II", "serial", "serial", "",
         md.gtin("6940300", 1), md.gtin("6940300", 1, "1"), 10, md.gtin("6940300", 1, "2"), 40],
        [maker.gln, "输液器", "IS-2", "国械注准20203140124", "II", "lot", "lot;expiry", 730,
         md.gtin("6940300", 2)[1:], "", "", "", ""],  # a GTIN-13: stored as 14 digits
    ]  # fmt: skip
    name, content = file_of(fmt, PRODUCT_HEADER, rows)

    job = run("products", content, name=name)

    assert job.status == "imported", job.errors
    assert job.summary == {"products": 2, "identifiers": 4, "blank_rows": 0}
    pump = Product.objects.get(manufacturer=maker, model="IP-1")
    levels = dict(pump.identifiers.values_list("packaging_level", "quantity"))
    assert levels == {"unit": 1, "pack": 10, "case": 40}
    assert pump.gcp_length == 7  # from the manufacturer's company prefix (Product.clean)
    infusion_set = Product.objects.get(model="IS-2")
    assert infusion_set.udi_pi_elements == ["lot", "expiry"]
    assert infusion_set.identifiers.get().di == md.gtin("6940300", 2)
    assert AuditEntry.objects.filter(object_type="masterdata.productidentifier").count() == 4


def test_product_rows_are_refused_by_the_product_rules() -> None:
    maker = md.party(role="manufacturer", prefix="6940300")
    taken = md.product(manufacturer=maker, model="OLD")
    taken_di = taken.identifiers.get().di
    good_di = md.gtin("6940300", 7)
    rows: list[list[Any]] = [
        # row 2: a Class I device with a registration number; a bad GTIN
        [maker.gln, "A", "A-1", "国械注准20203140123", "I", "serial", "serial", "",
         "06940300000013", "", "", "", ""],
        # row 3: a pack of 10 but a case of 15 (not a multiple); pack DI without its quantity
        [maker.gln, "B", "B-1", "国械注准20203140123", "II", "serial", "serial", "",
         good_di, md.gtin("6940300", 7, "1"), "", "", ""],
        # row 4: model taken for this maker; unit DI already used by another product
        [maker.gln, "C", "OLD", "国械注准20203140123", "II", "serial", "serial", "",
         taken_di, "", "", "", ""],
        # row 5: a lot-tracked product without 'lot' in its UDI-PI
        [maker.gln, "D", "D-1", "国械注准20203140123", "II", "lot", "expiry", 100,
         md.gtin("6940300", 8), "", "", "", ""],
    ]  # fmt: skip

    job = run("products", csv_bytes(PRODUCT_HEADER, rows))

    errors = errors_by_row(job)
    assert "filing number" in errors[2]["nmpa_registration_no"]
    assert "check digit" in errors[2]["unit_di"]
    assert "how many base units" in errors[3]["pack_quantity"]
    assert errors[4]["model"].startswith("Product with this manufacturer + model")
    assert errors[4]["unit_di"].startswith("Product identifier (DI) with this DI already exists")
    assert "must carry 'lot'" in errors[5]["udi_pi_elements"]
    assert Product.objects.filter(manufacturer=maker).count() == 1


def test_pack_levels_must_be_whole_multiples() -> None:
    maker = md.party(role="manufacturer", prefix="6940300")
    rows = [
        [maker.gln, "B", "B-1", "国械注准20203140123", "II", "serial", "serial", "",
         md.gtin("6940300", 7), md.gtin("6940300", 7, "1"), 10, md.gtin("6940300", 7, "2"), 15],
    ]  # fmt: skip

    job = run("products", csv_bytes(PRODUCT_HEADER, rows))

    assert job.errors[0]["row"] == 2
    assert "not a whole multiple above the pack's 10" in job.errors[0]["message"]


# Materials ----------------------------------------------------------------------------------

MATERIAL_HEADER = ["code", "name", "kind", "tracking", "uom", "gtin", "gcp_length", "suppliers"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_materials_with_their_approved_suppliers(fmt: str) -> None:
    one = md.party(role="supplier", prefix="6940400")
    two = md.party(role="supplier", prefix="6940401")
    rows: list[list[Any]] = [
        ["RES-1", "PC 树脂", "raw_material", "lot", "KGM", "", "", f"{one.gln}; {two.gln}"],
        ["PMP-1", "Micro pump", "component", "serial", "", md.gtin("6940400", 5), 7, one.gln],
        ["LBL-1", "Label", "packaging", "lot", "EA", "", "", ""],
    ]
    name, content = file_of(fmt, MATERIAL_HEADER, rows)

    job = run("materials", content, name=name)

    assert job.status == "imported", job.errors
    assert job.summary == {"materials": 3, "material_sources": 3, "blank_rows": 0}
    resin = Material.objects.get(code="RES-1")
    assert set(resin.suppliers.all()) == {one, two}
    assert Material.objects.get(code="PMP-1").uom == "EA"
    assert MaterialSupplier.objects.filter(material__code="LBL-1").count() == 0


def test_material_rules_and_supplier_roles() -> None:
    hospital = md.party(role="hospital", prefix="6940500")
    md.material(code="OLD-1")
    rows = [
        ["A-1", "A", "component", "serial", "KGM", "", "", ""],  # serial counted in EA
        ["OLD-1", "B", "component", "lot", "EA", "", "", ""],  # code taken
        ["C-1", "C", "component", "lot", "EA", "", "", hospital.gln],  # a hospital supplies?
    ]

    job = run("materials", csv_bytes(MATERIAL_HEADER, rows))

    errors = errors_by_row(job)
    assert errors[2] == {"uom": "A serial-tracked material is counted in EA."}
    assert errors[3]["code"].startswith("Material with this part number already exists")
    assert "is a Hospital, not a supplier" in errors[4]["suppliers"]
    assert not ProductIdentifier.objects.exists()
    assert Material.objects.count() == 1


def test_an_imported_record_reads_back_like_one_entered_by_hand() -> None:
    maker = md.party(role="manufacturer", prefix="6940300")
    values: dict[str, Any] = {
        "name": "输液泵", "model": "IP-X", "nmpa_registration_no": "国械注准20203140123",
        "risk_class": "III", "tracking": "serial", "udi_pi_elements": ["serial", "lot", "expiry"],
        "implantable": True, "sterile": False, "shelf_life_days": 720,
        "udi_published_on": "2024-02-29",
    }  # fmt: skip
    header = ["manufacturer_gln", *values, "unit_di"]
    cells = [";".join(v) if isinstance(v, list) else v for v in values.values()]
    row = [maker.gln, *cells, md.gtin("6940300", 40)]

    job = run("products", csv_bytes(header, [row]))

    assert job.status == "imported", job.errors
    by_hand = md.product(
        manufacturer=maker, **{**values, "model": "IP-Y"},
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6940300", 41)}],
    )  # fmt: skip
    imported = Product.objects.get(model="IP-X")
    by_hand = Product.objects.get(pk=by_hand.pk)
    skip = {"id", "model", "created_at", "updated_at"}
    for field in Product._meta.concrete_fields:
        if field.name not in skip:
            assert getattr(imported, field.attname) == getattr(by_hand, field.attname), field.name
    assert imported.created_at is not None and imported.identifiers.get().product == imported
    imported.full_clean()


def test_bulk_audit_entries_carry_many_to_many_links_like_single_ones() -> None:
    from medtrace.audit import services as audit

    supplier = md.party(role="supplier", prefix="6940600")
    material = md.material(code="M2M-1")
    MaterialSupplier.objects.create(material=material, supplier=supplier)

    (entry,) = audit.record_create_many([material])

    assert entry.changes["suppliers"] == [supplier.pk]
    assert entry.changes == audit.snapshot(material)
