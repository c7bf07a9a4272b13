"""Opening a nonconformance: the record, its hold, the audit entry and the QA alert, in one
transaction; refusals store nothing."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.alerts.models import Alert
from medtrace.audit.models import AuditEntry
from medtrace.errors import PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle import rules
from medtrace.quality import selectors
from medtrace.quality.models import Hold, Nonconformance
from medtrace.quality.services import nonconformance_open
from medtrace.trace.tests import factories as f

from .conftest import commission

pytestmark = pytest.mark.django_db


def test_opening_a_nonconformance_holds_its_units_and_alerts_qa(
    w: f.World, production_operator: Any
) -> None:
    epcs = commission(w, "N1", "N2")
    nc = nonconformance_open(
        targets=epcs,
        title="Cold-room excursion",
        description="Cold room 2 read 31 °C for 40 minutes",
        source="COND-2026-000001",
        category="environment",
        user=production_operator,
    )
    assert nc.number.startswith("NC-") and nc.status == "open"
    assert sorted(nc.items.values_list("target", flat=True)) == sorted(epcs)
    holds = list(Hold.objects.filter(source=nc.number))
    assert {h.target for h in holds} == set(epcs) and all(h.kind == "hold" for h in holds)
    with pytest.raises(SequenceViolation) as exc:
        rules.check(rules.Step.SHIP, epcs)
    assert "on QC hold" in exc.value.message and nc.number in exc.value.message
    alert = Alert.objects.get(kind="nonconformance_opened")
    assert alert.recipient_role == "qa_ra" and nc.number in alert.title
    entry = AuditEntry.objects.get(object_type="quality.nonconformance", action="create")
    assert entry.changes["targets"] == epcs
    assert Event.objects.filter(biz_step="holding").count() == 1


def test_a_nonconformance_without_a_hold_may_name_no_goods(w: f.World, qa_manager: Any) -> None:
    nc = nonconformance_open(
        targets=[],
        title="Humidity log gap",
        description="No readings for 3 h",
        category="process",
        user=qa_manager,
        hold=False,
    )
    assert nc.items.count() == 0 and not Hold.objects.exists()


def test_a_lot_nonconformance_holds_the_lot(w: f.World, qa_manager: Any) -> None:
    lot = w.resin_lot("R-77")
    nc = nonconformance_open(
        targets=[lot], title="Resin moisture", description="2.1 % > 0.2 %", user=qa_manager
    )
    item = nc.items.get()
    assert (item.gtin, item.lot) == (w.resin.gtin, "R-77")
    assert Hold.objects.get(source=nc.number).lot == "R-77"


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"title": " "}, "title", "title: say in a few words what is wrong"),
        ({"description": ""}, "description", "description: describe"),
        ({"category": "weather"}, "category", "'weather' is not a nonconformance category"),
        ({"targets": []}, "targets", "name at least one unit or lot"),
    ],
)
def test_a_wrong_nonconformance_is_refused_and_stores_nothing(
    w: f.World, qa_manager: Any, kw: dict[str, Any], field: str, text: str
) -> None:
    epcs = commission(w, "N9")
    events = Event.objects.count()
    audits = AuditEntry.objects.count()
    args: dict[str, Any] = {"targets": epcs, "title": "t", "description": "d", **kw}
    with pytest.raises(ValidationFailed) as exc:
        nonconformance_open(user=qa_manager, **args)
    assert exc.value.field == field and text in exc.value.message
    assert not Nonconformance.objects.exists() and not Hold.objects.exists()
    assert Event.objects.count() == events and AuditEntry.objects.count() == audits


def test_holding_a_unit_that_was_never_made_is_refused(w: f.World, qa_manager: Any) -> None:
    with pytest.raises(SequenceViolation) as exc:
        nonconformance_open(
            targets=[w.device_sn("GHOST")], title="t", description="d", user=qa_manager
        )
    assert "GHOST" in exc.value.message and "not commissioned" in exc.value.message
    assert not Nonconformance.objects.exists()


def test_an_auditor_may_not_open_a_nonconformance(w: f.World, auditor: Any) -> None:
    epcs = commission(w, "N3")
    with pytest.raises(PermissionDenied) as exc:
        nonconformance_open(targets=epcs, title="t", description="d", user=auditor)
    assert "quality.add_nonconformance" in exc.value.message


def test_inspections_for_an_unknown_unit_is_empty(w: f.World) -> None:
    assert selectors.inspections_for([w.device_sn("X")]) == []
    assert selectors.inspections_for([]) == []
