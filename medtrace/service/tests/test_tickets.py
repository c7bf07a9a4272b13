"""Repair tickets (issue 5 item 6): diagnosis, part swap (AssociationEvents DELETE and ADD, so
the genealogy stays true), test data before return, time to resolve."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, NotFound, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.quality import services as quality
from medtrace.service import selectors, services
from medtrace.service.models import PartSwap, ServiceTicket, TicketStatus
from medtrace.trace.selectors import trace_backward, trace_forward

from .lifecycle_factories import Scene, ago, partner, scene, staff

pytestmark = pytest.mark.django_db

PASS = [{"name": "flow rate", "value": 100.1, "min": 99, "max": 101}]


@pytest.fixture
def s() -> Scene:
    return scene()


@pytest.fixture
def engineer() -> Any:
    return staff("engineer", "service")


def parts_of(epc: str, *, history: bool = False) -> dict[str, bool]:
    tree = trace_backward(id=epc, user=None, include_history=history)
    return {n["epc"]: n.get("current", True) for n in _nodes(tree)}


def _nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(tree["root"]["children"])
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.get("children") or [])
    return out


def reached(epc: str, *, history: bool = False) -> dict[str, bool]:
    """What the forward trace of ``epc`` reaches (the start object itself left out)."""
    units = trace_forward(id=epc, user=None, include_history=history).units
    return {u["epc"]: u["current"] for u in units if u["epc"] != epc}


def opened(s: Scene, engineer: Any, serial: str = "T1", part: str = "B1") -> ServiceTicket:
    epc = s.delivered(serial, part=part)
    services.installation_create(
        unit=epc, department_id=s.icu.pk, user=engineer, installed_at=ago(days=20)
    )
    return services.ticket_open(
        unit=s.udi(serial),
        symptom="电池续航不足 30 分钟",
        user=engineer,
        reporter_contact="ICU 护士长",
        opened_at=ago(days=3),
    )


def test_a_ticket_walks_from_report_to_closure(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    assert ticket.number.startswith("ST-") and ticket.status == TicketStatus.OPEN
    assert ticket.reporter == s.w.hospital and ticket.installation is not None

    services.ticket_diagnose(
        ticket=ticket,
        diagnosis="电池老化",
        user=engineer,
        rma_reference="RMA-2026-000007",
        at=ago(days=2),
    )
    s.receive_parts("B2")
    swap = services.ticket_swap_part(
        ticket=ticket,
        removed=s.part("B1"),
        installed=s.part("B2"),
        user=engineer,
        at=ago(days=2, hours=-1),
    )
    services.ticket_test(ticket=ticket, user=engineer, measurements=PASS, at=ago(days=1))
    resolved = services.ticket_resolve(
        ticket=ticket, resolution="更换电池", user=engineer, at=ago(hours=20)
    )
    closed = services.ticket_close(ticket=ticket, user=engineer)

    assert closed.status == TicketStatus.CLOSED
    assert resolved.time_to_resolve is not None
    assert abs(resolved.time_to_resolve.total_seconds() - (3 * 24 - 20) * 3600) < 120
    assert selectors.duration_text(resolved.time_to_resolve).startswith("2 d 4 h")
    assert swap.removed_serial == "B1" and swap.installed_serial == "B2"
    events = list(
        Event.objects.filter(document__bizTransactionList__isnull=False).order_by(
            "event_time", "pk"
        )
    )
    mine = [e for e in events if ticket.number in str(e.document.get("bizTransactionList"))]
    assert [(e.event_type, e.action, e.biz_step, e.disposition) for e in mine] == [
        ("ObjectEvent", "OBSERVE", "repairing", "in_progress"),
        ("AssociationEvent", "DELETE", "removing", None),
        ("ObjectEvent", "OBSERVE", "removing", "needs_replacement"),
        ("AssociationEvent", "ADD", "repairing", None),
        ("ObjectEvent", "OBSERVE", "repairing", "conformant"),
        ("ObjectEvent", "OBSERVE", "repairing", "active"),
    ]
    for event in mine:
        types = {b["type"] for b in event.document["bizTransactionList"]}
        assert {"urn:medtrace:btt:service_ticket", "rma"} <= types
        assert event.biz_location == s.icu.sgln
    assert "testres" in {b["type"] for b in mine[4].document["bizTransactionList"]}
    assert UnitState.objects.get(epc=ticket.unit_epc).disposition == "active"
    assert UnitState.objects.get(epc=s.part("B1")).disposition == "needs_replacement"


def test_a_part_swap_keeps_the_genealogy_true(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    unit, old, new = ticket.unit_epc, s.part("B1"), s.part("B2")
    s.receive_parts("B2")
    assert parts_of(unit) == {old: True}
    assert reached(old) == {unit: True}

    services.ticket_diagnose(ticket=ticket, diagnosis="电池老化", user=engineer)
    services.ticket_swap_part(ticket=ticket, removed=old, installed=new, user=engineer)

    assert parts_of(unit) == {new: True}
    assert parts_of(unit, history=True) == {old: False, new: True}
    assert reached(old) == {}
    assert reached(old, history=True) == {unit: False}
    assert reached(new) == {unit: True}
    assert UnitState.objects.get(epc=new).installed_in == unit
    assert UnitState.objects.get(epc=old).installed_in is None
    assert selectors.fitted_in([old, new]) == {new: unit}


def test_the_removed_part_must_be_in_the_unit_now(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    other = s.delivered("T2", part="B9")
    s.receive_parts("B2", "B3")
    services.ticket_diagnose(ticket=ticket, diagnosis="x", user=engineer)
    before = (PartSwap.objects.count(), Event.objects.count())

    with pytest.raises(SequenceViolation) as exc:
        services.ticket_swap_part(
            ticket=ticket, removed=s.part("B2"), installed=s.part("B3"), user=engineer
        )
    assert exc.value.field == "removed" and "is not fitted in anything" in exc.value.message
    with pytest.raises(SequenceViolation) as exc:
        services.ticket_swap_part(
            ticket=ticket, removed=s.part("B9"), installed=s.part("B3"), user=engineer
        )
    assert exc.value.field == "removed" and f"is fitted in {other}" in exc.value.message
    assert (PartSwap.objects.count(), Event.objects.count()) == before


def test_the_new_part_must_be_free_to_fit(s: Scene, engineer: Any, qa_manager: Any) -> None:
    ticket = opened(s, engineer)
    s.delivered("T3", part="B7")  # B7 is fitted in T3
    s.receive_parts("H1", "X1")
    quality.hold_place(targets=[s.part("H1")], reason="ESD damage suspected", user=qa_manager)
    ev.emit(
        [ev.object_event(epcs=[s.part("X1")], biz_step="destroying", disposition="destroyed")],
        user=None,
    )
    services.ticket_diagnose(ticket=ticket, diagnosis="x", user=engineer)

    def swap(new: str) -> Exception:
        with pytest.raises((SequenceViolation, NotFound)) as exc:
            services.ticket_swap_part(
                ticket=ticket, removed=s.part("B1"), installed=new, user=engineer
            )
        assert exc.value.field == "installed"
        return exc.value

    def message(new: str) -> str:
        return str(swap(new))

    assert "is already fitted in T3" in message(s.part("B7"))
    assert "ESD damage suspected" in message(s.part("H1"))
    assert "was scrapped" in message(s.part("X1"))
    assert "No event in the ledger names" in message(s.part("NEVER"))
    assert parts_of(ticket.unit_epc) == {s.part("B1"): True}


def test_resolving_needs_a_passed_test_after_the_last_swap(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    s.receive_parts("B2", "B3")
    services.ticket_diagnose(ticket=ticket, diagnosis="x", user=engineer)

    with pytest.raises(ValidationFailed) as exc:
        services.ticket_resolve(ticket=ticket, resolution="done", user=engineer)
    assert exc.value.field == "test" and "not been recorded" in exc.value.message
    services.ticket_test(
        ticket=ticket, user=engineer, measurements=[{"name": "flow rate", "value": 80, "min": 99}]
    )
    with pytest.raises(ValidationFailed) as exc:
        services.ticket_resolve(ticket=ticket, resolution="done", user=engineer)
    assert "has failed" in exc.value.message
    services.ticket_test(ticket=ticket, user=engineer, measurements=PASS)
    services.ticket_swap_part(
        ticket=ticket, removed=s.part("B1"), installed=s.part("B2"), user=engineer
    )
    ticket.refresh_from_db()
    assert ticket.test_result == "" and ticket.status == TicketStatus.IN_REPAIR
    with pytest.raises(ValidationFailed):
        services.ticket_resolve(ticket=ticket, resolution="done", user=engineer)
    services.ticket_test(
        ticket=ticket,
        user=engineer,
        result="pass",
        attachment=("report.pdf", b"%PDF-1.4 test", "application/pdf"),
    )
    resolved = services.ticket_resolve(ticket=ticket, resolution="done", user=engineer)
    assert resolved.status == TicketStatus.RESOLVED and resolved.test_attachment is not None


def test_steps_out_of_order_are_refused_with_the_status(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    s.receive_parts("B2")

    with pytest.raises(Conflict) as exc:
        services.ticket_swap_part(
            ticket=ticket, removed=s.part("B1"), installed=s.part("B2"), user=engineer
        )
    assert exc.value.field == "status" and "is open" in exc.value.message
    with pytest.raises(ValidationFailed) as invalid:
        services.ticket_close(ticket=ticket, user=engineer)
    assert invalid.value.field == "note"
    closed = services.ticket_close(ticket=ticket, user=engineer, note="no fault found")
    assert closed.status == TicketStatus.CLOSED and closed.resolved_at is None
    with pytest.raises(Conflict):
        services.ticket_diagnose(ticket=ticket, diagnosis="x", user=engineer)
    with pytest.raises(ValidationFailed) as invalid:
        services.ticket_diagnose(
            ticket=opened(s, engineer, "T4", "B4"),
            diagnosis="x",
            user=engineer,
            at="2000-01-01T00:00:00+08:00",
        )
    assert invalid.value.field == "at" and "before the ticket was opened" in invalid.value.message


def test_a_scrapped_unit_gets_no_ticket_and_no_parts(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    s.receive_parts("B2")
    services.ticket_diagnose(ticket=ticket, diagnosis="x", user=engineer)
    ev.emit(
        [
            ev.object_event(
                epcs=[ticket.unit_epc], biz_step="decommissioning", disposition="destroyed"
            )
        ],
        user=None,
    )

    with pytest.raises(SequenceViolation) as exc:
        services.ticket_swap_part(
            ticket=ticket, removed=s.part("B1"), installed=s.part("B2"), user=engineer
        )
    assert "Cannot fit parts into T1" in exc.value.message and "scrapped" in exc.value.message
    with pytest.raises(SequenceViolation):
        services.ticket_open(unit=ticket.unit_epc, symptom="x", user=engineer)


def test_a_hospital_reports_faults_on_its_own_units(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    theirs = s.delivered("T5", hospital=s.hospital_b)
    staff_a, staff_b = partner("hosp_a_user", s.w.hospital), partner("hosp_b_user", s.hospital_b)

    mine = services.ticket_open(unit=s.udi("T1"), symptom="报警", user=staff_a)
    assert mine.reporter == s.w.hospital and mine.reporter_contact == "Hosp_A_User"
    with pytest.raises(NotFound) as exc:
        services.ticket_open(unit=theirs, symptom="x", user=staff_a)
    assert exc.value.field == "unit"
    with pytest.raises(Exception) as denied:
        services.ticket_diagnose(ticket=mine, diagnosis="x", user=staff_a)
    assert "Partner accounts" in str(denied.value)
    assert {t.pk for t in selectors.ticket_list(user=staff_a)} == {ticket.pk, mine.pk}
    assert list(selectors.ticket_list(user=staff_b)) == []
    with pytest.raises(NotFound):
        selectors.ticket_get(user=staff_b, pk=ticket.pk)


def test_ticket_changes_are_audited(s: Scene, engineer: Any) -> None:
    ticket = opened(s, engineer)
    services.ticket_diagnose(ticket=ticket, diagnosis="电池老化", user=engineer)

    entries = AuditEntry.objects.filter(
        object_type="service.serviceticket", object_id=str(ticket.pk)
    ).order_by("seq")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes["status"] == ["open", "diagnosed"]
