"""Test data for the warehouse: the trace world plus a finished-goods warehouse with two bins,
and units made, released and stored through the real ledger and quality services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Location
from medtrace.masterdata.tests import factories as md
from medtrace.quality import services as quality
from medtrace.trace.tests import factories as f


@dataclass
class Site:
    w: f.World
    store: Location  # 成品仓库 (warehouse)
    a01: Location  # bin A01
    b02: Location  # bin B02
    line: Location  # production line

    def sn(self, serial: str) -> str:
        return self.w.device_sn(serial)


def site() -> Site:
    w = f.world()
    store = md.location(owner=w.maker, kind="warehouse", parent_id=w.warehouse.pk, code="WH1",
                        name="成品仓库")  # fmt: skip
    a01 = md.location(owner=w.maker, kind="bin", parent_id=store.pk, code="WH1-A01",
                      name="成品仓 A01")  # fmt: skip
    b02 = md.location(owner=w.maker, kind="bin", parent_id=store.pk, code="WH1-B02",
                      name="成品仓 B02")  # fmt: skip
    line = md.location(owner=w.maker, kind="production_line", parent_id=w.plant.pk, code="L1",
                       name="装配线")  # fmt: skip
    return Site(w, store, a01, b02, line)


def in_days(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def make(
    s: Site,
    *serials: str,
    expiry: str | date | None = None,
    at: Location | None = None,
    lot: str | None = None,
    when: datetime | None = None,
    product: Any = None,
) -> list[str]:
    """Commission units of the device at ``at`` (default bin A01)."""
    product = product or s.w.device
    epcs = [ev.unit_epc(product, serial) for serial in serials]
    ilmd: dict[str, Any] = {}
    if expiry:
        ilmd["cbvmda:itemExpirationDate"] = str(expiry)
    if lot:
        ilmd["cbvmda:lotNumber"] = lot
    place = (at or s.a01).sgln
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=epcs,
                biz_step="commissioning",
                disposition="active",
                read_point=place,
                biz_location=place,
                ilmd=ilmd or None,
                at=when,
            )
        ],
        user=None,
    )
    return epcs


def release(epcs: list[str], qa: Any) -> None:
    quality.release_create(targets=epcs, user=qa, password="pw-" + qa.username)


def stock(s: Site, qa: Any, *serials: str, **kw: Any) -> list[str]:
    """Units made and released: ready to pick."""
    epcs = make(s, *serials, **kw)
    release(epcs, qa)
    return epcs
