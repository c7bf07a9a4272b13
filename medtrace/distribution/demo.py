"""Demo distribution story at 苏州康迈医疗科技 (run after the master-data demo).

Twelve FS-12 髋关节股骨柄 (hip femoral stems, lot FS2611A) are made on line SZ-L2 for this story
and released by QA (王质量, e-signed). Then:

- SO to 江苏康健医疗器械经销 (PO KJ-PO-2611-031): six stems packed in one case (SSCC), shipped to
  the 南京配送中心仓库; the distributor scans five of them on arrival: received with a
  discrepancy (one stem missing), sales is alerted.
- SO to 苏州市第一人民医院 (PO SZ1Y-2611-088): two shipments of two stems to the 骨科手术室;
  the first is received in full, the second is still in transit.
- SO to 南京市中心医院: a draft waiting for confirmation.
- One stem of the first hospital shipment comes back (sterile pack damaged): RMA received into
  待检/隔离区 under a quarantine hold.

Idempotent: nothing happens when a sales order already exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Location, Party, PartyRole, Product

from . import services
from .models import ReceiptChannel, SalesOrder

PASSWORD = "medtrace-demo"  # masterdata.demo.data.DEMO_PASSWORD
LOT = "FS2611A"
SERIALS = tuple(f"FS12D{n:04d}" for n in range(1, 13))


def _user(name: str) -> User | None:
    return User.objects.filter(username=name).first()


def _location(code: str) -> Location:
    return Location.objects.get(code=code)


def _party(role: str, location_code: str) -> Party:
    party = _location(location_code).party
    assert party.role == role, (party, role)
    return party


def _order(
    customer: Party, ship_to: Location, stem: Product, quantity: int, po: str, sales: User | None
) -> SalesOrder:
    return services.sales_order_create(
        data={
            "customer_id": customer.pk,
            "ship_to_id": ship_to.pk,
            "customer_po": po,
            "lines": [{"product_id": stem.pk, "quantity": quantity}],
        },
        user=sales,
    )


def _stems(stem: Product, at: datetime) -> list[str]:
    epcs = [ev.unit_epc(stem, s) for s in SERIALS]
    expiry = (at.date() + timedelta(days=stem.shelf_life_days or 1825)).isoformat()
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                at=at,
                read_point=_location("SZ-L2").sgln,
                biz_location=_location("SZ-WH1").sgln,
                ilmd={
                    "cbvmda:lotNumber": LOT,
                    "cbvmda:itemExpirationDate": expiry,
                    "cbvmda:productionDate": at.date().isoformat(),
                },
            )
        ],
        user=None,
    )
    return epcs


def load_demo(log: Callable[[str], None] = print) -> None:
    if SalesOrder.objects.exists():
        return
    stem = Product.objects.filter(model="FS-12").first()
    if stem is None:
        log("distribution demo: no FS-12 product (run the master-data demo first)")
        return
    from medtrace.quality.services import release_create
    from medtrace.warehouse.services import container_create, container_pack

    sales, warehouse, qa = _user("sales"), _user("warehouse"), _user("qa")
    distributor_user, hospital_user = _user("distributor"), _user("hospital_a")
    if qa is None:
        log("distribution demo: no QA user to release the goods (load the demo users first)")
        return
    dist = _party(PartyRole.DISTRIBUTOR, "NJ-DC-WH")
    hosp_a = _party(PartyRole.HOSPITAL, "SZ1Y-ORTHO")
    hosp_b = _party(PartyRole.HOSPITAL, "NJZX")
    now = timezone.now()

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    with transaction.atomic():
        epcs = _stems(stem, ago(21))
        release_create(
            targets=epcs,
            user=qa,
            password=PASSWORD,
            note=f"FS-12 批 {LOT} 放行 / lot {LOT} released",
            at=ago(20),
        )

        # 1. The distributor: one case of six, one stem missing on arrival.
        so_dist = _order(dist, _location("NJ-DC-WH"), stem, 6, "KJ-PO-2611-031", sales)
        services.sales_order_confirm(order=so_dist, user=sales)
        case = container_create(user=warehouse, location=_location("SZ-WH1"), at=ago(16))
        container_pack(container=case, children=epcs[:6], user=warehouse, close=True, at=ago(16))
        to_dist = services.shipment_create(
            order=so_dist, scans=[case.epc], user=warehouse, note="顺丰冷链 SF1402", at=ago(15)
        )
        services.shipment_receive(
            shipment=to_dist,
            scans=epcs[:5],
            user=distributor_user,
            channel=ReceiptChannel.UI,
            at=ago(13),
        )

        # 2. The hospital: two shipments of two stems; the second is on its way.
        so_hosp = _order(hosp_a, _location("SZ1Y-ORTHO"), stem, 4, "SZ1Y-2611-088", sales)
        services.sales_order_confirm(order=so_hosp, user=sales)
        first = services.shipment_create(order=so_hosp, scans=epcs[6:8], user=sales, at=ago(10))
        services.shipment_receive(
            shipment=first,
            scans=epcs[6:8],
            user=hospital_user,
            channel=ReceiptChannel.API,
            at=ago(9),
        )
        services.shipment_create(order=so_hosp, scans=epcs[8:10], user=sales, at=ago(1))

        # 3. Another hospital's order waits for confirmation.
        _order(hosp_b, _location("NJZX-ICU"), stem, 2, "NJZX-2612-004", sales)

        # 4. A stem of the first hospital shipment comes back into quarantine.
        rma = services.rma_create(
            customer=hosp_a,
            scans=[epcs[6]],
            reason="外包装破损，无菌屏障可疑 / sterile barrier of the pack damaged",
            user=sales,
        )
        services.rma_receive(rma=rma, user=warehouse, at=ago(3))
    log(
        "distribution demo: 3 sales orders, 3 shipments (1 received with a stem missing, "
        f"1 in transit), return {rma.number} in quarantine"
    )
