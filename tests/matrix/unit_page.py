"""The unit page's DataMatrix and its service-record attachments.

The DataMatrix of a unit is drawn for whoever may read the unit's page (partners within custody;
another's unit is 404, as on /trace/). A test report attached to the unit's maintenance visit is
the maker's record: every department reads it; partners do not (404, like a record that does
not exist); an attachment that is not the unit's is 404 for everyone.
"""

from __future__ import annotations

from typing import Any


def register(m: Any) -> None:
    m.add(
        "/trace/datamatrix.svg",
        m.Case(
            "GET",
            "/trace/datamatrix.svg?id={unit_a_q}",
            m.expect(302, 200, 404, distributor=200, hospital_a=200),
            session=True,
        ),
        m.Case(
            "GET",
            "/trace/datamatrix.svg?id={unit_b_q}",
            m.expect(302, 200, 404, hospital_b=200),
            session=True,
        ),
    )
    m.add(
        "/trace/attachments/<int:pk>/",
        m.Case(
            "GET",
            "/trace/attachments/{up_report}/?id={unit_a_q}",
            m.expect(302, 200, 404),
            session=True,
        ),
        m.Case(
            "GET",
            "/trace/attachments/{up_report}/?id={unit_b_q}",
            m.expect(302, 404, 404),
            session=True,
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.service import services

    visit = services.maintenance_visit_record(
        plan=values["svc_plan"],
        unit=values["unit_a"],
        user=None,
        work_done="PM with test report",
        result="pass",
        attachment=("report.txt", b"insulation 12 MOhm: pass", "text/plain"),
    )
    assert visit.attachment_id is not None
    return {"up_report": visit.attachment_id}
