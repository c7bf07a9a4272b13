"""The consumption contract production codes against: resolve a scan, consume accepted material."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import NotFound, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lib import udi
from medtrace.procurement import services
from medtrace.procurement.models import MaterialConsumption, MaterialLot
from medtrace.procurement.selectors import material_lot_resolve
from medtrace.quality.services import hold_place

from .factories import accepted_lots, proc_world, purchase_order, receive

pytestmark = pytest.mark.django_db


def test_a_lot_resolves_from_its_epc_a_gs1_label_and_part_number_slash_lot() -> None:
    p = proc_world()
    resin, pumps = accepted_lots(p)
    gtin = p.w.resin.gtin
    assert material_lot_resolve(resin.epc) == resin
    assert material_lot_resolve(f"(01){gtin}(10)R-001(17)301231") == resin
    assert material_lot_resolve(f"]d201{gtin}10R-001\x1d17301231") == resin
    assert material_lot_resolve(f"https://id.gs1.org/01/{gtin}/10/R-001") == resin
    assert material_lot_resolve(f"{p.w.resin.code}/R-001") == resin
    assert material_lot_resolve("R-001", material=p.w.resin) == resin
    assert material_lot_resolve(f"(01){p.w.pump.gtin}(21)P-2") == pumps[1]
    assert material_lot_resolve(udi.sgtin_urn(p.w.pump.gtin, "P-3", 7)) == pumps[2]


def test_resolving_refuses_unknown_and_wrong_material_clearly() -> None:
    p = proc_world()
    accepted_lots(p)
    with pytest.raises(NotFound, match=r"'R-999' of .* was never received"):
        material_lot_resolve(f"(01){p.w.resin.gtin}(10)R-999")
    with pytest.raises(ValidationFailed, match="not of") as exc:
        material_lot_resolve(f"{p.w.resin.code}/R-001", material=p.w.pump)
    assert exc.value.field == "material_lot"
    with pytest.raises(ValidationFailed, match="is serial-tracked; scan a label with its serial"):
        material_lot_resolve(f"(01){p.w.pump.gtin}(10)L1")
    with pytest.raises(ValidationFailed, match="not a supplier label we can read"):
        material_lot_resolve("???")
    with pytest.raises(ValidationFailed):
        material_lot_resolve("  ")


def test_consuming_accepted_material_counts_it_and_writes_no_event() -> None:
    p = proc_world()
    resin, pumps = accepted_lots(p)
    events = Event.objects.count()
    services.material_consume(
        items=[(resin, Decimal("12.5")), (pumps[0], Decimal(1)), (resin, Decimal("2.5"))],
        user=None,
        reference="WO-2026-000001",
    )
    resin.refresh_from_db()
    pumps[0].refresh_from_db()
    assert resin.consumed_qty == Decimal(15)
    assert pumps[0].consumed_qty == Decimal(1)
    assert Event.objects.count() == events
    assert set(MaterialConsumption.objects.values_list("reference", flat=True)) == {
        "WO-2026-000001"
    }


def _refused(items: Any, match: str) -> ValidationFailed:
    audits = AuditEntry.objects.count()
    consumptions = MaterialConsumption.objects.count()
    with pytest.raises(ValidationFailed, match=match) as exc:
        services.material_consume(items=items, user=None, reference="WO-X")
    assert exc.value.field == "components"
    assert AuditEntry.objects.count() == audits
    assert MaterialConsumption.objects.count() == consumptions
    return exc.value


def test_consuming_more_than_is_accepted_and_unconsumed_is_refused() -> None:
    p = proc_world()
    resin, pumps = accepted_lots(p)
    services.material_consume(items=[(pumps[0], Decimal(1))], user=None, reference="WO-1")
    err = _refused(
        [(resin, Decimal(101))],
        r"R-001 has 100 EA accepted and not yet consumed; 101 asked",
    )
    assert err.details[0]["reasons"][0]["code"] == "insufficient"
    _refused([(pumps[0], Decimal(1))], "P-1 has 0 EA accepted")
    resin.refresh_from_db()
    assert resin.consumed_qty == 0


def test_material_awaiting_inspection_rejected_expired_or_held_is_refused() -> None:
    p = proc_world()
    order = purchase_order(p, [(p.w.resin, 50), (p.w.pump, 2)])
    receive(
        p,
        order,
        [
            {"line": 1, "lot": "R-A", "quantity": 50},
            {"line": 2, "serials": ["PX-1", "PX-2"]},
        ],
    )
    lot = MaterialLot.objects.get(identifier="R-A")
    _refused([(lot, Decimal(1))], "R-A is awaiting incoming inspection")
    services.inspection_record(lot=lot, accepted_qty=0, note="cracked pellets", user=None)
    lot.refresh_from_db()
    _refused([(lot, Decimal(1))], "was rejected at incoming inspection and can never be consumed")

    px1 = MaterialLot.objects.get(identifier="PX-1")
    services.inspection_record_serials(receipt_line=px1.receipt_line, user=None)
    hold_place(targets=[px1.epc], reason="supplier recall notice", user=None)
    _refused([(px1, Decimal(1))], r"PX-1 is on QC hold HOLD-\d{4}-\d{6} since .*supplier recall")

    px2 = MaterialLot.objects.get(identifier="PX-2")
    MaterialLot.objects.filter(pk=px2.pk).update(
        expires_on=timezone.localdate() - timedelta(days=1)
    )
    px2.refresh_from_db()
    _refused([(px2, Decimal(1))], "PX-2 expired on")
    err = _refused([(px2, Decimal("0.5"))], "PX-2 expired on")
    codes = [r["code"] for r in err.details[0]["reasons"]]
    assert codes == ["expired", "fraction"]


def test_a_reference_is_required() -> None:
    p = proc_world()
    resin, _pumps = accepted_lots(p)
    with pytest.raises(ValidationFailed) as exc:
        services.material_consume(items=[(resin, Decimal(1))], user=None, reference=" ")
    assert exc.value.field == "reference"
