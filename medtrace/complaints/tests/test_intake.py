"""Complaint intake: who may record one, the device's UDI in any form, partner scoping."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.complaints import selectors, services
from medtrace.complaints.models import Complaint, ComplaintChannel
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.lib import udi

from .factories import C, complaints_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def c() -> C:
    return complaints_world()


def test_a_service_engineer_records_a_complaint_resolved_to_the_unit_and_its_lot(c: C) -> None:
    epc = c.unit("SN-1", lot="L7")

    done = services.complaint_create(
        udi=c.udi("SN-1"),
        description="Occlusion alarm without occlusion",
        complainant_party_id=c.w.hospital.pk,
        complainant_contact="Dr. Wang, 138 0000 0000",
        user=c.service,
    )

    complaint = done.complaint
    year = timezone.localdate().year
    assert complaint.number.startswith(f"CMP-{year}-")
    assert (complaint.status, complaint.channel) == ("open", "ui")
    assert complaint.udi_text == c.udi("SN-1")  # the raw text is kept
    assert (complaint.udi_resolution, complaint.unit_epc) == ("unit", epc)
    assert complaint.lot_class == c.lot_class("L7")
    assert (complaint.gtin, complaint.serial, complaint.lot) == (c.gtin, "SN-1", "L7")
    assert complaint.product == c.w.device
    assert complaint.reported_by == c.service
    assert done.warnings == []
    entry = AuditEntry.objects.get(object_type="complaints.complaint", object_id=str(complaint.pk))
    assert entry.action == "create" and entry.changes["udi_text"] == c.udi("SN-1")


@pytest.mark.parametrize(
    "form",
    ["element string", "raw scan", "digital link", "epc urn", "bare serial", "urlencoded link"],
)
def test_every_udi_form_names_the_same_unit(c: C, form: str) -> None:
    epc = c.unit("SN-2")
    text = {
        "element string": c.udi("SN-2"),
        "raw scan": f"]d201{c.gtin}21SN-2",
        "digital link": f"https://id.gs1.org/01/{c.gtin}/21/SN-2",
        "epc urn": epc,
        "bare serial": "SN-2",
        "urlencoded link": f"https://example.com/01/{c.gtin}/21/{quote('SN-2')}",
    }[form]

    complaint = services.complaint_create(
        udi=text, description="x", complainant_name="Nurse Li", user=c.qa
    ).complaint

    assert (complaint.udi_resolution, complaint.unit_epc, complaint.serial) == ("unit", epc, "SN-2")
    assert complaint.udi_text == text


def test_a_lot_udi_names_the_lot(c: C) -> None:
    c.unit("SN-3", lot="L9")

    complaint = services.complaint_create(
        udi=f"(01){c.gtin}(10)L9", description="x", complainant_name="Nurse Li", user=c.qa
    ).complaint

    assert (complaint.udi_resolution, complaint.lot_class) == ("lot", c.lot_class("L9"))
    assert (complaint.unit_epc, complaint.lot, complaint.product) == ("", "L9", c.w.device)


def test_a_malformed_udi_is_refused_with_the_parsers_message_on_the_udi_field(c: C) -> None:
    bad = "(01)06901234000110(21)SN-1"  # wrong GTIN check digit
    with pytest.raises(udi.UdiError) as parsed:
        udi.parse(bad)

    with pytest.raises(ValidationFailed) as exc:
        services.complaint_create(udi=bad, description="x", complainant_name="A", user=c.qa)

    assert exc.value.field == "udi"
    assert str(parsed.value) in exc.value.message
    assert not Complaint.objects.exists()


def test_a_valid_udi_unknown_to_the_ledger_is_recorded_with_a_warning_for_staff(c: C) -> None:
    done = services.complaint_create(
        udi=c.udi("NEVER-MADE"), description="x", complainant_name="A", user=c.qa
    )

    complaint = done.complaint
    assert complaint.udi_resolution == "unresolved"
    assert (complaint.serial, complaint.gtin, complaint.product) == (
        "NEVER-MADE",
        c.gtin,
        c.w.device,
    )
    assert complaint.unit_epc == udi.sgtin_urn(c.gtin, "NEVER-MADE", 7)
    assert done.warnings and "no unit or lot of it is known" in done.warnings[0]


def test_a_complaint_without_a_udi_yet_is_accepted_from_staff(c: C) -> None:
    complaint = services.complaint_create(
        description="Phone call: pump alarms", complainant_name="Ward 3", user=c.sales
    ).complaint

    assert (complaint.udi_text, complaint.udi_resolution) == ("", "")


def test_the_complainant_must_be_named(c: C) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_create(description="x", user=c.qa)

    assert exc.value.field == "complainant_name"


def test_the_awareness_time_may_be_given_but_not_in_the_future(c: C) -> None:
    earlier = timezone.now() - timedelta(days=3)
    complaint = services.complaint_create(
        description="x", complainant_name="A", received_at=earlier, user=c.qa
    ).complaint
    assert complaint.received_at == earlier

    with pytest.raises(ValidationFailed) as exc:
        services.complaint_create(
            description="x",
            complainant_name="A",
            received_at=timezone.now() + timedelta(days=1),
            user=c.qa,
        )
    assert exc.value.field == "received_at"


def test_an_event_after_the_complaint_was_received_is_refused(c: C) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_create(
            description="x",
            complainant_name="A",
            received_at=timezone.now() - timedelta(days=5),
            event_date=timezone.localdate(),
            user=c.qa,
        )

    assert exc.value.field == "event_date"


def test_death_implies_injury(c: C) -> None:
    complaint = services.complaint_create(
        description="x", complainant_name="A", death=True, user=c.qa
    ).complaint

    assert (complaint.death, complaint.injury) == (True, True)


@pytest.mark.parametrize("who", ["production", "auditor"])
def test_departments_that_do_not_face_customers_cannot_record_complaints(c: C, who: str) -> None:
    with pytest.raises(PermissionDenied):
        services.complaint_create(description="x", complainant_name="A", user=getattr(c, who))


def test_a_hospital_reports_a_complaint_about_its_own_unit(c: C) -> None:
    epc = c.unit("SN-4")

    complaint = services.complaint_create(
        udi=c.udi("SN-4"),
        description="Screen flickers",
        complainant_party_id=c.s.hospital_b.pk,  # ignored: a hospital reports for itself
        channel="api",
        user=c.hospital_a,
    ).complaint

    assert complaint.channel == ComplaintChannel.PARTNER
    assert complaint.complainant_party == c.w.hospital
    assert complaint.complainant_name == "Hosp_A"
    assert complaint.unit_epc == epc


def test_a_hospital_cannot_complain_about_a_unit_it_never_held(c: C) -> None:
    c.unit("SN-5")  # at hospital A

    with pytest.raises(NotFound) as exc:
        services.complaint_create(udi=c.udi("SN-5"), description="x", user=c.hospital_b)

    assert exc.value.field == "udi"
    assert not Complaint.objects.exists()


def test_a_hospital_must_name_the_device(c: C) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.complaint_create(description="x", user=c.hospital_a)

    assert exc.value.field == "udi"


def test_a_hospital_cannot_name_an_unknown_device(c: C) -> None:
    with pytest.raises(NotFound) as exc:
        services.complaint_create(udi=c.udi("NEVER"), description="x", user=c.hospital_a)

    assert exc.value.field == "udi"


def test_a_hospital_sees_only_its_own_complaints(c: C) -> None:
    c.unit("SN-6")
    c.unit("SN-7", hospital=c.s.hospital_b)
    mine = services.complaint_create(udi=c.udi("SN-6"), description="x", user=c.hospital_a)
    theirs = services.complaint_create(udi=c.udi("SN-7"), description="y", user=c.hospital_b)
    staff_one = services.complaint_create(description="z", complainant_name="A", user=c.qa)

    seen = set(selectors.complaint_list(user=c.hospital_a).values_list("number", flat=True))

    assert seen == {mine.complaint.number}
    with pytest.raises(NotFound):
        selectors.complaint_get(user=c.hospital_a, number=theirs.complaint.number)
    with pytest.raises(NotFound):
        selectors.complaint_get(user=c.hospital_a, number=staff_one.complaint.number)
    assert selectors.complaint_list(user=c.qa).count() == 3


def test_a_hospital_reads_its_complaint_without_the_internal_handling(c: C) -> None:
    c.unit("SN-8")
    complaint = services.complaint_create(
        udi=c.udi("SN-8"), description="x", user=c.hospital_a
    ).complaint
    services.complaint_investigate(complaint=complaint, entry="Log read out", user=c.qa)

    view = selectors.complaint_view(
        selectors.complaint_get(user=c.hospital_a, number=complaint.number), user=c.hospital_a
    )

    assert view["status"] == "investigating"
    assert view["investigations"] == [] and view["component_lots"] == []
    assert selectors.complaint_view(complaint, user=c.qa)["investigations"][0]["entry"] == (
        "Log read out"
    )
