"""Test data for complaints: the service scene (hospital A and B, delivered pumps) plus units
with a lot, department users and hospital partner users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medtrace.accounts.models import User
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Party
from medtrace.service.tests.lifecycle_factories import Scene, ago, partner, scene, staff

__all__ = ["C", "ago", "complaints_world", "partner", "staff"]


@dataclass
class C:
    s: Scene
    qa: User
    service: User
    sales: User
    production: User
    auditor: User
    hospital_a: User
    hospital_b: User

    @property
    def w(self) -> Any:
        return self.s.w

    @property
    def gtin(self) -> str:
        return str(self.w.gtin(self.w.device))

    def udi(self, serial: str) -> str:
        return f"(01){self.gtin}(21){serial}"

    def lot_class(self, lot: str) -> str:
        return udi.lgtin_urn(self.gtin, lot, 7)

    def unit(
        self,
        serial: str,
        *,
        lot: str = "L1",
        hospital: Party | None = None,
        ship: bool = True,
        days: int = 50,
    ) -> str:
        """A pump of lot ``lot`` made ``days`` ago (the lot class named by a quantity event
        too), shipped to and received by ``hospital`` (default A)."""
        epc = self.s.unit(serial)
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=[epc],
                    biz_step="commissioning",
                    disposition="active",
                    at=ago(days=days),
                    read_point=self.w.plant.sgln,
                    biz_location=self.w.warehouse.sgln,
                    ilmd={"cbvmda:lotNumber": lot},
                ),
                ev.object_event(
                    quantities=[{"epcClass": self.lot_class(lot), "quantity": 1.0}],
                    biz_step="inspecting",
                    disposition="active",
                    at=ago(days=days, minutes=-1),
                    read_point=self.w.plant.sgln,
                ),
            ],
            user=None,
        )
        if ship:
            hospital = hospital or self.w.hospital
            self.s.ship(epc, hospital, days=days - 5)
            self.s.receive(epc, hospital, days=days - 6)
        return epc


def complaints_world() -> C:
    s = scene()
    return C(
        s,
        qa=staff("qa", "qa_ra"),
        service=staff("svc", "service"),
        sales=staff("sales", "sales"),
        production=staff("prod", "production"),
        auditor=staff("aud", "auditor"),
        hospital_a=partner("hosp_a", s.w.hospital),
        hospital_b=partner("hosp_b", s.hospital_b),
    )
