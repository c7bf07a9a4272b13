"""Demo implant records: hip stems (FS-12) implanted at the two demo hospitals.

The patients are invented. The demo's event stream ships infusion pumps, not implants, so these
stems are not in the ledger; an implant record needs only a UDI that parses (DESIGN §8).
Idempotent: a unit that already has a record is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from medtrace.lib.personal import resident_id_check_char
from medtrace.masterdata.models import Party, Product

from . import services
from .models import ImplantRecord


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


# hospital key, serial, lot, implant date, name, ID number, phone, surgeon, department
DEMO_IMPLANTS: tuple[tuple[str, str, str, str, str, str, str, str, str], ...] = (
    ("hosp_a", "FS12A0001", "L2501", "2025-04-08", "王建国",
     _resident_id("32050219580312041"), "13912340001", "刘主任", "骨科"),
    ("hosp_a", "FS12A0002", "L2501", "2025-05-21", "李秀英",
     _resident_id("32058319620917022"), "13812345602", "刘主任", "骨科"),
    ("hosp_a", "FS12A0003", "L2502", "2025-06-30", "Maria Keller",
     "C03005988", "", "周医生", "关节外科"),
    ("hosp_b", "FS12B0001", "L2502", "2025-07-14", "陈志强",
     _resident_id("32010619550203081"), "15005150003", "吴主任", "骨科"),
)  # fmt: skip


def load_implants(parties: Mapping[str, Party], created: Callable[[str], None]) -> None:
    stem = Product.objects.filter(manufacturer=parties["mfr"], model="FS-12").first()
    if stem is None:
        return
    gtin = stem.identifiers.get(packaging_level="unit").di
    for key, serial, lot, day, name, id_number, phone, surgeon, department in DEMO_IMPLANTS:
        udi = f"(01){gtin}(10){lot}(21){serial}"
        if ImplantRecord.objects.filter(serial=serial, product=stem).exists():
            continue
        services.implant_record_create(
            data={
                "udi": udi,
                "hospital_id": parties[key].pk,
                "implanted_on": day,
                "patient_name": name,
                "patient_id_number": id_number,
                "patient_phone": phone,
                "surgeon": surgeon,
                "department": department,
            },
            user=None,
            reason="demo data",
        )
        created("implant records")
