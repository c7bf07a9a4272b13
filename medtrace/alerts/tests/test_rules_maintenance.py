"""Rule maintenance_due: due within the threshold -> a warning to service, overdue -> critical;
one alert per plan, hospital and due date; once per occurrence; nothing when off or far off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule, AlertStatus
from medtrace.alerts.rules_maintenance import maintenance_due_evaluate
from medtrace.service import services
from medtrace.service.tests.lifecycle_factories import Scene, ago, scene, staff

pytestmark = pytest.mark.django_db

GOOD = [{"name": "flow rate", "value": 100.2}, {"name": "occlusion alarm", "value": True}]


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def _plan(s: Scene, user: Any, **over: Any) -> Any:
    data = {
        "name": "季度保养",
        "kind": "maintenance",
        "product_id": s.w.device.pk,
        "interval_days": 90,
        "items": [
            {"name": "flow rate", "unit": "mL/h", "min": 99, "max": 101},
            {"name": "occlusion alarm"},
        ],
        **over,
    }
    return services.maintenance_plan_create(data=data, user=user)


def _installed(s: Scene, user: Any, serial: str, *, days: int, hospital: Any = None) -> Any:
    hospital = hospital or s.w.hospital
    epc = s.delivered(serial, hospital=hospital)
    department = s.icu if hospital == s.w.hospital else s.icu_b
    return services.installation_create(
        unit=epc, department_id=department.pk, user=user, installed_at=ago(days=days)
    )


def _alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="maintenance_due").order_by("pk"))


def test_due_units_warn_service_per_hospital_and_overdue_ones_are_critical(
    s: Scene, engineer: Any
) -> None:
    plan = _plan(s, engineer)
    _installed(s, engineer, "D1", days=80)  # due in 10 days
    _installed(s, engineer, "D2", days=80)  # due the same day: same alert
    _installed(s, engineer, "D3", days=95)  # due 5 days ago
    _installed(s, engineer, "D4", days=10)  # due in 80 days: not yet
    _installed(s, engineer, "D5", days=80, hospital=s.hospital_b)

    maintenance_due_evaluate()

    by_level: dict[str, list[Alert]] = {}
    for alert in _alerts():
        by_level.setdefault(alert.evidence["level"], []).append(alert)
    due_a = next(a for a in by_level["due"] if a.evidence["hospital"]["id"] == s.w.hospital.pk)
    assert due_a.recipient_role == "service" and due_a.severity == "warning"
    assert [u["serial"] for u in due_a.evidence["units"]] == ["D1", "D2"]
    assert due_a.evidence["plan"]["number"] == plan.number and due_a.evidence["count"] == 2
    assert due_a.evidence["due_on"] == (timezone.localdate() + timedelta(days=10)).isoformat()
    assert due_a.object_type == "service.maintenanceplan" and due_a.object_id == str(plan.pk)
    assert "2 units at 第一人民医院" in due_a.title
    assert len(by_level["due"]) == 2  # hospital A and hospital B
    (overdue,) = by_level["overdue"]
    assert overdue.severity == "critical" and overdue.evidence["days_overdue"] == 5
    assert [u["serial"] for u in overdue.evidence["units"]] == ["D3"]


def test_re_evaluating_raises_nothing_new_until_the_unit_is_overdue(
    s: Scene, engineer: Any
) -> None:
    _plan(s, engineer)
    _installed(s, engineer, "D1", days=80)
    maintenance_due_evaluate()
    Alert.objects.update(status=AlertStatus.ACKNOWLEDGED)

    maintenance_due_evaluate()
    assert len(_alerts()) == 1

    maintenance_due_evaluate(today=timezone.localdate() + timedelta(days=12))
    due, overdue = _alerts()
    assert (due.evidence["level"], overdue.evidence["level"]) == ("due", "overdue")


def test_a_visit_moves_the_due_date_and_settles_the_unit(s: Scene, engineer: Any) -> None:
    plan = _plan(s, engineer)
    _installed(s, engineer, "D1", days=95)
    services.maintenance_visit_record(
        plan=plan, unit=s.unit("D1"), user=engineer, work_done="ok", measurements=GOOD
    )
    maintenance_due_evaluate()
    assert _alerts() == []


def test_below_the_threshold_or_disabled_or_overdue_off(s: Scene, engineer: Any) -> None:
    _plan(s, engineer)
    _installed(s, engineer, "D1", days=80)  # due in 10 days
    AlertRule.objects.filter(kind="maintenance_due").update(threshold=Decimal(5))
    maintenance_due_evaluate()
    assert _alerts() == []

    AlertRule.objects.filter(kind="maintenance_due").update(enabled=False, threshold=30)
    assert maintenance_due_evaluate() == "maintenance_due: disabled"
    assert _alerts() == []

    # Without "overdue", an overdue unit is reported at the due level only.
    AlertRule.objects.filter(kind="maintenance_due").update(enabled=True, params={"overdue": False})
    maintenance_due_evaluate(today=timezone.localdate() + timedelta(days=12))
    (alert,) = _alerts()
    assert alert.evidence["level"] == "due" and alert.severity == "warning"


def test_calibration_is_reported_by_its_own_plan(s: Scene, engineer: Any) -> None:
    _plan(s, engineer, kind="calibration", name="年度校准", interval_days=365)
    _installed(s, engineer, "C1", days=360)

    ran = schedule.run_due(only="rule:maintenance_due")

    assert ran == {"rule:maintenance_due": "maintenance_due: 1 found, 1 new alerts"}
    (alert,) = _alerts()
    assert alert.evidence["plan"]["kind"] == "calibration"
    assert alert.title.startswith("Calibration due")
