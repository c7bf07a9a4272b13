"""Demo warehouse story at 苏州康迈医疗科技 (run after the demos that make and release units).

陈仓管 (the demo user ``warehouse``) takes the released units still at our locations:

- packs them by product into cases of four (SSCC, closed, logistic label), and the cases of the
  largest product onto a pallet;
- puts the pallet, the other cases and one loose unit away into 成品仓 A01 (SZ-WH1-A01);
- counts A01 and does not find the loose unit: the reconciled count lists it as missing and
  the warehouse gets an alert (its ledger state is left as it was);
- opens a pick list for two units of the packed product, with its FEFO proposal.

Idempotent: nothing happens when a container or a stock count already exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

from medtrace.accounts.models import User
from medtrace.ledger.models import UnitState
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Location, Product, TrackingMode

from . import selectors, services
from .models import Container, ContainerLevel, Pick, StockCount

BIN = "SZ-WH1-A01"  # 成品仓 A01 库位
PER_CASE = 4
MAX_UNITS = 24


def _units() -> list[UnitState]:
    """Released, available units of our serialized products, not packed, not picked."""
    ours = Product.objects.filter(manufacturer=own_party(), tracking=TrackingMode.SERIAL)
    return list(
        selectors.available_units()
        .filter(product__in=ours, container__isnull=True)
        .exclude(epc__in=Pick.objects.filter(active=True).values("epc"))
        .order_by("product_id", "first_event_time", "epc")[:MAX_UNITS]
    )


def load_demo(log: Callable[[str], None] = print) -> None:
    # The distribution story packs a case of its own, so a container alone does not mean the
    # warehouse story ran; its stock count does.
    if StockCount.objects.exists():
        return
    place = Location.objects.filter(code=BIN).first()
    if place is None:
        log("warehouse demo: no location SZ-WH1-A01; load the master-data demo first")
        return
    units = _units()
    if len(units) < 3:
        log(
            "warehouse demo: fewer than 3 released units at our locations; run the production "
            "and quality demos first"
        )
        return
    clerk = User.objects.filter(username="warehouse").first()
    by_product: dict[int | None, list[UnitState]] = defaultdict(list)
    for unit in units:
        by_product[unit.product_id].append(unit)
    groups = sorted(by_product.values(), key=len, reverse=True)
    loose = groups[0].pop()  # stays loose, and is not found by the count
    with transaction.atomic():
        tops: list[str] = [loose.epc]
        for index, group in enumerate(groups):
            cases = []
            for start in range(0, len(group), PER_CASE):
                case = services.container_create(level=ContainerLevel.CASE, user=clerk)
                services.container_pack(
                    container=case,
                    children=[u.epc for u in group[start : start + PER_CASE]],
                    user=clerk,
                    close=True,
                )
                cases.append(case)
            if index == 0 and len(cases) >= 2:
                pallet = services.container_create(level=ContainerLevel.PALLET, user=clerk)
                services.container_pack(
                    container=pallet, children=[c.epc for c in cases], user=clerk, close=True
                )
                tops.append(pallet.epc)
            else:
                tops.extend(c.epc for c in cases)
        move = services.stock_move(
            scans=tops, to_location=place, user=clerk, note="成品入库 A01 (demo)"
        )
        count = services.stock_count_create(location=place, user=clerk, note="月度盘点 (demo)")
        here = list(selectors.expected_at(place).filter(container__isnull=True))
        services.stock_count_scan(
            count=count, scans=[s.epc for s in here if s.epc != loose.epc], user=clerk
        )
        services.stock_count_reconcile(count=count, user=clerk)
        product = Product.objects.filter(pk=loose.product_id or 0).first()
        if product is not None:
            services.pick_list_create(product=product, quantity=2, user=clerk, note="demo")
    log(
        f"warehouse demo: {Container.objects.count()} cases/pallets, {move.number} into "
        f"{place.code}, count {count.number} with 1 missing ({loose.serial})"
    )
