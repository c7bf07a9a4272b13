"""A world for the export tests: the trace world, one product with full UDI database data
(unit, pack and case DIs, a storage profile), units at two hospitals, at the distributor, at the
maker and destroyed, and patient data where the system keeps it (an implant record and a
complaint naming a patient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medtrace.lib import udi
from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import Party, Product
from medtrace.masterdata.tests import factories as md
from medtrace.trace.tests import factories as f

# Patient data that must never appear in an export (names, ID numbers, phones and their masks).
PATIENT_NAME = "欧阳秀英"
PATIENT_ID = "11010519491231002X"
PATIENT_PHONE = "13912345678"
COMPLAINANT = "病人王小明"
COMPLAINANT_CONTACT = "13787654321"


@dataclass
class ExportWorld:
    w: f.World
    hospital_b: Party
    stent: Product  # full UDI data, pack and case DIs, storage profile
    units: dict[str, str]  # name -> EPC
    gtin: str

    def epc(self, name: str) -> str:
        return self.units[name]


def _full_udi_data(maker: Party) -> Product:
    md_services.party_update(
        party=maker,
        data={
            "name_en": "Shenzhen Mairuikang Medical",
            "uscc": "91350100M000100Y43",
            "duns": "123456789",
            "eudamed_srn": "CN-MF-000012345",
            "contact_phone": "0755-88886666",
            "contact_email": "udi@maker.example.com",
        },
        user=None,
    )
    stent = md.product(
        manufacturer=maker,
        name="冠状动脉支架",
        name_en="Coronary stent",
        model="CS-3018",
        description="钴铬合金球囊扩张式冠状动脉支架",
        risk_class="III",
        nmpa_registration_no="国械注准20213130001",
        implantable=True,
        sterile=True,
        single_use=True,
        tracking="serial",
        udi_pi_elements=["serial", "lot", "expiry"],
        shelf_life_days=730,
        classification_code="13-07-02",
        gmdn_code="47896",
        nhsa_code="C0310010000000000001",
        trade_name="瑞通",
        catalog_number="REF-CS3018",
        is_kit=False,
        mri_safety="mr_conditional",
        sterilize_before_use=False,
        sterilization_method="环氧乙烷",
        direct_marking=False,
        storage_conditions="避光，干燥处保存",
        udi_published_on="2025-01-15",
        fda_product_code="NIQ",
        basic_udi_di="6901234CS3018XY",
        identifiers=[
            {"packaging_level": "unit", "di": md.gtin("6901234", 301)},
            {"packaging_level": "pack", "di": md.gtin("6901234", 301, "1"), "quantity": 5},
            {"packaging_level": "case", "di": md.gtin("6901234", 301, "2"), "quantity": 50},
        ],
    )  # fmt: skip
    from medtrace.conditions.profiles import profile_create

    profile_create(
        product=stent,
        data={
            "phase": "storage",
            "temperature_min": "2",
            "temperature_max": "25",
            "humidity_max": "60",
            "basis": "IFU 8",
        },
        user=None,
    )
    return stent


def export_world() -> ExportWorld:
    from medtrace.complaints.intake import complaint_create
    from medtrace.service import services as implants

    w = f.world()
    hospital_b = md.party(role="hospital", prefix="6920004", name="第二人民医院")
    ward_b = md.location(owner=hospital_b, kind="site", ref=1, name="Cath lab")
    stent = _full_udi_data(w.maker)
    gtin = stent.identifiers.get(packaging_level="unit").di
    names = ("at_a", "at_a2", "at_b", "at_dist", "in_stock", "destroyed")
    units = {name: udi.sgtin_urn(gtin, f"CS{i:04d}", 7) for i, name in enumerate(names, 1)}
    maker, dist = w.pgln(w.maker), w.pgln(w.distributor)
    hosp_a, hosp_b = w.pgln(w.hospital), w.pgln(hospital_b)
    ilmd = {"cbvmda:lotNumber": "L2503A", "cbvmda:itemExpirationDate": "2027-03-31"}

    def moved(epcs: list[str], day: int, frm: str, to: str, where: str) -> dict[str, Any]:
        return f.obj(
            epcs, f.t(day), biz_step="receiving", disposition="in_progress", location=where,
            sources=[("possessing_party", frm)],
            destinations=[("possessing_party", to), ("owning_party", to)],
        )  # fmt: skip

    f.capture(
        f.commission(list(units.values()), f.t(2), location=w.plant.sgln, ilmd=ilmd),
        moved([units["at_a"], units["at_a2"], units["at_b"], units["at_dist"]], 4, maker, dist,
              w.dist_site.sgln),
        moved([units["at_a"], units["at_a2"]], 6, dist, hosp_a, w.ward.sgln),
        moved([units["at_b"]], 6, dist, hosp_b, ward_b.sgln),
        f.obj([units["destroyed"]], f.t(7), biz_step="destroying", disposition="destroyed",
              location=w.plant.sgln),
    )  # fmt: skip
    for name, party in (("at_a", w.hospital), ("at_b", hospital_b)):
        implants.implant_record_create(
            data={
                "udi": f"(01){gtin}(17)270331(10)L2503A(21){udi.parse(units[name]).serial}",
                "hospital_id": party.pk,
                "implanted_on": "2025-03-20",
                "patient_name": PATIENT_NAME,
                "patient_id_number": PATIENT_ID,
                "patient_phone": PATIENT_PHONE,
                "surgeon": "李医生",
            },
            user=None,
        )
    complaint_create(
        description="支架输送系统回撤困难",
        udi=f"(01){gtin}(21)CS0001",
        complainant_party_id=w.hospital.pk,
        complainant_name=COMPLAINANT,
        complainant_contact=COMPLAINANT_CONTACT,
        user=None,
    )
    return ExportWorld(w, hospital_b, stent, units, gtin)
