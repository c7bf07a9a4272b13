"""Units with a known life, for the unit page tests: made at the plant, inspected, packed,
shipped to a hospital, received and installed there, all captured as EPCIS 2.0 JSON through the
real capture path, by a named user."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from html import unescape
from typing import Any

from django.test import Client

from medtrace.accounts.models import User
from medtrace.ledger.services import capture_document
from medtrace.masterdata.models import Location, Party
from medtrace.trace.tests import factories as f

# Our own document numbers, as lifecycle.events.bt names them.
SHIPMENT = "SHP-2025-000007"

_cases = itertools.count(700)


def bt(w: f.World, number: str) -> str:
    return f"urn:epcglobal:cbv:bt:{w.maker.gln}:{number}"


def capture(*events: dict[str, Any], user: User | None) -> None:
    capture_document(data=f.document(*events), user=user)


@dataclass
class Life:
    epc: str
    events: list[dict[str, Any]]


def life(
    w: f.World,
    serial: str,
    *,
    hospital: Party | None = None,
    ward: Location | None = None,
    extra: int = 0,
    user: User | None = None,
    installed: bool = True,
) -> Life:
    """One device's life: commissioning (day 1), inspection (2), packing (3), ``extra``
    storage checks (day 4), shipping to ``hospital`` (5, despatch advice SHP-2025-000007),
    receipt at its ``ward`` (6), installation (7)."""
    hospital = hospital or w.hospital
    ward = ward or w.ward
    unit = w.device_sn(serial)
    case = w.sscc(next(_cases))
    to_hospital = [("possessing_party", w.pgln(hospital)), ("owning_party", w.pgln(hospital))]
    events = [
        f.commission([unit], f.t(1), read_point=w.plant.sgln, location=w.plant.sgln),
        f.obj([unit], f.t(2), biz_step="inspecting", disposition="conformant",
              read_point=w.plant.sgln),
        f.aggregate(case, [unit], f.t(3), location=w.warehouse.sgln),
        *[f.obj([unit], f.t(4, 9 + n % 12), biz_step="storing", location=w.warehouse.sgln)
          for n in range(extra)],
        f.obj([case], f.t(5), biz_step="shipping", disposition="in_transit",
              read_point=w.warehouse.sgln, btt=[("desadv", bt(w, SHIPMENT))],
              sources=[("possessing_party", w.pgln(w.maker))], destinations=to_hospital),
        f.obj([case], f.t(6), biz_step="receiving", disposition="in_progress",
              location=ward.sgln, sources=[("possessing_party", w.pgln(w.maker))],
              destinations=to_hospital),
    ]  # fmt: skip
    if installed:
        installing = f.obj(
            [unit], f.t(7), biz_step="installing", disposition="active", location=ward.sgln
        )
        events.append(installing)
    capture(*events, user=user)
    return Life(unit, events)


def page(client: Client, epc: str, language: str = "zh-hans") -> str:
    client.cookies["django_language"] = language
    response = client.get("/trace/", {"id": epc})
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


def visible_text(html: str) -> str:
    """What a reader sees: no tags (so no attribute values), entities decoded."""
    body = html.split("<main>", 1)[-1]
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
