"""Recall test data: the distribution world (maker, distributor, hospital A, hospital B with
licences, QA/RA who signs, sales, warehouse) with units made, released, shipped and received
through the real services, and supplier parts of a lot fitted into devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medtrace.accounts.models import User
from medtrace.distribution.services import shipment_create, shipment_receive
from medtrace.distribution.tests.factories import Dist, dist, user
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Party
from medtrace.recalls import services
from medtrace.recalls.models import RecallCampaign, RecallNotice

QA_PASSWORD = "pw-qa_dist"
HHE = {
    "hazard": "Occlusion alarm may not sound",
    "severity": "serious injury",
    "probability": "remote",
    "population": "ICU patients on infusion",
}


@dataclass
class R:
    d: Dist
    distributor_user: User
    engineer: User
    auditor: User

    @property
    def w(self) -> Any:
        return self.d.w

    @property
    def qa(self) -> User:
        return self.d.qa

    @property
    def hospital_b(self) -> Party:
        return self.d.other_hospital

    # Units ---------------------------------------------------------------------------------

    def stock(self, *serials: str, lot: str | None = None) -> list[str]:
        """Made and released, in our finished-goods warehouse."""
        return self.d.ready(*serials, lot=lot)

    def shipped(self, epcs: list[str], to: Party) -> None:
        order = self.d.order(len(epcs), customer=to)
        shipment = shipment_create(order=order, scans=epcs, user=self.d.sales)
        receiver = {
            self.w.hospital.pk: self.d.hospital_user,
            self.hospital_b.pk: self.d.other_user,
            self.w.distributor.pk: self.distributor_user,
        }[to.pk]
        shipment_receive(shipment=shipment, scans=epcs, user=receiver)

    def at(self, to: Party, *serials: str, lot: str | None = None) -> list[str]:
        epcs = self.stock(*serials, lot=lot)
        self.shipped(epcs, to)
        return epcs

    def in_transit(self, to: Party, *serials: str, lot: str | None = None) -> list[str]:
        epcs = self.stock(*serials, lot=lot)
        order = self.d.order(len(epcs), customer=to)
        shipment_create(order=order, scans=epcs, user=self.d.sales)
        return epcs

    def parts(self, *serials: str, lot: str) -> list[str]:
        """Supplier parts (the micro pump) of supplier lot ``lot``, received into our stock."""
        parts = [self.w.pump_sn(s) for s in serials]
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=parts,
                    biz_step="receiving",
                    disposition="in_progress",
                    biz_location=self.w.warehouse.sgln,
                    sources=ev.parties("source", owner=self.w.supplier),
                    destinations=ev.parties("destination", owner=self.w.maker, holder=self.w.maker),
                    ilmd={"cbvmda:lotNumber": lot},
                )
            ],
            user=None,
        )
        return parts

    def fit(self, device: str, *parts: str) -> None:
        ev.emit(
            [
                ev.association_event(
                    action="ADD",
                    parent=device,
                    children=list(parts),
                    biz_step="assembling",
                    biz_location=self.w.plant.sgln,
                )
            ],
            user=None,
        )

    # Campaigns -----------------------------------------------------------------------------

    def open(self, kind: str = "serials", drill: bool = False, **params: Any) -> RecallCampaign:
        return self.open_scope(kind, params, drill=drill)

    def open_scope(
        self, kind: str, params: dict[str, Any], *, drill: bool = False
    ) -> RecallCampaign:
        return services.recall_open(
            title="IP-9 occlusion alarm",
            reason="Occlusion alarm may fail (complaint trend)",
            kind=kind,
            params=params,
            drill=drill,
            user=self.qa,
        )

    def approved(self, campaign: RecallCampaign, *, level: int = 2) -> RecallCampaign:
        services.recall_classify(
            campaign=campaign,
            cn_level=level,
            fda_class="II",
            depth="user",
            hhe=HHE,
            strategy="Notify consignees; return units in stock; field correction on site",
            user=self.qa,
        )
        return services.recall_approve(campaign=campaign, password=QA_PASSWORD, user=self.qa)

    def notified(self, campaign: RecallCampaign) -> list[RecallNotice]:
        services.recall_notices_create(campaign=campaign, user=self.qa)
        return services.recall_notices_send(campaign=campaign, user=self.qa)


def recall_world() -> R:
    d = dist()
    return R(
        d=d,
        distributor_user=user("dist_partner", party=d.w.distributor),
        engineer=user("engineer_rc", role="service"),
        auditor=user("auditor_rc", role="auditor"),
    )
