"""Complaints, adverse events and signals (issue 6 items 1-3): every department and the auditor
read them; sales, service, QA/RA and the administrator take complaints in; QA/RA and the
administrator investigate, decide, link CAPA, close (e-signed), report adverse events and set
signal rules. A hospital's own staff report complaints about their own units (token scope
complaints:submit) and read their hospital's complaints (another hospital's: 404); other
partners see none. Adverse events, rules and signals are internal (partners: 403).

World: the matrix's own product with unit CX-A at hospital A and CX-B at hospital B (no lot, no
components: no signal fires); complaint A reported by hospital A, complaint B by hospital B, a
staff complaint ready to close, and one with an adverse event."""

from __future__ import annotations

from typing import Any

INTAKE = ("sales", "service", "qa_ra", "admin")
MANAGE = ("qa_ra", "admin")


def register(m: Any) -> None:
    V = m.V
    m.api_case("GET /api/v1/complaints", m.expect(401, 200, 200))
    m.api_case(
        "POST /api/v1/complaints",
        m.only(INTAKE, 201, partners=403, hospital_a=201, hospital_b=404),
        body={"udi": "{cx_a}", "description": "matrix", "complainant_name": "Ward"},
    )
    m.api_case(
        "GET /api/v1/complaints/{number}",
        m.expect(401, 200, 404, hospital_a=200),
        url=V + "/complaints/{cmp_a}",
    )
    for action, status, body in (
        ("investigation", 201, {"entry": "matrix"}),
        ("decision", 200, {"reportable": False, "justification": "matrix"}),
        ("capa", 200, {"capa_reference": "CAPA-MX"}),
        ("adverse-event", 201, {}),
    ):
        m.api_case(
            f"POST /api/v1/complaints/{{number}}/{action}",
            m.only(MANAGE, status),  # partner tokens cannot carry complaints:write
            url=V + f"/complaints/{{cmp_a}}/{action}",
            body=body,
        )
    m.api_case(
        "POST /api/v1/complaints/{number}/close",
        m.only(MANAGE, 422),  # the matrix users' passwords are unusable: the signature fails
        url=V + "/complaints/{cmp_ready}/close",
        body={"password": "x", "summary": "matrix"},
    )
    internal = m.expect(401, 200, 403)
    m.api_case("GET /api/v1/adverse-events", internal)
    m.api_case("GET /api/v1/adverse-events/{number}", internal, url=V + "/adverse-events/{cmp_ae}")
    m.api_case(
        "POST /api/v1/adverse-events/{number}/deadlines/{key}/report",
        m.only(MANAGE, 200),
        url=V + "/adverse-events/{cmp_ae}/deadlines/{cmp_ae_key}/report",
        body={"reference": "MX-1"},
    )
    m.api_case("GET /api/v1/signal-rules", internal)
    m.api_case(
        "POST /api/v1/signal-rules",
        m.only(MANAGE, 201),
        body={"dimension": "lot", "threshold": 3, "window_days": 10},
    )
    m.api_case(
        "PATCH /api/v1/signal-rules/{rule_id}",
        m.only(MANAGE, 200),
        url=V + "/signal-rules/{cmp_rule}",
        body={"threshold": 3, "reason": "matrix"},
    )
    m.api_case("GET /api/v1/signals", internal)

    # Pages. Partners other than hospitals are not let in (403); hospital B does not find
    # hospital A's complaint (404).
    def page(route: str, url: str, expected: dict[str, int]) -> None:
        m.add(route, m.Case("GET", url, expected, session=True))

    page("/complaints/", "/complaints/", m.expect(302, 200, 403, hospital_a=200, hospital_b=200))
    page(
        "/complaints/new/",
        "/complaints/new/",
        m.only(INTAKE, 200, anon=302, hospital_a=200, hospital_b=200),
    )
    page("/complaints/adverse-events/", "/complaints/adverse-events/", m.expect(302, 200, 403))
    page("/complaints/signals/", "/complaints/signals/", m.expect(302, 200, 403))
    page(
        "/complaints/<str:number>/",
        "/complaints/{cmp_a}/",
        m.expect(302, 200, 403, hospital_a=200, hospital_b=404),
    )
    m.add(
        "/complaints/<str:number>/<slug:action>/",
        m.Case(
            "POST",
            "/complaints/{cmp_a}/investigate/",
            m.only(MANAGE, 302, anon=302),
            session=True,
            form={"entry": "matrix"},
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.complaints import services
    from medtrace.complaints.models import SignalRule
    from medtrace.lib import udi
    from medtrace.masterdata.models import Party
    from medtrace.masterdata.tests import factories as md
    from medtrace.trace.tests import factories as f

    hospital_b = Party.objects.get(pk=values["hospital_b_id"])
    product = md.product(
        manufacturer=w.maker,
        name="Complaint matrix pump",
        model="CX-MX",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 41)}],
    )
    gtin = product.identifiers.get(packaging_level="unit").di
    cx_a, cx_b = udi.sgtin_urn(gtin, "CX-A", 7), udi.sgtin_urn(gtin, "CX-B", 7)
    maker = w.pgln(w.maker)
    f.capture(
        f.commission([cx_a, cx_b], f.t(3)),
        *(
            f.obj(
                [epc],
                f.t(4),
                biz_step="receiving",
                sources=[("possessing_party", maker)],
                destinations=[("possessing_party", to), ("owning_party", to)],
            )
            for epc, to in ((cx_a, w.pgln(w.hospital)), (cx_b, w.pgln(hospital_b)))
        ),
    )
    cmp_a = services.complaint_create(
        udi=cx_a, description="Alarm", user=users["hospital_a"]
    ).complaint
    services.complaint_create(udi=cx_b, description="Alarm", user=users["hospital_b"])
    ready = services.complaint_create(
        udi=cx_a, description="Display", complainant_name="Ward", user=None
    ).complaint
    services.complaint_decide(
        complaint=ready, reportable=False, justification="no harm possible", user=None
    )
    with_ae = services.complaint_create(
        udi=cx_a, description="Injury", complainant_name="Ward", injury=True, user=None
    ).complaint
    decision = services.complaint_decide(
        complaint=with_ae, reportable=True, justification="serious injury", user=None
    )
    assert decision.adverse_event is not None
    return {
        "cx_a": cx_a,
        "cmp_a": cmp_a.number,
        "cmp_ready": ready.number,
        "cmp_ae": decision.adverse_event.number,
        "cmp_ae_key": decision.adverse_event.deadlines.get().key,
        "cmp_rule": SignalRule.objects.get(dimension="lot").pk,
    }
