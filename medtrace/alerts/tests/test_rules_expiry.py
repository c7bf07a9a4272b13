"""Rules expiry_stock and expiry_installed: one alert per lot and place, within the threshold
only, once per level, none when the rule is off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule, AlertStatus
from medtrace.alerts.rules_expiry import expiry_installed_evaluate, expiry_stock_evaluate
from medtrace.distribution.tests.factories import Dist, days, dist
from medtrace.service import services as service
from medtrace.service.tests.lifecycle_factories import Scene, ago, scene, staff

pytestmark = pytest.mark.django_db


def _alerts(kind: str) -> list[Alert]:
    return list(Alert.objects.filter(kind=kind).order_by("pk"))


# Stock -----------------------------------------------------------------------------------------


@pytest.fixture
def d() -> Dist:
    return dist()


def test_stock_expiring_within_the_threshold_raises_one_alert_per_lot_and_place(d: Dist) -> None:
    d.ready("S1", "S2", "S3", lot="L1", expiry=days(30))
    d.ready("S4", lot="L2", expiry=days(200))  # beyond 90 days: not yet
    d.commission("S5", lot="L3", expiry=days(-2))  # expired, still on our shelf

    result = expiry_stock_evaluate()

    expiring, expired = sorted(_alerts("expiry_stock"), key=lambda a: a.evidence["lot"])
    assert expiring.evidence["lot"] == "L1" and expired.evidence["lot"] == "L3"
    assert expiring.recipient_role == "warehouse" and expiring.severity == "warning"
    assert expiring.evidence["count"] == "3" and expiring.evidence["level"] == "expiring"
    assert expiring.evidence["location"] == d.w.warehouse.sgln
    assert expiring.evidence["first_expiry"] == days(30)
    assert expiring.evidence["days_left"] == 30
    assert expiring.object_type == "lot" and expiring.object_id.endswith(".L1")
    assert "3 units of Infusion pump (IP-9) (lot L1) at FG warehouse expire on" in expiring.title
    assert expired.severity == "critical" and expired.evidence["level"] == "expired"
    assert "2 found, 2 new alerts" in result


def test_stock_shipped_to_a_customer_is_no_longer_ours_to_report(d: Dist) -> None:
    epcs = d.ready("S1", lot="L1", expiry=days(30))
    order = d.order(1)
    from medtrace.distribution.services import shipment_create

    shipment_create(order=order, scans=epcs, user=d.sales)

    expiry_stock_evaluate()

    assert _alerts("expiry_stock") == []


def test_re_evaluating_raises_nothing_new_but_an_expired_lot_alerts_again(d: Dist) -> None:
    d.ready("S1", lot="L1", expiry=days(10))
    expiry_stock_evaluate()
    (first,) = _alerts("expiry_stock")
    Alert.objects.filter(pk=first.pk).update(status=AlertStatus.RESOLVED)  # "scrap next week"

    expiry_stock_evaluate()
    assert len(_alerts("expiry_stock")) == 1  # the same condition: not again

    expiry_stock_evaluate(today=timezone.localdate() + timedelta(days=11))
    first_again, expired = _alerts("expiry_stock")
    assert first_again.pk == first.pk
    assert expired.evidence["level"] == "expired" and expired.severity == "critical"


def test_below_the_threshold_or_disabled_nothing_fires(d: Dist) -> None:
    d.ready("S1", lot="L1", expiry=days(30))
    AlertRule.objects.filter(kind="expiry_stock").update(threshold=Decimal(20))
    expiry_stock_evaluate()
    assert _alerts("expiry_stock") == []

    AlertRule.objects.filter(kind="expiry_stock").update(threshold=Decimal(90), enabled=False)
    assert expiry_stock_evaluate() == "expiry_stock: disabled"
    assert _alerts("expiry_stock") == []


def test_the_worker_runs_the_stock_rule_as_a_periodic_job(d: Dist) -> None:
    d.ready("S1", lot="L1", expiry=days(5))

    ran = schedule.run_due(only="rule:expiry_stock")

    assert ran == {"rule:expiry_stock": "expiry_stock: 1 found, 1 new alerts"}
    assert schedule.run_due(only="rule:expiry_stock") == {}  # not due again for 6 hours


def test_a_material_lot_in_stock_expiring_soon_is_reported_with_its_quantity_left() -> None:
    from medtrace.procurement.tests.factories import proc_world, purchase_order, receive

    p = proc_world()
    soon = timezone.localdate() + timedelta(days=20)
    receive(p, purchase_order(p), [{"line": 1, "lot": "R-009", "quantity": 40, "expires_on": soon}])

    expiry_stock_evaluate()

    (alert,) = _alerts("expiry_stock")
    assert alert.evidence["lot"] == "R-009" and alert.evidence["count"] == "40"
    assert alert.evidence["material_id"] == p.w.resin.pk
    assert alert.title.startswith("40 EA of PC resin (lot R-009) at the material stores expire")


# Installed base --------------------------------------------------------------------------------


@pytest.fixture
def s() -> Scene:
    return scene()


def _install(s: Scene, engineer: Any, serial: str, expiry: str, hospital: Any = None) -> Any:
    hospital = hospital or s.w.hospital
    epc = s.delivered(serial, hospital=hospital, expiry=expiry)
    department = s.icu if hospital == s.w.hospital else s.icu_b
    return service.installation_create(
        unit=epc, department_id=department.pk, user=engineer, installed_at=ago(days=30)
    )


def test_installed_units_expiring_alert_service_per_hospital_department(s: Scene) -> None:
    engineer = staff("engineer", "service")
    _install(s, engineer, "H1", days(60))
    _install(s, engineer, "H2", days(60))
    _install(s, engineer, "H3", days(60), hospital=s.hospital_b)
    _install(s, engineer, "H4", days(400))  # far off

    expiry_installed_evaluate()

    a, b = sorted(_alerts("expiry_installed"), key=lambda x: x.evidence["hospital"])
    assert {a.evidence["hospital"], b.evidence["hospital"]} == {
        s.w.hospital.name,
        s.hospital_b.name,
    }
    ours = a if a.evidence["hospital_id"] == s.w.hospital.pk else b
    assert ours.recipient_role == "service"
    assert ours.evidence["count"] == "2" and ours.evidence["serials"] == ["H1", "H2"]
    assert ours.evidence["department"] == s.icu.name
    assert ours.object_type == "masterdata.party"

    expiry_installed_evaluate()
    assert len(_alerts("expiry_installed")) == 2  # no duplicates


def test_installed_units_below_the_threshold_or_removed_do_not_alert(s: Scene) -> None:
    engineer = staff("engineer", "service")
    _install(s, engineer, "H1", days(60))
    AlertRule.objects.filter(kind="expiry_installed").update(threshold=Decimal(30))
    expiry_installed_evaluate()
    assert _alerts("expiry_installed") == []

    AlertRule.objects.filter(kind="expiry_installed").update(enabled=False, threshold=90)
    expiry_installed_evaluate()
    assert _alerts("expiry_installed") == []


def test_the_stock_evaluation_costs_the_same_queries_for_many_units(d: Dist) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    d.ready("S1", lot="L1", expiry=days(30))
    d.ready("T1", lot="L2", expiry=days(40))
    expiry_stock_evaluate()
    with CaptureQueriesContext(connection) as few:
        expiry_stock_evaluate()
    d.ready(*[f"M{n}" for n in range(40)], lot="L1", expiry=days(30))
    with CaptureQueriesContext(connection) as many:
        expiry_stock_evaluate()

    assert len(_alerts("expiry_stock")) == 2
    assert len(many) == len(few), "set-based: no query per unit"
