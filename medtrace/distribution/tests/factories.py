"""Test data for distribution: the trace world with licensed customers, units made, released
and packed through the real services, and a confirmed sales order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.lifecycle import events as ev
from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import Party, PartyLicence
from medtrace.masterdata.tests import factories as md
from medtrace.quality import services as quality
from medtrace.trace.tests import factories as f

from ..models import SalesOrder
from ..services import sales_order_confirm, sales_order_create

FAR = date(2099, 12, 31)


def user(
    username: str, *, role: str | None = None, party: Party | None = None, signs: bool = False
) -> User:
    """A user; only those who e-sign get a (slow to hash) password: "pw-<username>"."""
    u = User.objects.create_user(
        username=username,
        password="pw-" + username if signs else None,
        printed_name=username.replace("_", " ").title(),
        party=party,
    )
    if role:
        u.groups.add(Group.objects.get(name=role))
    return u


def licence(party: Party, *, kind: str | None = None, expires: date | None = FAR, number: str = ""):
    kind = kind or (
        "medical_institution_licence" if party.role == "hospital" else "distribution_licence"
    )
    number = number or (
        f"苏宁食药监械经营许{party.pk:08d}号"
        if kind == "distribution_licence"
        else f"MI-{party.pk}"
    )
    return md_services.licence_add(
        party=party, data={"kind": kind, "number": number, "expires_on": expires}, user=None
    )


@dataclass
class Dist:
    w: f.World
    qa: User
    sales: User
    warehouse: User
    hospital_user: User
    other_hospital: Party
    other_user: User
    hospital_licence: PartyLicence
    n: int = 0

    def commission(self, *serials: str, expiry: str | None = None, lot: str | None = None):
        epcs = [self.w.device_sn(s) for s in serials]
        ilmd: dict[str, Any] = {}
        if expiry:
            ilmd["cbvmda:itemExpirationDate"] = expiry
        if lot:
            ilmd["cbvmda:lotNumber"] = lot
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=epcs,
                    biz_step="commissioning",
                    disposition="active",
                    read_point=self.w.plant.sgln,
                    biz_location=self.w.warehouse.sgln,
                    ilmd=ilmd or None,
                )
            ],
            user=None,
        )
        return epcs

    def release(self, epcs: list[str]) -> None:
        quality.release_create(targets=epcs, user=self.qa, password="pw-qa_dist")

    def ready(self, *serials: str, **kw: Any) -> list[str]:
        """Commissioned and released units."""
        epcs = self.commission(*serials, **kw)
        self.release(epcs)
        return epcs

    def pack(self, ref: int, epcs: list[str]) -> str:
        sscc = self.w.sscc(ref)
        ev.emit(
            [
                ev.aggregation_event(
                    action="ADD",
                    parent=sscc,
                    children=epcs,
                    biz_step="packing",
                    disposition="in_progress",
                    biz_location=self.w.warehouse.sgln,
                )
            ],
            user=None,
        )
        return sscc

    def order(
        self,
        quantity: int = 5,
        *,
        customer: Party | None = None,
        confirm: bool = True,
        po: str = "HOSP-PO-77",
    ) -> SalesOrder:
        customer = customer or self.w.hospital
        ship_to = customer.locations.order_by("pk").first()
        assert ship_to is not None
        order = sales_order_create(
            data={
                "customer_id": customer.pk,
                "ship_to_id": ship_to.pk,
                "customer_po": po,
                "lines": [{"product_id": self.w.device.pk, "quantity": quantity}],
            },
            user=self.sales,
        )
        if confirm:
            order = sales_order_confirm(order=order, user=self.sales)
        return order


def dist() -> Dist:
    w = f.world()
    other = md.party(role="hospital", prefix="6920009", name="第二人民医院")
    md.location(owner=other, kind="site", ref=1, name="Ward B")
    hospital_licence = licence(w.hospital)
    licence(w.distributor)
    licence(other)
    return Dist(
        w=w,
        qa=user("qa_dist", role="qa_ra", signs=True),
        sales=user("sales_dist", role="sales"),
        warehouse=user("warehouse_dist", role="warehouse"),
        hospital_user=user("hospital_dist", party=w.hospital),
        other_hospital=other,
        other_user=user("other_dist", party=other),
        hospital_licence=hospital_licence,
    )


def days(n: int) -> str:
    return (timezone.localdate() + timedelta(days=n)).isoformat()
