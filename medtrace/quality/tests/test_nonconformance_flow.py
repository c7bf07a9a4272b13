"""Nonconformance disposition (e-signed) and closure; release refused without a passing final
inspection."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry, Signature, SigningState
from medtrace.audit.signatures import signatures_for
from medtrace.errors import Conflict, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import rules
from medtrace.quality.models import Hold, Nonconformance, Release
from medtrace.quality.services import (
    inspection_record,
    nonconformance_close,
    nonconformance_disposition,
    nonconformance_open,
    release_create,
)
from medtrace.trace.tests import factories as f

from .conftest import BAD, GOOD, commission, pump_plan

pytestmark = pytest.mark.django_db
QA_PW = "pw-qa_manager"
QC_PW = "pw-qc_inspector"


def failed(w: f.World, qc: Any, serial: str) -> tuple[str, Nonconformance]:
    plan = pump_plan(w) if not hasattr(w, "_plan") else w._plan
    w._plan = plan  # type: ignore[attr-defined]
    (epc,) = commission(w, serial)
    inspection_record(plan=plan, target=epc, values=BAD, user=qc)
    return epc, Nonconformance.objects.get(items__target=epc)


def test_rework_then_passing_reinspection_closes_and_lifts_the_hold(
    w: f.World, qc_inspector: Any
) -> None:
    epc, nc = failed(w, qc_inspector, "W1")
    nc = nonconformance_disposition(
        nc=nc, disposition="rework", reason="replace the flow sensor", user=qc_inspector,
        password=QC_PW,
    )  # fmt: skip
    assert nc.status == "dispositioned"
    (sig,) = signatures_for(nc)
    assert sig.signature.meaning == "approved" and sig.valid
    with pytest.raises(ValidationFailed) as exc:
        nonconformance_close(nc=nc, user=qc_inspector, note="reworked")
    assert "re-inspect the reworked goods" in exc.value.message
    assert exc.value.message.endswith("since the disposition for W1")
    with pytest.raises(SequenceViolation):
        release_create(targets=[epc], user=qc_inspector, password=QC_PW)
    inspection_record(plan=w._plan, target=epc, values=GOOD, user=qc_inspector)  # type: ignore[attr-defined]
    nc = nonconformance_close(nc=nc, user=qc_inspector, note="reworked and re-inspected")
    assert nc.status == "closed"
    assert not Hold.objects.filter(lifted_at__isnull=True).exists()
    assert UnitState.objects.get(epc=epc).disposition == "active"
    assert signatures_for(nc)[0].valid  # closing does not invalidate the disposition signature
    release_create(targets=[epc], user=qc_inspector, password=QC_PW)
    rules.check(rules.Step.SHIP, [epc])
    actions = list(
        AuditEntry.objects.filter(object_type="quality.nonconformance").values_list(
            "action", flat=True
        )
    )
    assert actions == ["create", "update", "sign", "update"]


def test_use_as_is_is_a_concession_only_qa_ra_signs(
    w: f.World, qc_inspector: Any, qa_manager: Any
) -> None:
    epc, nc = failed(w, qc_inspector, "U1")
    with pytest.raises(PermissionDenied) as exc:
        nonconformance_disposition(
            nc=nc, disposition="use_as_is", reason="cosmetic", user=qc_inspector, password=QC_PW
        )
    assert "only QA/RA" in exc.value.message
    nc.refresh_from_db()
    assert nc.status == "open" and not Signature.objects.exists()
    nc = nonconformance_disposition(
        nc=nc, disposition="use_as_is", reason="within clinical tolerance", user=qa_manager,
        password=QA_PW,
    )  # fmt: skip
    assert Signature.objects.get().meaning == "approved"
    nc = nonconformance_close(nc=nc, user=qa_manager, note="concession approved")
    assert not Hold.objects.filter(lifted_at__isnull=True).exists()
    # the failed final inspection was accepted by the signed concession: it may be released
    release_create(targets=[epc], user=qa_manager, password=QA_PW)


def test_a_wrong_password_stores_no_disposition_but_counts_the_failure(
    w: f.World, qc_inspector: Any, qa_manager: Any
) -> None:
    _epc, nc = failed(w, qc_inspector, "P1")
    audits = AuditEntry.objects.filter(object_type="quality.nonconformance").count()
    with pytest.raises(ValidationFailed) as exc:
        nonconformance_disposition(
            nc=nc, disposition="scrap", reason="r", user=qa_manager, password="wrong"
        )
    assert exc.value.field == "password"
    nc.refresh_from_db()
    assert nc.status == "open" and nc.disposition == ""
    trail = AuditEntry.objects.filter(object_type="quality.nonconformance")
    assert trail.exclude(action="sign-failed").count() == audits  # no update, no signature
    assert trail.filter(action="sign-failed").count() == 1  # the failure is on the record
    assert not Event.objects.filter(biz_step="destroying").exists()
    assert SigningState.objects.get(user=qa_manager).failures == 1


def test_scrap_destroys_the_units_after_the_signature(w: f.World, qc_inspector: Any) -> None:
    epc, nc = failed(w, qc_inspector, "X1")
    nc = nonconformance_disposition(
        nc=nc, disposition="scrap", reason="housing cracked", user=qc_inspector, password=QC_PW
    )
    event = Event.objects.get(biz_step="destroying")
    assert event.disposition == "destroyed" and event.action == "DELETE"
    with pytest.raises(SequenceViolation) as exc:
        rules.check(rules.Step.INSTALL, [epc])
    assert "scrapped" in exc.value.message
    nonconformance_close(nc=nc, user=qc_inspector, note="scrapped")
    # the hold record is closed without an "active" event for a destroyed unit
    assert not Hold.objects.filter(lifted_at__isnull=True).exists()
    assert UnitState.objects.get(epc=epc).disposition == "destroyed"


def test_disposition_steps_are_refused_out_of_order(
    w: f.World, qc_inspector: Any, qa_manager: Any
) -> None:
    _epc, nc = failed(w, qc_inspector, "O1")
    with pytest.raises(Conflict) as exc:
        nonconformance_close(nc=nc, user=qc_inspector, note="done")
    assert "give it a signed disposition first" in exc.value.message
    with pytest.raises(ValidationFailed) as exc2:
        nonconformance_disposition(
            nc=nc, disposition="return_to_supplier", reason="r", user=qc_inspector, password=QC_PW
        )
    assert exc2.value.field == "supplier"
    with pytest.raises(ValidationFailed) as exc2:
        nonconformance_disposition(
            nc=nc, disposition="melt", reason="r", user=qc_inspector, password=QC_PW
        )
    assert exc2.value.field == "disposition"
    nc = nonconformance_disposition(
        nc=nc, disposition="rework", reason="r", user=qc_inspector, password=QC_PW
    )
    with pytest.raises(Conflict):
        nonconformance_disposition(
            nc=nc, disposition="scrap", reason="r", user=qc_inspector, password=QC_PW
        )


def test_return_to_supplier_closes_the_lot_hold_without_releasing_it(
    w: f.World, qc_inspector: Any
) -> None:
    lot = w.resin_lot("RS-1")
    nc = nonconformance_open(
        targets=[lot], title="Wrong colour", description="grey, not clear", user=qc_inspector
    )
    nc = nonconformance_disposition(
        nc=nc, disposition="return_to_supplier", reason="supplier error", user=qc_inspector,
        password=QC_PW, supplier=w.supplier,
    )  # fmt: skip
    assert nc.supplier == w.supplier
    nonconformance_close(nc=nc, user=qc_inspector, note="sent back")
    hold = Hold.objects.get()
    assert hold.lifted_at is not None and "sent back" in hold.lift_reason


def test_release_is_refused_for_a_failed_or_missing_final_inspection(
    w: f.World, qc_inspector: Any
) -> None:
    plan = w._plan = pump_plan(w)  # type: ignore[attr-defined]
    ok, missing = commission(w, "R1", "R2")
    inspection_record(plan=plan, target=ok, values=GOOD, user=qc_inspector)
    with pytest.raises(SequenceViolation) as exc:
        release_create(targets=[ok, missing], user=qc_inspector, password=QC_PW)
    assert "Cannot release R2: it has no final inspection under plan FQ-IP9" in exc.value.message
    assert [d["serial"] for d in exc.value.details] == ["R2"]
    assert not Release.objects.exists()
    assert not SigningState.objects.filter(user=qc_inspector, failures__gt=0).exists()
    bad, nc = failed(w, qc_inspector, "R3")
    # lift the NC's hold by hand: the failed final inspection alone still blocks the release
    from medtrace.quality.services import hold_lift

    hold_lift(hold=Hold.objects.get(source=nc.number), user=qc_inspector, reason="test")
    with pytest.raises(SequenceViolation) as exc:
        release_create(targets=[bad], user=qc_inspector, password=QC_PW)
    assert "failed its final inspection INS-" in exc.value.message
    assert exc.value.details[0]["reasons"][0]["code"] == "final_inspection_failed"
    release_create(targets=[ok], user=qc_inspector, password=QC_PW)


def test_an_inactive_final_plan_does_not_block_release(w: f.World, qc_inspector: Any) -> None:
    pump_plan(w, active=False)
    (epc,) = commission(w, "R9")
    release_create(targets=[epc], user=qc_inspector, password=QC_PW)


def test_a_lot_release_needs_the_lots_final_inspection(w: f.World, qc_inspector: Any) -> None:
    from medtrace.lifecycle import events as ev

    plan = pump_plan(w, sampling="fixed", sample_size=1)
    commission(w, "LA1", "LA2", lot="LA")
    lot = ev.lot_class(w.device, "LA")
    with pytest.raises(SequenceViolation) as exc:
        release_create(targets=[lot], user=qc_inspector, password=QC_PW)
    assert "Cannot release lot LA: it has no final inspection" in exc.value.message
    inspection_record(
        plan=plan, target=lot, samples=[{"sample": "LA1", "values": GOOD}], user=qc_inspector
    )
    release_create(targets=[lot], user=qc_inspector, password=QC_PW)
    rules.check(rules.Step.SHIP, [w.device_sn("LA2")])
