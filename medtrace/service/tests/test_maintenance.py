"""Maintenance and calibration plans and visits; the due list (issue 5 item 6)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import NotFound, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.services import attachment_read
from medtrace.service import selectors, services
from medtrace.service.models import MaintenanceVisit
from medtrace.trace.phases import SERVICE, phase_of

from .lifecycle_factories import Scene, ago, partner, scene, staff

pytestmark = pytest.mark.django_db

ITEMS = [
    {"name": "flow rate", "unit": "mL/h", "min": 99, "max": 101},
    {"name": "occlusion alarm"},
]


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def plan(s: Scene, user: Any, **over: Any) -> Any:
    data = {
        "name": "半年保养",
        "kind": "maintenance",
        "product_id": s.w.device.pk,
        "interval_days": 180,
        "items": ITEMS,
        **over,
    }
    return services.maintenance_plan_create(data=data, user=user)


def installed(s: Scene, user: Any, serial: str, *, days: int = 30, hospital: Any = None) -> Any:
    hospital = hospital or s.w.hospital
    epc = s.delivered(serial, hospital=hospital)
    department = s.icu if hospital == s.w.hospital else s.icu_b
    return services.installation_create(
        unit=epc, department_id=department.pk, user=user, installed_at=ago(days=days)
    )


GOOD = [
    {"name": "flow rate", "value": 100.2},
    {"name": "occlusion alarm", "value": True},
]


def test_a_plan_names_its_product_or_one_unit(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer)
    assert p.number.startswith("MP-") and p.unit_epc == ""
    assert p.items[0] == {"name": "flow rate", "unit": "mL/h", "min": 99.0, "max": 101.0}
    epc = s.delivered("U1")
    one = plan(s, engineer, product_id=None, unit=s.udi("U1"), kind="calibration")
    assert (one.unit_epc, one.product) == (epc, s.w.device)

    for data, field in (
        ({"kind": "weekly"}, "kind"),
        ({"interval_days": 0}, "interval_days"),
        ({"product_id": None}, "product_id"),
        ({"items": [{"name": "x", "min": 5, "max": 1}]}, "items[0].max"),
        ({"items": [{"name": "x"}, {"name": "X"}]}, "items[1].name"),
        ({"colour": "red"}, "colour"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            plan(s, engineer, **data)
        assert exc.value.field == field, data
    with pytest.raises(PermissionDenied):
        plan(s, staff("clerk", "warehouse"))


def test_a_visit_records_work_test_data_and_the_next_due_date(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer)
    row = installed(s, engineer, "U2")
    report = {
        "name": "flow.csv",
        "content_base64": base64.b64encode(b"t,flow\n0,100.2\n").decode(),
        "content_type": "text/csv",
    }

    visit = services.maintenance_visit_record(
        plan=p,
        unit=s.udi("U2"),
        user=engineer,
        work_done="更换泵管, 校准流速",
        measurements=GOOD,
        attachment=report,
        performed_at=ago(days=2),
    )

    assert visit.number.startswith("MV-") and visit.result == "pass"
    assert visit.installation == row
    assert visit.next_due == timezone.localtime(visit.performed_at).date() + timedelta(days=180)
    assert visit.measurements[0] == {
        "name": "flow rate",
        "value": 100.2,
        "unit": "mL/h",
        "min": 99.0,
        "max": 101.0,
        "pass": True,
    }
    assert visit.measurements[1]["pass"] is True
    assert visit.attachment is not None and attachment_read(visit.attachment).startswith(b"t,")
    event = visit.event
    assert event is not None
    assert event.biz_step == ev.MAINTAINING and event.disposition == "active"
    assert event.biz_location == s.icu.sgln
    assert event.document["bizTransactionList"][0]["type"] == "testres"
    assert event.document["bizTransactionList"][0]["bizTransaction"].endswith(visit.number)
    assert phase_of(biz_step=event.biz_step, event_type="ObjectEvent", action="OBSERVE") == SERVICE


def test_a_calibration_visit_uses_the_calibrating_step(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer, kind="calibration", items=[])
    installed(s, engineer, "U3")

    visit = services.maintenance_visit_record(
        plan=p, unit=s.unit("U3"), user=engineer, work_done="calibrated", result="pass"
    )

    assert visit.event is not None and visit.event.biz_step == ev.CALIBRATING


def test_an_out_of_limit_value_fails_the_visit_and_it_is_due_again_at_once(
    s: Scene, engineer: Any
) -> None:
    p = plan(s, engineer)
    installed(s, engineer, "U4")
    bad = [{"name": "flow rate", "value": 97.5}, {"name": "occlusion alarm", "value": True}]

    with pytest.raises(ValidationFailed) as exc:
        services.maintenance_visit_record(
            plan=p, unit=s.unit("U4"), user=engineer, work_done="x", measurements=bad, result="pass"
        )
    assert exc.value.field == "result" and "'flow rate' is out of its limits" in exc.value.message
    visit = services.maintenance_visit_record(
        plan=p, unit=s.unit("U4"), user=engineer, work_done="flow low", measurements=bad
    )

    assert visit.result == "fail" and visit.measurements[0]["pass"] is False
    assert visit.next_due == timezone.localdate()
    assert UnitState.objects.get(epc=s.unit("U4")).disposition == "non_conformant"


def test_every_plan_item_must_be_answered(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer)
    installed(s, engineer, "U5")
    before = (MaintenanceVisit.objects.count(), Event.objects.count(), AuditEntry.objects.count())

    with pytest.raises(ValidationFailed) as exc:
        services.maintenance_visit_record(
            plan=p, unit=s.unit("U5"), user=engineer, work_done="x", measurements=GOOD[:1]
        )
    assert exc.value.field == "measurements" and "'occlusion alarm' has no result" in (
        exc.value.message
    )
    with pytest.raises(ValidationFailed) as exc:
        services.maintenance_visit_record(
            plan=p, unit=s.unit("U5"), user=engineer, work_done=" ", measurements=GOOD
        )
    assert exc.value.field == "work_done"
    assert (
        MaintenanceVisit.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
    ) == before


def test_a_visit_to_a_unit_the_plan_does_not_cover_is_refused(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer)
    board = s.w.board_sn("B1")
    ev.emit(
        [
            ev.object_event(
                action="ADD", epcs=[board], biz_step="commissioning", disposition="active"
            )
        ],
        user=None,
    )

    with pytest.raises(ValidationFailed) as exc:
        services.maintenance_visit_record(
            plan=p, unit=board, user=engineer, work_done="x", measurements=GOOD
        )
    assert exc.value.field == "unit" and "covers only those" in exc.value.message


def test_servicing_a_scrapped_unit_is_refused(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer)
    epc = s.delivered("U6")
    ev.emit(
        [ev.object_event(epcs=[epc], biz_step="decommissioning", disposition="destroyed")],
        user=None,
    )

    with pytest.raises(SequenceViolation) as exc:
        services.maintenance_visit_record(
            plan=p, unit=epc, user=engineer, work_done="x", measurements=GOOD
        )
    assert exc.value.field == "unit" and "Cannot service U6" in exc.value.message
    assert not MaintenanceVisit.objects.exists()


def test_maintenance_due_lists_due_and_overdue_units(s: Scene, engineer: Any) -> None:
    p = plan(s, engineer, interval_days=90)
    never = installed(s, engineer, "D1", days=100)  # due 10 days ago: overdue
    soon = installed(s, engineer, "D2", days=80)  # due in 10 days
    later = installed(s, engineer, "D3", days=10)  # due in 80 days
    visited = installed(s, engineer, "D4", days=200)
    services.maintenance_visit_record(
        plan=p,
        unit=s.unit("D4"),
        user=engineer,
        work_done="ok",
        measurements=GOOD,
        performed_at=ago(days=5),
    )
    failed = installed(s, engineer, "D5", days=20)
    services.maintenance_visit_record(
        plan=p,
        unit=s.unit("D5"),
        user=engineer,
        work_done="flow low",
        performed_at=ago(days=1),
        measurements=[
            {"name": "flow rate", "value": 90},
            {"name": "occlusion alarm", "value": True},
        ],
    )
    today = timezone.localdate()

    with CaptureQueriesContext(connection) as queries:
        due = selectors.maintenance_due(within_days=30, today=today)
    assert len(queries) <= 4, "set-based: one statement and bulk loads"

    by_serial = {d.installation.serial: d for d in due}
    assert set(by_serial) == {"D1", "D2", "D5"}
    assert by_serial["D1"].overdue and by_serial["D1"].days_overdue >= 9
    assert by_serial["D1"].last_visit is None
    assert not by_serial["D2"].overdue and -11 <= by_serial["D2"].days_overdue <= -9
    assert by_serial["D5"].overdue and by_serial["D5"].last_visit is not None
    assert due[0].installation.serial == "D1"
    everything = {d.installation.serial for d in selectors.maintenance_due(within_days=365)}
    assert {"D3", "D4"} <= everything
    del never, soon, later, visited, failed


def test_a_unit_plan_and_a_retired_plan(s: Scene, engineer: Any, qa_manager: Any) -> None:
    product_plan = plan(s, engineer, interval_days=30)
    installed(s, engineer, "D6", days=40)
    installed(s, engineer, "D7", days=40)
    plan(s, engineer, product_id=None, unit=s.unit("D6"), kind="calibration", interval_days=20)

    due = selectors.maintenance_due(within_days=0)
    assert sorted((d.installation.serial, d.plan.kind) for d in due) == [
        ("D6", "calibration"),
        ("D6", "maintenance"),
        ("D7", "maintenance"),
    ]
    services.maintenance_plan_set_active(
        plan=product_plan, active=False, user=qa_manager, reason="replaced"
    )
    assert [(d.installation.serial, d.plan.kind) for d in selectors.maintenance_due()] == [
        ("D6", "calibration")
    ]


def test_a_hospital_sees_only_its_own_due_units(s: Scene, engineer: Any) -> None:
    plan(s, engineer, interval_days=30)
    installed(s, engineer, "H1", days=40)
    installed(s, engineer, "H2", days=40, hospital=s.hospital_b)
    staff_b = partner("hosp_b_user", s.hospital_b)

    assert [d.installation.serial for d in selectors.maintenance_due(user=staff_b)] == ["H2"]
    assert list(selectors.plan_list(user=staff_b)) == []
    with pytest.raises(NotFound):
        selectors.plan_get(user=staff_b, pk=1)
    with pytest.raises(PermissionDenied):
        services.maintenance_visit_record(
            plan=selectors.plan_list(user=None).get(),
            unit=s.unit("H2"),
            user=staff_b,
            work_done="x",
            measurements=GOOD,
        )
