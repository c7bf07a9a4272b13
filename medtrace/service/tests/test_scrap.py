"""Scrap and decommissioning with a reason and an e-signature (issue 5 item 6), and what a
scrapped unit can no longer do: be installed, serviced, fitted with parts or shipped."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditAction, AuditEntry
from medtrace.audit.signatures import signatures_for
from medtrace.errors import PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import rules
from medtrace.service import services
from medtrace.service.models import InstalledUnit, InstallStatus, ScrapRecord
from medtrace.trace.phases import END_OF_LIFE, phase_of

from .lifecycle_factories import Scene, partner, scene, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def scrap(s: Scene, user: Any, *units: str, password: str | None = None) -> ScrapRecord:
    return services.scrap_create(
        units=list(units),
        reason="跌落损坏, 无法修复",
        method="dismantled",
        user=user,
        password=password if password is not None else f"pw-{user.username}",
    )


def test_scrap_is_signed_and_decommissions_the_units(s: Scene, engineer: Any) -> None:
    installed = s.delivered("S1", part="B1")
    loose = s.delivered("S2")
    row = services.installation_create(unit=installed, department_id=s.icu.pk, user=engineer)

    record = scrap(s, engineer, s.udi("S1"), "S2")

    assert record.number.startswith("SCR-")
    assert sorted(record.items.values_list("serial", flat=True)) == ["S1", "S2"]
    (signature,) = signatures_for(record)
    assert signature.valid and signature.signature.meaning == "approved"
    assert signature.signature.username == "engineer"
    events = list(Event.objects.filter(biz_step="decommissioning").order_by("pk"))
    assert len(events) == 2  # one at the department, one where the loose unit is
    assert {(e.action, e.disposition) for e in events} == {("DELETE", "destroyed")}
    assert {e.biz_location for e in events} == {s.icu.sgln, None}
    assert all(record.number in str(e.document["bizTransactionList"]) for e in events)
    assert phase_of(biz_step="decommissioning", event_type="ObjectEvent", action="DELETE") == (
        END_OF_LIFE
    )
    for epc in (installed, loose, s.part("B1")):  # the fitted part goes with its device
        assert UnitState.objects.get(epc=epc).disposition == "destroyed"
    row.refresh_from_db()
    assert row.status == InstallStatus.SCRAPPED and record.number in row.end_reason
    assert AuditEntry.objects.filter(object_type="service.scraprecord", action="create").exists()


def test_a_wrong_password_stores_nothing(s: Scene, engineer: Any) -> None:
    epc = s.delivered("S3")
    services.installation_create(unit=epc, department_id=s.icu.pk, user=engineer)
    events = Event.objects.count()

    with pytest.raises(ValidationFailed) as exc:
        scrap(s, engineer, epc, password="wrong")

    assert exc.value.field == "password" and "wrong password" in exc.value.message
    assert not ScrapRecord.objects.exists() and Event.objects.count() == events
    assert not AuditEntry.objects.filter(
        object_type="service.scraprecord", action=AuditAction.CREATE
    ).exists()
    assert InstalledUnit.objects.get(unit_epc=epc).status == InstallStatus.IN_USE
    assert UnitState.objects.get(epc=epc).disposition == "active"
    # The failed attempt itself is on record (21 CFR 11.300: attempts are detected).
    assert AuditEntry.objects.filter(action=AuditAction.SIGN_FAILED).count() == 1


def test_a_reason_and_a_known_method_are_required(s: Scene, engineer: Any) -> None:
    epc = s.delivered("S4")
    for kw, field in (
        ({"reason": " "}, "reason"),
        ({"method": "burnt"}, "method"),
        ({"units": []}, "units"),
    ):
        data = {
            "units": [epc],
            "reason": "x",
            "method": "destroyed",
            "user": engineer,
            "password": "pw-engineer",
            **kw,
        }
        with pytest.raises(ValidationFailed) as exc:
            services.scrap_create(**data)
        assert exc.value.field == field
    assert not ScrapRecord.objects.exists()


def test_scrapping_twice_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.delivered("S5")
    scrap(s, engineer, epc)

    with pytest.raises(SequenceViolation) as exc:
        scrap(s, engineer, epc)

    assert exc.value.field == "units" and "Cannot scrap S5" in exc.value.message
    assert exc.value.details[0]["reasons"][0]["code"] == "scrapped"
    assert ScrapRecord.objects.count() == 1


def test_after_scrap_the_unit_is_not_installed_serviced_fitted_or_shipped(
    s: Scene, engineer: Any
) -> None:
    epc = s.delivered("S6", part="B1")
    plan = services.maintenance_plan_create(
        data={
            "name": "PM",
            "kind": "maintenance",
            "product_id": s.w.device.pk,
            "interval_days": 90,
        },
        user=engineer,
    )
    ticket = services.ticket_open(unit=epc, symptom="不开机", user=engineer)
    services.ticket_diagnose(ticket=ticket, diagnosis="主板烧毁", user=engineer)
    s.receive_parts("B2")
    scrap(s, engineer, epc)

    with pytest.raises(SequenceViolation) as exc:
        services.installation_create(unit=epc, department_id=s.icu.pk, user=engineer)
    assert "Cannot install S6" in exc.value.message and "scrapped" in exc.value.message
    with pytest.raises(SequenceViolation) as exc:
        services.maintenance_visit_record(
            plan=plan, unit=epc, user=engineer, work_done="x", result="pass"
        )
    assert "Cannot service S6" in exc.value.message
    with pytest.raises(SequenceViolation) as exc:
        services.ticket_swap_part(
            ticket=ticket, removed=s.part("B1"), installed=s.part("B2"), user=engineer
        )
    assert "Cannot fit parts into S6" in exc.value.message
    with pytest.raises(SequenceViolation) as exc:
        rules.check(rules.Step.SHIP, [epc])
    assert "Cannot ship S6" in exc.value.message and "scrapped" in exc.value.message


def test_only_permitted_staff_scrap(s: Scene, qa_manager: Any) -> None:
    epc = s.delivered("S7")
    hospital = partner("hosp_a_user", s.w.hospital)

    for user in (staff("clerk", "warehouse"), hospital):
        with pytest.raises(PermissionDenied):
            scrap(s, user, epc)
    assert scrap(s, qa_manager, epc).scrapped_by == qa_manager
