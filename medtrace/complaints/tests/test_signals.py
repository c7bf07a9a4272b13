"""Complaint signals: complaints against one lot, or against units made with one supplier
component lot, reaching the rule's threshold within its window alert QA with the evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from medtrace.alerts.models import Alert, AlertStatus
from medtrace.complaints import selectors, services
from medtrace.complaints.models import ComplaintSignal, SignalRule
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.lifecycle import events as ev
from medtrace.production import services_assembly as assembly
from medtrace.production import services_orders as orders
from medtrace.production.tests.factories import Prod, prod_world, work_order
from medtrace.trace.selectors import trace_forward

from .factories import C, complaints_world, staff

pytestmark = pytest.mark.django_db


def _complain(c: C, serial: str, **extra: Any) -> Any:
    return services.complaint_create(
        udi=c.udi(serial), description="Alarm", complainant_name="Ward", user=c.qa, **extra
    )


def _signals() -> list[Alert]:
    return list(Alert.objects.filter(kind="complaint_cluster").order_by("pk"))


# Lot -------------------------------------------------------------------------------------------


@pytest.fixture
def c() -> C:
    return complaints_world()


def test_two_complaints_against_one_lot_within_30_days_alert_qa_with_the_evidence(c: C) -> None:
    first, second = c.unit("SN-1", lot="L1"), c.unit("SN-2", lot="L1")
    c.unit("SN-3", lot="L1", ship=False)
    one = _complain(c, "SN-1").complaint
    assert _signals() == []

    done = _complain(c, "SN-2")

    (alert,) = _signals()
    lot_class = c.lot_class("L1")
    assert (alert.recipient_role, alert.object_type, alert.object_id) == ("qa_ra", "lot", lot_class)
    evidence = alert.evidence
    assert evidence["lot"] == lot_class and evidence["lot_number"] == "L1"
    assert evidence["complaints"] == [one.number, done.complaint.number]
    assert evidence["units"] == sorted([first, second])
    assert evidence["window"]["days"] == 30 and evidence["count"] == 2
    assert evidence["product"]["id"] == c.w.device.pk
    assert evidence["units_made"] == 3  # the whole lot, not only the complained units
    holders = {h["name"]: h["count"] for h in evidence["holders"]}
    assert holders[c.w.hospital.name] == 2
    (signal,) = done.signals
    assert signal.alert == alert and signal.dimension == "lot"


def test_one_complaint_is_not_a_signal(c: C) -> None:
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L2")

    _complain(c, "SN-1")
    _complain(c, "SN-2")

    assert _signals() == [] and not ComplaintSignal.objects.exists()


def test_complaints_further_apart_than_the_window_are_not_a_signal(c: C) -> None:
    c.unit("SN-1", lot="L1", days=90)
    c.unit("SN-2", lot="L1", days=90)

    _complain(c, "SN-1", received_at=timezone.now() - timedelta(days=31))
    _complain(c, "SN-2")

    assert _signals() == []


def test_a_complaint_naming_the_lot_itself_counts_for_the_lot(c: C) -> None:
    c.unit("SN-1", lot="L1")
    _complain(c, "SN-1")

    services.complaint_create(
        udi=f"(01){c.gtin}(10)L1", description="x", complainant_name="W", user=c.qa
    )

    (alert,) = _signals()
    assert alert.object_id == c.lot_class("L1")


def test_a_further_complaint_joins_the_open_signal_without_a_second_alert(c: C) -> None:
    for serial in ("SN-1", "SN-2", "SN-3"):
        c.unit(serial, lot="L1")
    numbers = [_complain(c, s).complaint.number for s in ("SN-1", "SN-2", "SN-3")]

    (alert,) = _signals()
    (signal,) = ComplaintSignal.objects.all()
    assert sorted(signal.complaints.values_list("number", flat=True)) == sorted(numbers)
    assert signal.evidence["count"] == 3 and signal.status == "open"
    assert alert.evidence["count"] == 2  # the alert keeps what it said when raised


def test_after_qa_dismisses_the_alert_the_next_complaint_opens_a_new_signal(c: C) -> None:
    for serial in ("SN-1", "SN-2", "SN-3"):
        c.unit(serial, lot="L1")
    _complain(c, "SN-1")
    _complain(c, "SN-2")
    Alert.objects.update(status=AlertStatus.DISMISSED)

    _complain(c, "SN-3")

    assert len(_signals()) == 2
    old, new = ComplaintSignal.objects.order_by("pk")
    assert (old.status, new.status) == ("closed", "open")


def test_qa_raises_the_threshold_and_two_complaints_are_no_longer_a_signal(c: C) -> None:
    rule = SignalRule.objects.get(dimension="lot")
    services.signal_rule_update(rule=rule, data={"threshold": 3}, user=c.qa, reason="too noisy")
    c.unit("SN-1", lot="L1")
    c.unit("SN-2", lot="L1")

    _complain(c, "SN-1")
    _complain(c, "SN-2")

    assert _signals() == []


def test_the_default_rules_are_two_complaints_within_30_days(c: C) -> None:
    rules = {r.dimension: (r.threshold, r.window_days, r.active) for r in SignalRule.objects.all()}

    assert rules == {"lot": (2, 30, True), "component_lot": (2, 30, True)}
    assert selectors.signal_rule_list(user=c.auditor).count() == 2


def test_a_rule_needs_at_least_two_complaints_and_qa(c: C) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.signal_rule_create(dimension="lot", threshold=1, window_days=30, user=c.qa)
    assert exc.value.field == "threshold"
    with pytest.raises(ValidationFailed) as exc:
        services.signal_rule_create(dimension="lot", threshold=2, window_days=0, user=c.qa)
    assert exc.value.field == "window_days"
    with pytest.raises(PermissionDenied):
        services.signal_rule_create(dimension="lot", threshold=2, window_days=9, user=c.service)
    rule = services.signal_rule_create(
        dimension="component_lot", threshold=4, window_days=90, user=c.qa
    )
    assert (rule.threshold, rule.window_days, rule.active) == (4, 90, True)


# Supplier component lot ------------------------------------------------------------------------


@pytest.fixture
def x() -> Prod:
    return prod_world()


def _devices(x: Prod, n: int) -> list[str]:
    """``n`` devices each made with resin of the supplier lot R-001 (and one micro pump)."""
    order = work_order(x, quantity=n)
    done = orders.work_order_commission(work_order=order, count=n, user=None)
    for index, epc in enumerate(done.epcs):
        assembly.work_order_assemble(
            work_order=order,
            unit=epc,
            components=[f"(01){x.w.resin.gtin}(10)R-001", f"(01){x.w.pump.gtin}(21)P-{index + 1}"],
            user=None,
        )
    return done.epcs


def test_complaints_against_units_sharing_a_supplier_lot_name_the_lot_and_its_supplier(
    x: Prod,
) -> None:
    qa = staff("qa", "qa_ra")
    devices = _devices(x, 3)
    lot = ev.material_lot_class(x.w.resin, "R-001")

    for epc in devices[:2]:
        services.complaint_create(
            udi=epc, description="Housing cracked", complainant_name="Ward", user=qa
        )

    (alert,) = Alert.objects.filter(kind="complaint_cluster", object_type="material_lot")
    evidence = alert.evidence
    assert alert.object_id == lot
    assert evidence["dimension"] == "component_lot" and evidence["lot_number"] == "R-001"
    assert evidence["supplier"]["name"] == x.w.supplier.name
    assert evidence["supplier"]["gln"] == x.w.supplier.gln
    assert evidence["material"] == x.w.resin.name
    assert evidence["units"] == sorted(devices[:2])
    made = [u for u in trace_forward(id=lot, user=None).units if u["kind"] == "product"]
    assert evidence["units_made"] == len(made) >= 3  # all made with it, not only complained ones
    # the micro pumps are serials, each in one unit: never a shared component lot
    assert not Alert.objects.filter(object_id__contains="P-").exists()


def test_one_complaint_against_a_supplier_lot_is_not_a_signal(x: Prod) -> None:
    qa = staff("qa", "qa_ra")
    first, *_rest = _devices(x, 2)

    services.complaint_create(udi=first, description="x", complainant_name="W", user=qa)

    assert not Alert.objects.filter(kind="complaint_cluster").exists()
