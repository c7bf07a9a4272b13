"""The complaints demo tells its story through the real services, once."""

from __future__ import annotations

import pytest

from medtrace.audit.signatures import signatures_for
from medtrace.complaints.demo import load
from medtrace.complaints.models import AdverseEvent, Complaint

pytestmark = pytest.mark.django_db


def test_the_complaints_demo_loads_once() -> None:
    from medtrace.masterdata.demo.load import load_demo as load_masterdata
    from medtrace.masterdata.demo.load import load_stories

    load_masterdata(units=40, log=lambda _m: None, lifecycle=False)
    load_stories(lambda _line: None, before="complaints")
    lines: list[str] = []
    load(lines.append)

    closed = Complaint.objects.get(status="closed")
    (signature,) = signatures_for(closed)
    assert (signature.signature.meaning, signature.valid) == ("closed", True)
    ae = AdverseEvent.objects.get()
    assert ae.complaint.channel == "partner" and ae.complaint.reportable is True
    assert ae.deadlines.get().key == "cn_ae_serious_injury"
    (still_open,) = Complaint.objects.filter(status="open")
    assert still_open.udi_text == ""
    assert len(lines) == 3

    load(lines.append)  # idempotent
    assert Complaint.objects.count() == 3 and len(lines) == 3
