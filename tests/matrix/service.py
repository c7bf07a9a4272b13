"""Use and service (issue 5 item 6): every department reads the installed base, plans, visits,
tickets and scrap records (lifecycle:read). The service department installs, maintains, repairs
and scraps; QA/RA plans maintenance and may scrap. A hospital's own staff read their hospital's
installed base, visits and tickets (another hospital's: 404), record installations and report
faults on their own units (token scope partner:receive); other partners see empty lists and 404.

World: hospital A's unit (unit_a) installed at an ICU of hospital A with a visit and an open
ticket; hospital B's unit installed at hospital B; one scrapped unit (an e-signed record)."""

from __future__ import annotations

from typing import Any

WORK = ("service", "admin")
PLAN_W = ("service", "qa_ra", "admin")
SCRAP_W = ("service", "qa_ra", "admin")
OTHERS = ("supplier", "distributor")


def register(m: Any) -> None:
    V = m.V
    everyone = m.expect(401, 200, 200)  # partners: their own rows (possibly none)
    staff_only = m.expect(401, 200, 404)  # the maker's documents: partners find none
    # hospital A's record: hospital A sees it; hospital B and the other partners do not
    hospital_a = m.expect(401, 200, 404, hospital_a=200)

    m.api_case("GET /api/v1/installations", everyone)
    m.api_case(
        "POST /api/v1/installations",
        # unit_a is installed there already: 409 from the service for those who may install
        m.only(WORK, 409, partners=403, hospital_a=409, hospital_b=404),
        body={"unit": "{unit_a}", "department_id": "{svc_dept_a}"},
    )
    m.api_case(
        "GET /api/v1/installations/{installation_id}",
        hospital_a,
        url=V + "/installations/{svc_inst_a}",
    )
    m.api_case(
        "POST /api/v1/installations/{installation_id}/remove",
        m.only(WORK, 200, partners=404, hospital_a=200),
        url=V + "/installations/{svc_inst_a}/remove",
        body={"reason": "matrix"},
    )
    m.api_case("GET /api/v1/maintenance-plans", everyone)
    m.api_case(
        "POST /api/v1/maintenance-plans",
        m.only(PLAN_W, 201),  # partner tokens cannot carry service:write
        body={"name": "PM", "kind": "maintenance", "product_id": "{stem_id}", "interval_days": 30},
    )
    m.api_case(
        "GET /api/v1/maintenance-plans/{plan_id}",
        staff_only,
        url=V + "/maintenance-plans/{svc_plan}",
    )
    m.api_case("GET /api/v1/maintenance/due", everyone)
    m.api_case("GET /api/v1/maintenance-visits", everyone)
    m.api_case(
        "POST /api/v1/maintenance-visits",
        m.only(WORK, 201),
        body={"plan_id": "{svc_plan}", "unit": "{unit_a}", "work_done": "PM", "result": "pass"},
    )
    m.api_case(
        "GET /api/v1/maintenance-visits/{visit_id}",
        hospital_a,
        url=V + "/maintenance-visits/{svc_visit_a}",
    )
    m.api_case("GET /api/v1/service-tickets", everyone)
    m.api_case(
        "POST /api/v1/service-tickets",
        m.only(WORK, 201, partners=403, hospital_a=201, hospital_b=404),
        body={"unit": "{unit_a}", "symptom": "matrix"},
    )
    m.api_case(
        "GET /api/v1/service-tickets/{ticket_id}",
        hospital_a,
        url=V + "/service-tickets/{svc_ticket_a}",
    )
    # The ticket is open: a swap, a test or a resolution is out of order (409 from the service).
    for action, status, body in (
        ("diagnose", 200, {"diagnosis": "matrix"}),
        ("swap-part", 409, {"removed": "{unit_a}", "installed": "{unit_b}"}),
        ("test", 409, {"result": "pass"}),
        ("resolve", 409, {"resolution": "matrix"}),
        ("close", 200, {"note": "no fault found"}),
    ):
        m.api_case(
            f"POST /api/v1/service-tickets/{{ticket_id}}/{action}",
            m.only(WORK, status),  # partner tokens cannot carry service:write
            url=V + f"/service-tickets/{{svc_ticket_a}}/{action}",
            body=body,
        )
    m.api_case("GET /api/v1/scrap", everyone)
    m.api_case(
        "POST /api/v1/scrap",
        m.only(SCRAP_W, 422),  # the matrix users' passwords are unusable: the signature fails
        body={"units": ["{unit_a}"], "reason": "matrix", "method": "other", "password": "x"},
    )
    m.api_case("GET /api/v1/scrap/{scrap_id}", staff_only, url=V + "/scrap/{svc_scrap}")

    # Pages. Partners other than hospitals are not let in (403); hospital B does not find
    # hospital A's installation or ticket (404).
    page_everyone = m.expect(302, 200, 403, hospital_a=200, hospital_b=200)
    page_one = m.expect(302, 200, 403, hospital_a=200, hospital_b=404)

    def page(route: str, url: str, expected: dict[str, int]) -> None:
        m.add(route, m.Case("GET", url, expected, session=True))

    page("/service/", "/service/", page_everyone)
    page(
        "/service/install/",
        "/service/install/",
        m.only(WORK, 200, anon=302, hospital_a=200, hospital_b=200),
    )
    page("/service/installations/<int:pk>/", "/service/installations/{svc_inst_a}/", page_one)
    page("/service/visit/", "/service/visit/", m.only(WORK, 200, anon=302))
    page("/service/plans/", "/service/plans/", m.expect(302, 200, 403))
    page(
        "/service/tickets/new/",
        "/service/tickets/new/",
        m.only(WORK, 200, anon=302, hospital_a=200, hospital_b=200),
    )
    page("/service/tickets/<int:pk>/", "/service/tickets/{svc_ticket_a}/", page_one)
    m.add(
        "/service/tickets/<int:pk>/<slug:action>/",
        m.Case(
            "POST",
            "/service/tickets/{svc_ticket_a}/close/",
            m.only(WORK, 302, anon=302),
            session=True,
            form={"note": "no fault found"},
        ),
    )
    page("/service/scrap/", "/service/scrap/", m.only(SCRAP_W, 200, anon=302))
    page("/service/scrap/<int:pk>/", "/service/scrap/{svc_scrap}/", m.expect(302, 200, 403))


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User
    from medtrace.lib import udi
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata.models import Party
    from medtrace.masterdata.tests import factories as md
    from medtrace.service import services

    hospital_b = Party.objects.get(pk=values["hospital_b_id"])
    site_a = md.location(owner=w.hospital, kind="site", ref=22, name="Site A")
    dept_a = md.location(
        owner=w.hospital, kind="hospital_department", ref=21, name="ICU A", parent_id=site_a.pk
    )
    site_b = md.location(owner=hospital_b, kind="site", ref=1, name="Site B")
    dept_b = md.location(
        owner=hospital_b, kind="hospital_department", ref=21, name="ICU B", parent_id=site_b.pk
    )
    inst_a = services.installation_create(unit=values["unit_a"], department_id=dept_a.pk, user=None)
    services.installation_create(unit=values["unit_b"], department_id=dept_b.pk, user=None)
    plan = services.maintenance_plan_create(
        data={
            "name": "PM",
            "kind": "maintenance",
            "product_id": values["stem_id"],
            "interval_days": 180,
        },
        user=None,
    )
    visit = services.maintenance_visit_record(
        plan=plan, unit=values["unit_a"], user=None, work_done="PM", result="pass"
    )
    ticket = services.ticket_open(unit=values["unit_a"], symptom="alarm", user=None)
    services.ticket_open(unit=values["unit_b"], symptom="alarm", user=None)
    scrapped = udi.sgtin_urn(values["gtin"], "MX-S", 7)
    ev.emit(
        [
            ev.object_event(
                action="ADD", epcs=[scrapped], biz_step="commissioning", disposition="active"
            )
        ],
        user=None,
    )
    signer = User.objects.create_user(
        username="mx_signer", password="pw-mx_signer", printed_name="Signer"
    )
    signer.groups.add(Group.objects.get(name="service"))
    record = services.scrap_create(
        units=[scrapped], reason="matrix", method="destroyed", user=signer, password="pw-mx_signer"
    )
    return {
        "svc_dept_a": dept_a.pk,
        "svc_inst_a": inst_a.pk,
        "svc_plan": plan.pk,
        "svc_visit_a": visit.pk,
        "svc_ticket_a": ticket.pk,
        "svc_scrap": record.pk,
    }
