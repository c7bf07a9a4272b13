"""Test data for the installed base, maintenance, tickets and scrap.

``scene()`` builds on the trace world (maker, supplier, distributor, hospital A, products,
materials): a second hospital, a department at each, and helpers that put units through the
real ledger capture path: commissioned pumps with a serialized part (the supplier's micro pump,
standing in for a battery) fitted by an AssociationEvent ADD, shipped to a hospital and received
there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.lifecycle import events as ev
from medtrace.masterdata.models import Location, Party
from medtrace.masterdata.tests import factories as md
from medtrace.trace.tests import factories as f


@dataclass
class Scene:
    w: f.World
    hospital_b: Party
    site_b: Location
    icu: Location  # a department of hospital A (w.hospital)
    surgery: Location  # another department of hospital A
    icu_b: Location  # a department of hospital B

    # Units ---------------------------------------------------------------------------------

    def unit(self, serial: str) -> str:
        return self.w.device_sn(serial)

    def part(self, serial: str) -> str:
        return self.w.pump_sn(serial)

    def udi(self, serial: str) -> str:
        return f"(01){self.w.gtin(self.w.device)}(21){serial}"

    def receive_parts(self, *serials: str, at: Any = None) -> list[str]:
        parts = [self.part(s) for s in serials]
        ev.emit(
            [
                ev.object_event(
                    action="ADD",
                    epcs=parts,
                    biz_step="receiving",
                    disposition="in_progress",
                    at=at or ago(days=60),
                    biz_location=self.w.warehouse.sgln,
                    sources=ev.parties("source", owner=self.w.supplier),
                    destinations=ev.parties("destination", owner=self.w.maker, holder=self.w.maker),
                )
            ],
            user=None,
        )
        return parts

    def make(self, serial: str, *, part: str | None = None, expiry: str | None = None) -> str:
        """A commissioned pump with part ``part`` fitted (received first)."""
        epc = self.unit(serial)
        ilmd = {"cbvmda:itemExpirationDate": expiry} if expiry else None
        events = [
            ev.object_event(
                action="ADD",
                epcs=[epc],
                biz_step="commissioning",
                disposition="active",
                at=ago(days=50),
                read_point=self.w.plant.sgln,
                biz_location=self.w.warehouse.sgln,
                ilmd=ilmd,
            )
        ]
        if part:
            self.receive_parts(part)
            events.append(
                ev.association_event(
                    action="ADD",
                    parent=epc,
                    children=[self.part(part)],
                    biz_step="assembling",
                    at=ago(days=50, minutes=-5),
                    biz_location=self.w.plant.sgln,
                )
            )
        ev.emit(events, user=None)
        return epc

    def ship(self, epc: str, to: Party, *, days: int = 40) -> None:
        ev.emit(
            [
                ev.object_event(
                    epcs=[epc],
                    biz_step="shipping",
                    disposition="in_transit",
                    at=ago(days=days),
                    read_point=self.w.warehouse.sgln,
                    sources=ev.parties("source", owner=self.w.maker, holder=self.w.maker),
                    destinations=ev.parties("destination", owner=to, holder=to),
                )
            ],
            user=None,
        )

    def receive(self, epc: str, hospital: Party, *, days: int = 39) -> None:
        site = self.w.ward if hospital == self.w.hospital else self.site_b
        ev.emit(
            [
                ev.object_event(
                    epcs=[epc],
                    biz_step="receiving",
                    disposition="in_progress",
                    at=ago(days=days),
                    read_point=site.sgln,
                    biz_location=site.sgln,
                    sources=ev.parties("source", holder=self.w.maker),
                    destinations=ev.parties("destination", holder=hospital),
                )
            ],
            user=None,
        )

    def delivered(
        self,
        serial: str,
        *,
        part: str | None = None,
        hospital: Party | None = None,
        expiry: str | None = None,
    ) -> str:
        """A pump made, shipped to and received by ``hospital`` (default A)."""
        hospital = hospital or self.w.hospital
        epc = self.make(serial, part=part, expiry=expiry)
        self.ship(epc, hospital)
        self.receive(epc, hospital)
        return epc


def ago(*, days: int = 0, hours: int = 0, minutes: int = 0) -> Any:
    return timezone.now() - timedelta(days=days, hours=hours, minutes=minutes)


def scene() -> Scene:
    w = f.world()
    hospital_b = md.party(role="hospital", prefix="6920009", name="第二人民医院")
    site_b = md.location(owner=hospital_b, kind="site", ref=1, name="Main site B")
    icu = md.location(
        owner=w.hospital, kind="hospital_department", ref=11, name="重症监护室", parent_id=w.ward.pk
    )
    surgery = md.location(
        owner=w.hospital, kind="hospital_department", ref=12, name="手术室", parent_id=w.ward.pk
    )
    icu_b = md.location(
        owner=hospital_b, kind="hospital_department", ref=11, name="ICU B", parent_id=site_b.pk
    )
    return Scene(w, hospital_b, site_b, icu, surgery, icu_b)


def staff(username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username, password="pw-" + username, printed_name=username.title()
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def partner(username: str, party: Party) -> User:
    return User.objects.create_user(
        username=username, password="pw-" + username, printed_name=username.title(), party=party
    )
