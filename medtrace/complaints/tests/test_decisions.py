"""Investigation, reportability decision, CAPA link and the signed closure."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry, Signature
from medtrace.audit.signatures import signatures_for
from medtrace.complaints import services
from medtrace.complaints.models import AdverseEvent, Complaint
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.quality.models import Nonconformance

from .factories import C, complaints_world

pytestmark = pytest.mark.django_db

PASSWORD = "pw-qa"  # factories.staff: "pw-" + username


@pytest.fixture
def c() -> C:
    return complaints_world()


def _complaint(c: C, *, udi: str = "", **extra: Any) -> Complaint:
    return services.complaint_create(
        udi=udi, description="Alarm", complainant_name="Ward 3", user=c.service, **extra
    ).complaint


def test_an_investigation_entry_moves_the_complaint_under_investigation(c: C) -> None:
    complaint = _complaint(c)

    row = services.complaint_investigate(
        complaint=complaint,
        entry="Read the event log",
        findings="Pressure sensor drift",
        root_cause="Sensor calibration",
        user=c.qa,
    )

    complaint.refresh_from_db()
    assert complaint.status == "investigating"
    assert (row.author, row.findings) == (c.qa, "Pressure sensor drift")
    assert complaint.root_cause == "Sensor calibration"
    assert AuditEntry.objects.filter(
        object_type="complaints.complaint", object_id=str(complaint.pk), action="update"
    ).exists()


def test_the_investigation_names_the_device_found_later(c: C) -> None:
    epc = c.unit("SN-1")
    complaint = _complaint(c)

    services.complaint_investigate(
        complaint=complaint, entry="Serial read from the device", udi=c.udi("SN-1"), user=c.qa
    )

    complaint.refresh_from_db()
    assert (complaint.udi_resolution, complaint.unit_epc) == ("unit", epc)


def test_only_qa_investigates(c: C) -> None:
    complaint = _complaint(c)

    with pytest.raises(PermissionDenied):
        services.complaint_investigate(complaint=complaint, entry="x", user=c.service)


def test_a_decision_needs_a_justification_either_way(c: C) -> None:
    complaint = _complaint(c)

    for answer in (True, False):
        with pytest.raises(ValidationFailed) as exc:
            services.complaint_decide(
                complaint=complaint, reportable=answer, justification=" ", user=c.qa
            )
        assert exc.value.field == "justification"


def test_not_reportable_records_the_decision_without_an_adverse_event(c: C) -> None:
    complaint = _complaint(c)

    done = services.complaint_decide(
        complaint=complaint,
        reportable=False,
        justification="No injury; malfunction cannot lead to serious harm",
        user=c.qa,
    )

    assert done.adverse_event is None
    assert (done.complaint.status, done.complaint.reportable) == ("decided", False)
    assert done.complaint.decided_by == c.qa


def test_reportable_creates_the_adverse_event_with_its_deadlines(c: C) -> None:
    complaint = _complaint(c, injury=True)

    done = services.complaint_decide(
        complaint=complaint, reportable=True, justification="Serious injury", user=c.qa
    )

    ae = done.adverse_event
    assert ae is not None and ae.number.startswith("AE-")
    assert (ae.severity, ae.jurisdictions, ae.awareness_at) == (
        "serious_injury",
        ["CN"],
        complaint.received_at,
    )
    assert list(ae.deadlines.values_list("key", flat=True)) == ["cn_ae_serious_injury"]
    with pytest.raises(Conflict):  # a reported event cannot be undecided
        services.complaint_decide(
            complaint=complaint, reportable=False, justification="changed mind", user=c.qa
        )


def test_closing_without_a_udi_or_a_decision_is_refused_naming_both(c: C) -> None:
    complaint = _complaint(c)

    with pytest.raises(Conflict) as exc:
        services.complaint_close(complaint=complaint, password=PASSWORD, summary="x", user=c.qa)

    assert exc.value.details == {"missing": ["udi", "reportable"]}
    assert "UDI" in exc.value.message and "reportability decision" in exc.value.message
    assert not Signature.objects.exists()


def test_closing_without_a_decision_is_refused(c: C) -> None:
    c.unit("SN-2")
    complaint = _complaint(c, udi=c.udi("SN-2"))

    with pytest.raises(Conflict) as exc:
        services.complaint_close(complaint=complaint, password=PASSWORD, summary="x", user=c.qa)

    assert exc.value.field == "reportable"
    assert exc.value.details == {"missing": ["reportable"]}


def test_closing_without_a_udi_is_refused(c: C) -> None:
    complaint = _complaint(c)
    services.complaint_decide(complaint=complaint, reportable=False, justification="x", user=c.qa)

    with pytest.raises(Conflict) as exc:
        services.complaint_close(complaint=complaint, password=PASSWORD, summary="x", user=c.qa)

    assert exc.value.field == "udi"


def _ready(c: C) -> Complaint:
    c.unit("SN-3")
    complaint = _complaint(c, udi=c.udi("SN-3"))
    services.complaint_decide(
        complaint=complaint, reportable=False, justification="No harm possible", user=c.qa
    )
    return complaint


def test_a_wrong_password_refuses_the_closure_and_stores_nothing(c: C) -> None:
    complaint = _ready(c)

    with pytest.raises(ValidationFailed) as exc:
        services.complaint_close(complaint=complaint, password="wrong", summary="done", user=c.qa)

    assert exc.value.field == "password"
    complaint.refresh_from_db()
    assert complaint.status == "decided" and complaint.closed_at is None
    assert not Signature.objects.exists()


def test_the_closure_is_signed_with_the_meaning_closed(c: C) -> None:
    complaint = _ready(c)

    closed = services.complaint_close(
        complaint=complaint, password=PASSWORD, summary="Sensor replaced", user=c.qa
    )

    assert (closed.status, closed.closed_by, closed.closure_summary) == (
        "closed",
        c.qa,
        "Sensor replaced",
    )
    (view,) = signatures_for(closed)
    assert (view.signature.meaning, view.signature.username, view.valid) == ("closed", "qa", True)
    with pytest.raises(Conflict):
        services.complaint_investigate(complaint=closed, entry="more", user=c.qa)
    with pytest.raises(Conflict):
        services.complaint_close(complaint=closed, password=PASSWORD, summary="x", user=c.qa)


def test_the_capa_link_takes_a_reference_and_a_nonconformance(c: C) -> None:
    complaint = _ready(c)

    services.complaint_link_capa(
        complaint=complaint, capa_reference="CAPA-2026-014", open_nonconformance=True, user=c.qa
    )

    complaint.refresh_from_db()
    nc = complaint.nonconformance
    assert complaint.capa_reference == "CAPA-2026-014"
    assert nc is not None and nc.source == complaint.number
    assert list(nc.items.values_list("target", flat=True)) == [complaint.unit_epc]

    other = _complaint(c)
    services.complaint_link_capa(complaint=other, nonconformance=nc.number, user=c.qa)
    other.refresh_from_db()
    assert other.nonconformance == nc
    assert Nonconformance.objects.count() == 1


def test_a_capa_link_needs_something_to_link(c: C) -> None:
    with pytest.raises(ValidationFailed):
        services.complaint_link_capa(complaint=_complaint(c), user=c.qa)
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_link_capa(complaint=_complaint(c), nonconformance="NC-0", user=c.qa)
    assert exc.value.field == "nonconformance"


def test_an_explicit_adverse_event_is_refused_for_a_complaint_decided_not_reportable(
    c: C,
) -> None:
    complaint = _complaint(c)
    services.complaint_decide(complaint=complaint, reportable=False, justification="x", user=c.qa)

    with pytest.raises(Conflict):
        services.adverse_event_create(complaint=complaint, user=c.qa)
    assert not AdverseEvent.objects.exists()
