"""Rule qc_failure: a failed inspection holds the failed unit's whole lot and alerts QC, once per
lot while the alert is live; a pass, or a disabled rule, does neither."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.alerts.models import Alert, AlertRule, AlertStatus, OutboxMessage
from medtrace.lifecycle import rules as unit_rules
from medtrace.quality import services as quality
from medtrace.quality.models import Hold, NcDisposition, Nonconformance
from medtrace.quality.tests.conftest import BAD, GOOD, commission, pump_plan
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db: None) -> f.World:
    return f.world()


@pytest.fixture
def inspector(db: None) -> Any:
    from conftest import _user

    user = _user("qc_inspector", role="qc")
    user.email = "qc@example.com"
    user.save()
    return user


def _qc_alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="qc_failure").order_by("pk"))


def _held(*epcs: str) -> list[str]:
    """Those of ``epcs`` the state machine refuses to ship because they are on hold."""
    refused = unit_rules.refusals(unit_rules.Step.SHIP, epcs)
    return [r.epc for r in refused if any(x["code"] == "held" for x in r.reasons)]


def test_a_failed_unit_puts_its_whole_lot_on_hold_and_alerts_qc(w: f.World, inspector: Any) -> None:
    failed, sibling, _third = commission(w, "SN-1", "SN-2", "SN-3", lot="L7")
    other_lot = commission(w, "SN-9", lot="L8")[0]
    plan = pump_plan(w)

    result = quality.inspection_record(plan=plan, target=failed, values=BAD, user=inspector)

    (alert,) = _qc_alerts()
    assert (alert.recipient_role, alert.severity) == ("qc", "critical")
    evidence = alert.evidence
    assert evidence["inspection"] == result.number and evidence["serial"] == "SN-1"
    assert evidence["lot"] == "L7" and evidence["lot_held_now"] is True
    assert evidence["units_in_lot"] == 3
    assert [x["characteristic"] for x in evidence["failed"]] == ["Flow accuracy"]
    assert evidence["failed"][0]["value"] == "6.1" and evidence["failed"][0]["upper"] == "5.000000"
    lot_class = evidence["lot_class"]
    assert alert.dedupe_key == f"lot:{lot_class}"
    # The hold: the unit's own (the NC's) and one hold on the whole lot, both from the NC.
    holds = {h.target: h for h in Hold.objects.filter(lifted_at__isnull=True)}
    assert set(holds) == {failed, lot_class}
    nc_number = evidence["nonconformance"]
    assert holds[lot_class].source == nc_number and holds[lot_class].lot == "L7"
    assert {h["target"] for h in evidence["holds"]} == {failed, lot_class}
    # Every unit of the lot is held now (a sibling that passed inspection too), no other lot.
    assert _held(sibling, other_lot) == [sibling]
    # QC is mailed (the rule's e-mail default is on).
    mail = OutboxMessage.objects.get(handler="email")
    assert mail.payload["to"] == ["qc@example.com"] and "SN-1" in mail.payload["subject"]


def test_a_second_failure_in_the_same_lot_raises_no_second_alert(
    w: f.World, inspector: Any
) -> None:
    first, second = commission(w, "SN-1", "SN-2", lot="L7")
    plan = pump_plan(w)
    quality.inspection_record(plan=plan, target=first, values=BAD, user=inspector)

    quality.inspection_record(plan=plan, target=second, values=BAD, user=inspector)

    assert len(_qc_alerts()) == 1
    assert Hold.objects.filter(lifted_at__isnull=True, lot="L7").count() == 1  # not twice
    # Once QC concluded it, the next failure is news again.
    Alert.objects.filter(kind="qc_failure").update(status=AlertStatus.RESOLVED)
    third = commission(w, "SN-3", lot="L7")[0]
    quality.inspection_record(plan=plan, target=third, values=BAD, user=inspector)
    assert len(_qc_alerts()) == 2


def test_a_passing_inspection_holds_nothing_and_raises_nothing(w: f.World, inspector: Any) -> None:
    (unit,) = commission(w, "SN-1", lot="L7")
    quality.inspection_record(plan=pump_plan(w), target=unit, values=GOOD, user=inspector)
    assert _qc_alerts() == [] and not Hold.objects.exists()


def test_with_the_rule_off_only_the_nonconformance_holds_the_unit(
    w: f.World, inspector: Any
) -> None:
    failed, sibling = commission(w, "SN-1", "SN-2", lot="L7")
    AlertRule.objects.filter(kind="qc_failure").update(enabled=False)

    quality.inspection_record(plan=pump_plan(w), target=failed, values=BAD, user=inspector)

    assert _qc_alerts() == []
    assert list(Hold.objects.values_list("target", flat=True)) == [failed]  # as before the rule
    assert _held(failed, sibling) == [failed]


def test_with_hold_off_the_lot_is_not_held_but_qc_is_alerted(w: f.World, inspector: Any) -> None:
    failed, _sibling = commission(w, "SN-1", "SN-2", lot="L7")
    AlertRule.objects.filter(kind="qc_failure").update(params={"hold": False})

    quality.inspection_record(plan=pump_plan(w), target=failed, values=BAD, user=inspector)

    (alert,) = _qc_alerts()
    assert alert.evidence["lot_held_now"] is False
    assert list(Hold.objects.values_list("target", flat=True)) == [failed]


def test_a_failed_lot_inspection_alerts_with_the_lots_hold(w: f.World, inspector: Any) -> None:
    commission(w, "SN-1", "SN-2", lot="L7")
    plan = pump_plan(w, sampling="fixed", sample_size=2)
    lot_class = quality.scan_target(f"(01){w.gtin(w.device)}(10)L7")

    quality.inspection_record(
        plan=plan,
        target=lot_class,
        samples=[{"sample": "1", "values": GOOD}, {"sample": "2", "values": BAD}],
        user=inspector,
    )

    (alert,) = _qc_alerts()
    assert alert.evidence["lot_class"] == lot_class and alert.evidence["serial"] is None
    assert alert.evidence["failed"][0]["sample"] == "2"
    assert [h["target"] for h in alert.evidence["holds"]] == [lot_class]
    assert Hold.objects.filter(lifted_at__isnull=True).count() == 1


def test_closing_the_nonconformance_lifts_the_lot_hold_too(w: f.World, qa_manager: Any) -> None:
    from conftest import _user

    qc = _user("qc_signer", role="qc")
    failed, sibling = commission(w, "SN-1", "SN-2", lot="L7")
    plan = pump_plan(w)
    quality.inspection_record(plan=plan, target=failed, values=BAD, user=qc)
    assert _held(failed, sibling) == [failed, sibling]
    nc_row = Nonconformance.objects.get()
    quality.nonconformance_disposition(
        nc=nc_row,
        disposition=NcDisposition.USE_AS_IS,
        reason="Within the clinical tolerance; concession",
        user=qa_manager,
        password="pw-qa_manager",
    )
    quality.nonconformance_close(nc=nc_row, user=qa_manager, note="Concession granted")

    assert not Hold.objects.filter(lifted_at__isnull=True).exists()
    assert _held(failed, sibling) == []
