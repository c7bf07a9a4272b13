from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import translation

from medtrace.accounts.models import User
from medtrace.masterdata.models import Bom, Location, Material, Party, Product

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Party, Location, Product, Material, Bom, User)}


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """`medtrace demo` into the empty test database, run once for the module (its output is
    returned), in a transaction rolled back at the end; each test runs in a savepoint inside
    it, so what one test changes (a second load, a renamed product) is gone for the next."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = io.StringIO()
            with translation.override("en"):
                call_command("demo", stdout=out)
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_the_demo_loads_a_realistic_manufacturer_and_is_idempotent(demo: str) -> None:
    first = _counts()

    call_command("demo", stdout=io.StringIO())

    assert _counts() == first
    assert Product.objects.values_list("risk_class", flat=True).distinct().count() == 2 or set(
        Product.objects.values_list("risk_class", flat=True)
    ) >= {"I", "III"}
    assert Product.objects.filter(implantable=True).exists()
    assert Product.objects.filter(single_use=True, tracking="lot").exists()
    assert Product.objects.filter(issuing_agency="hibcc").exists()
    assert Party.objects.filter(role="distributor").count() >= 1
    assert Party.objects.filter(role="hospital").count() >= 2
    assert Party.objects.filter(role="supplier").count() >= 2
    assert Bom.objects.filter(status="released").count() >= 3
    hospital_user = User.objects.get(username="hospital_a")
    assert hospital_user.party is not None and hospital_user.party.role == "hospital"
    assert "password" in demo and "hospital_a" in demo


def test_demo_if_empty_leaves_an_existing_database_alone(demo: str) -> None:
    Product.objects.filter(model="EP-01").update(name="renamed by a user")
    out = io.StringIO()

    call_command("demo", "--if-empty", stdout=out)

    assert Product.objects.get(model="EP-01").name == "renamed by a user"
    assert "not reloaded" in out.getvalue()


def test_the_demo_story_puts_pumps_in_hospitals(demo: str) -> None:
    from medtrace.ledger.models import Event, EventEpc, UnitState

    pump = Product.objects.get(model="IP-300")
    assert Event.objects.count() > 300
    # Installed at a hospital (some were maintained, repaired or scrapped since).
    installed = (
        EventEpc.objects.filter(event__biz_step="installing", epc__in=UnitState.objects.filter(
            product=pump).values("epc"))
        .values("epc")
        .distinct()
    )  # fmt: skip
    assert installed.count() >= 50
    _every_phase_is_living()


def _every_phase_is_living() -> None:
    """`make run` shows a living factory (issue 5): units stand in every phase right now."""
    from medtrace.distribution.models import Shipment
    from medtrace.ledger.models import UnitState
    from medtrace.procurement.models import MaterialLot
    from medtrace.production.models import WorkOrder
    from medtrace.quality.models import Hold, Nonconformance, ReleaseItem
    from medtrace.service.models import InstalledUnit, MaintenanceVisit, ServiceTicket
    from medtrace.warehouse.models import StockCount

    now = {
        "procurement: supplier lots awaiting incoming inspection": MaterialLot.objects.filter(
            status="awaiting_inspection"
        ),
        "production: work orders in progress": WorkOrder.objects.filter(status="in_progress"),
        "quality: open holds": Hold.objects.filter(lifted_at__isnull=True),
        "quality: open nonconformances": Nonconformance.objects.exclude(status="closed"),
        "quality: released units": ReleaseItem.objects.all(),
        "warehouse: units packed in cases": UnitState.objects.filter(
            container__startswith="urn:epc:id:sscc:",
            disposition__in=("in_progress", "container_closed"),
        ),
        "warehouse: stock counts": StockCount.objects.all(),
        "distribution: units in transit": UnitState.objects.filter(disposition="in_transit"),
        "distribution: shipments received": Shipment.objects.exclude(status="in_transit"),
        "use: installed units": InstalledUnit.objects.filter(status="in_use"),
        "service: maintenance visits": MaintenanceVisit.objects.all(),
        "service: repair tickets": ServiceTicket.objects.all(),
        "end-of-life: scrapped units": UnitState.objects.filter(disposition="destroyed"),
    }
    empty = [what for what, qs in now.items() if not qs.exists()]
    assert not empty, f"the demo has nothing in: {empty}"
