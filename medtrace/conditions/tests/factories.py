"""Small builders for the conditions tests: a world with commissioned units, cases and lots."""

from __future__ import annotations

from typing import Any

from medtrace.conditions import services
from medtrace.conditions.models import ConditionProfile
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Product
from medtrace.trace.tests import factories as f


def commission(w: f.World, *serials: str, product: Product | None = None) -> list[str]:
    """Commission units of ``product`` (default: the world's device) through the ledger."""
    epcs = [w.unit(product or w.device, s) for s in serials]
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                read_point=w.plant.sgln,
                biz_location=w.warehouse.sgln,
                at=f_time(1),
            )
        ],
        user=None,
    )
    return epcs


def pack(w: f.World, case: str, units: list[str]) -> str:
    ev.emit(
        [
            ev.aggregation_event(
                action="ADD",
                parent=case,
                children=units,
                biz_step="packing",
                biz_location=w.warehouse.sgln,
                at=f_time(2),
            )
        ],
        user=None,
    )
    return case


def lot(w: f.World, name: str, product: Product | None = None) -> str:
    """A lot of ``product`` made in the ledger (commissioned at class level)."""
    cls = ev.lot_class(product or w.device, name)
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                quantities=[ev.quantity(cls, 100, "EA")],
                biz_step="commissioning",
                disposition="active",
                biz_location=w.warehouse.sgln,
                at=f_time(1),
            )
        ],
        user=None,
    )
    return cls


def f_time(day: int, hour: int = 9) -> Any:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(2026, 3, day, hour, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def profile(product: Product, phase: str = "storage", **limits: Any) -> ConditionProfile:
    data: dict[str, Any] = {"phase": phase, **limits}
    return services.profile_create(product=product, data=data, user=None, reason="test")


def reading(time: str, kind: str, value: float, uom: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"time": time, "type": kind, "value": value}
    if uom:
        out["uom"] = uom
    return out
