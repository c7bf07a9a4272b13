"""Installation at a hospital department (issue 5 item 6): the installing event at the
department, and every refusal with its unit, reason and field; a refused installation stores
nothing (no row, no event, no audit entry)."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    SequenceViolation,
    ValidationFailed,
)
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.quality import services as quality
from medtrace.service import selectors, services
from medtrace.service.models import InstalledUnit, InstallStatus

from .lifecycle_factories import Scene, partner, scene, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def counts() -> tuple[int, int, int]:
    return InstalledUnit.objects.count(), Event.objects.count(), AuditEntry.objects.count()


def refused(exc_type: type[Exception], **kw: Any) -> Any:
    before = counts()
    with pytest.raises(exc_type) as exc:
        services.installation_create(**kw)
    assert counts() == before, "a refused installation stores nothing"
    return exc.value


def test_installing_a_held_unit_records_the_event_at_the_department(
    s: Scene, engineer: Any
) -> None:
    epc = s.delivered("P1")

    row = services.installation_create(
        unit=s.udi("P1"), department_id=s.icu.pk, user=engineer, note="bed 3"
    )

    assert row.number.startswith("IB-")
    assert (row.unit_epc, row.serial, row.hospital, row.department) == (
        epc,
        "P1",
        s.w.hospital,
        s.icu,
    )
    assert row.status == InstallStatus.IN_USE and row.engineer == "Engineer"
    event = row.event
    assert event is not None
    assert (event.biz_step, event.disposition, event.biz_location, event.read_point) == (
        "installing",
        "active",
        s.icu.sgln,
        s.icu.sgln,
    )
    bt = event.document["bizTransactionList"][0]
    assert bt["type"] == "urn:medtrace:btt:installation" and bt["bizTransaction"].endswith(
        row.number
    )
    state = UnitState.objects.get(epc=epc)
    assert state.biz_location == s.icu.sgln and state.disposition == "active"
    assert AuditEntry.objects.filter(
        object_type="service.installedunit", object_id=str(row.pk), action="create"
    ).exists()


def test_installing_a_scrapped_unit_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P2")
    ev.emit(
        [ev.object_event(epcs=[epc], biz_step="decommissioning", disposition="destroyed")],
        user=None,
    )

    exc = refused(SequenceViolation, unit=epc, department_id=s.icu.pk, user=engineer)

    assert exc.field == "unit"
    assert "Cannot install P2" in exc.message and "scrapped" in exc.message
    assert exc.details[0]["reasons"][0]["code"] == "scrapped"


def test_installing_a_unit_still_in_transit_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.make("P3")
    s.ship(epc, s.w.hospital)

    exc = refused(SequenceViolation, unit=epc, department_id=s.icu.pk, user=engineer)

    assert exc.field == "unit" and "in transit" in exc.message
    assert exc.details[0]["reasons"][0]["code"] == "in_transit"


def test_installing_a_unit_another_party_holds_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P4", hospital=s.hospital_b)

    exc = refused(SequenceViolation, unit=epc, department_id=s.icu.pk, user=engineer)

    assert exc.field == "unit"
    assert "held by 第二人民医院" in exc.message and s.w.hospital.name in exc.message
    assert exc.details[0]["reasons"][0]["code"] == "not_held"


def test_installing_a_unit_still_at_the_maker_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.make("P5")

    exc = refused(SequenceViolation, unit=epc, department_id=s.icu.pk, user=engineer)

    assert "not by 第一人民医院" in exc.message


def test_installing_a_recalled_or_expired_unit_is_refused(
    s: Scene, engineer: Any, qa_manager: Any
) -> None:
    recalled = s.delivered("P6")
    expired = s.delivered("P7", expiry="2020-01-31")
    quality.hold_place(targets=[recalled], kind="recall", reason="battery recall", user=qa_manager)

    exc = refused(SequenceViolation, unit=recalled, department_id=s.icu.pk, user=engineer)
    assert "under recall" in exc.message and "battery recall" in exc.message
    exc = refused(SequenceViolation, unit=expired, department_id=s.icu.pk, user=engineer)
    assert "expired on 2020-01-31" in exc.message


def test_the_department_must_be_a_department_of_a_hospital(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P8")

    exc = refused(ValidationFailed, unit=epc, department_id=s.w.ward.pk, user=engineer)
    assert exc.field == "department_id" and "choose one of the hospital's departments" in (
        exc.message
    )
    exc = refused(ValidationFailed, unit=epc, department_id=s.w.warehouse.pk, user=engineer)
    assert exc.field == "department_id" and "installed at hospitals" in exc.message
    exc = refused(NotFound, unit=epc, department_id=999999, user=engineer)
    assert exc.field == "department_id"
    exc = refused(
        ValidationFailed,
        unit=epc,
        department_id=s.icu.pk,
        hospital_id=s.hospital_b.pk,
        user=engineer,
    )
    assert exc.field == "hospital_id"


def test_an_unknown_unit_or_a_lot_is_refused_with_the_field(s: Scene, engineer: Any) -> None:
    exc = refused(NotFound, unit="NOPE-1", department_id=s.icu.pk, user=engineer)
    assert exc.field == "unit" and "NOPE-1" in exc.message
    exc = refused(ValidationFailed, unit="", department_id=s.icu.pk, user=engineer)
    assert exc.field == "unit"


def test_a_future_installation_time_is_refused(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P9")

    exc = refused(
        ValidationFailed,
        unit=epc,
        department_id=s.icu.pk,
        user=engineer,
        installed_at="2999-01-01T00:00:00+08:00",
    )

    assert exc.field == "installed_at" and "future" in exc.message


def test_moving_a_unit_ends_its_previous_installation(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P10")
    first = services.installation_create(unit=epc, department_id=s.icu.pk, user=engineer)

    with pytest.raises(Conflict) as exc:
        services.installation_create(unit=epc, department_id=s.icu.pk, user=engineer)
    assert "already installed at" in exc.value.message
    second = services.installation_create(unit=epc, department_id=s.surgery.pk, user=engineer)

    first.refresh_from_db()
    assert first.status == InstallStatus.REMOVED and "moved to" in first.end_reason
    assert second.status == InstallStatus.IN_USE
    assert UnitState.objects.get(epc=epc).biz_location == s.surgery.sgln


def test_a_hospital_records_installations_of_its_own_units_only(s: Scene) -> None:
    own = s.delivered("P11")
    theirs = s.delivered("P12", hospital=s.hospital_b)
    staff_a, staff_b = partner("hosp_a_user", s.w.hospital), partner("hosp_b_user", s.hospital_b)

    row = services.installation_create(unit=own, department_id=s.icu.pk, user=staff_a)
    assert row.installed_by == staff_a

    # Another hospital's department or unit does not exist for a partner (404, not 403).
    exc = refused(NotFound, unit=theirs, department_id=s.icu_b.pk, user=staff_a)
    assert exc.field == "department_id"
    exc = refused(NotFound, unit=theirs, department_id=s.icu.pk, user=staff_a)
    assert exc.field == "unit"
    # hospital B sees neither the installation nor its existence
    assert list(selectors.installation_list(user=staff_b)) == []
    with pytest.raises(NotFound):
        selectors.installation_get(user=staff_b, pk=row.pk)
    assert selectors.installation_get(user=staff_a, pk=row.pk) == row


def test_departments_without_permission_cannot_install(s: Scene, warehouse_clerk: Any) -> None:
    epc = s.delivered("P13")
    distributor = partner("dist_user", s.w.distributor)

    exc = refused(PermissionDenied, unit=epc, department_id=s.icu.pk, user=warehouse_clerk)
    assert "service.add_installedunit" in exc.message
    exc = refused(PermissionDenied, unit=epc, department_id=s.icu.pk, user=distributor)
    assert "Partner accounts" in exc.message


def test_an_installation_links_the_implant_record_without_copying_patient_data(
    s: Scene, engineer: Any
) -> None:
    epc = s.delivered("P14")
    other = s.delivered("P15")
    s.w.device.implantable = True
    s.w.device.save(update_fields=["implantable"])
    record = services.implant_record_create(
        data={
            "udi": s.udi("P14"),
            "hospital_id": s.w.hospital.pk,
            "implanted_on": "2025-03-20",
            "patient_name": "张三丰",
            "patient_id_number": "11010519491231002X",
            "patient_phone": "13812345678",
        },
        user=None,
    )
    exc = refused(
        ValidationFailed,
        unit=other,
        department_id=s.icu.pk,
        user=engineer,
        implant_record_id=record.pk,
    )
    assert exc.field == "implant_record_id" and "is of unit P14" in exc.message

    row = services.installation_create(
        unit=epc, department_id=s.icu.pk, user=engineer, implant_record_id=record.pk
    )
    assert row.implant_record == record
    stored = repr(row.event.document) if row.event else ""
    stored += repr(list(AuditEntry.objects.filter(object_type="service.installedunit").values()))
    for secret in ("张三丰", "11010519491231002X", "13812345678"):
        assert secret not in stored


def test_removing_an_installation_ends_it_with_a_reason(s: Scene, engineer: Any) -> None:
    epc = s.delivered("P16")
    row = services.installation_create(unit=epc, department_id=s.icu.pk, user=engineer)

    with pytest.raises(ValidationFailed) as exc:
        services.installation_remove(installation=row, user=engineer, reason=" ")
    assert exc.value.field == "reason"
    ended = services.installation_remove(installation=row, user=engineer, reason="returned")

    assert ended.status == InstallStatus.REMOVED and ended.end_reason == "returned"
    with pytest.raises(Conflict):
        services.installation_remove(installation=row, user=engineer, reason="again")
