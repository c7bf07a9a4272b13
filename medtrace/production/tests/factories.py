"""Small builders for the production tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import Bom, Location, Material, Product
from medtrace.masterdata.tests import factories as md
from medtrace.procurement.models import MaterialLot
from medtrace.procurement.tests.factories import Proc, accepted_lots, proc_world
from medtrace.production import services
from medtrace.production import services_orders as orders
from medtrace.production.models import SerialRule, WorkOrder
from medtrace.trace.tests.factories import World


def serial_product(**extra: Any) -> Product:
    return md.product(tracking="serial", **extra)


def rule(product: Product, **data: Any) -> SerialRule:
    values: dict[str, Any] = {"prefix": "SN", "sequence_width": 5}
    values.update(data)
    return services.serial_rule_set(product=product, data=values, user=None, reason="test")


# Work orders ------------------------------------------------------------------------------------


@dataclass
class Prod:
    """The trace world with a production line, released BOMs, serial rules and received,
    inspected material: resin lot R-001 (100 EA) and pump serials P-1..P-3."""

    p: Proc
    line: Location
    board_material: Material
    bom: Bom
    board_bom: Bom
    resin_lot: MaterialLot
    pumps: list[MaterialLot]

    @property
    def w(self) -> World:
        return self.p.w


def released_bom(product: Product, lines: list[tuple[Material, str]], version: str = "A") -> Bom:
    bom = md.bom(product_=product, lines=lines, version=version)
    return md_services.bom_release(bom=bom, user=None)


def prod_world() -> Prod:
    p = proc_world()
    w = p.w
    line = md.location(
        owner=w.maker, kind="production_line", name="输液泵装配线", parent_id=w.plant.pk
    )
    board_material = md.material(
        tracking="serial",
        kind="subassembly",
        name="Control board (in-house)",
        gtin=w.gtin(w.board),
        gcp_length=7,
        critical=True,
    )
    for material in (w.resin, w.pump):
        md_services.material_update(
            material=material, data={"critical": True}, user=None, reason="critical to quality"
        )
    bom = released_bom(w.device, [(w.resin, "2"), (w.pump, "1"), (board_material, "1")])
    board_bom = released_bom(w.board, [(w.resin, "1")])
    rule(w.device, prefix="D")
    rule(w.board, prefix="B")
    resin, pumps = accepted_lots(p)
    return Prod(p, line, board_material, bom, board_bom, resin, pumps)


def work_order(
    x: Prod, product: Product | None = None, *, release: bool = True, **data: Any
) -> WorkOrder:
    product = product or x.w.device
    values: dict[str, Any] = {"product_id": product.pk, "quantity": 10, "line_id": x.line.pk}
    values.update(data)
    order = orders.work_order_create(data=values, user=None)
    if release:
        order = orders.work_order_release(work_order=order, user=None)
    return order
