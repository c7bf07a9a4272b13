"""Recall pages (issue 6 item 4): every department and the auditor read the campaign pages and
the staff notice pages; QA/RA and the administrator open recalls and run their steps (the
campaign page's forms). A distributor's or hospital's user is sent from /recalls/ to its portal
(302) and kept out of the other staff pages (403); in the portal it sees and answers only the
notices addressed to its own party (another party's: 404). Suppliers have no recall pages.

World: our own product RC-PG, one unit at hospital A and one at hospital B, a recall of both
(approved, notices sent to each hospital)."""

from __future__ import annotations

from typing import Any

RUN = ("qa_ra", "admin")
CONSIGNEES = ("distributor", "hospital_a", "hospital_b")


def register(m: Any) -> None:
    staff = m.expect(302, 200, 403)  # every role reads recalls; partners use the portal
    portal = m.only(CONSIGNEES, 200, no=403, anon=302, partners=403)
    # hospital A's notice: hospital A answers it; the other consignees do not find it
    notice_a = m.only((), 200, no=403, anon=302, partners=403, hospital_a=200, distributor=404,
                      hospital_b=404)  # fmt: skip

    def page(route: str, url: str, expected: dict[str, int]) -> None:
        m.add(route, m.Case("GET", url, expected, session=True))

    page("/recalls/", "/recalls/", {**staff, **{p: 302 for p in CONSIGNEES}})
    page("/recalls/new/", "/recalls/new/", m.only(RUN, 200, anon=302))
    page("/recalls/portal/", "/recalls/portal/", portal)
    m.add(
        "/recalls/portal/notices/<str:number>/",
        m.Case("GET", "/recalls/portal/notices/{rp_notice_a}/", notice_a, session=True),
        m.Case(
            "POST",
            "/recalls/portal/notices/{rp_notice_a}/",
            {**notice_a, "hospital_a": 302},  # acknowledged
            session=True,
            form={"action": "acknowledge", "note": "matrix"},
        ),
    )
    page(
        "/recalls/portal/notices/<str:number>/pdf/",
        "/recalls/portal/notices/{rp_notice_a}/pdf/",
        notice_a,
    )
    m.add(
        "/recalls/notices/<str:number>/",
        m.Case("GET", "/recalls/notices/{rp_notice_a}/", staff, session=True),
        m.Case(
            "POST",
            "/recalls/notices/{rp_notice_a}/",
            m.only(RUN, 302, anon=302),  # acknowledged on the consignee's behalf
            session=True,
            form={"action": "acknowledge", "note": "by phone"},
        ),
    )
    page("/recalls/notices/<str:number>/pdf/", "/recalls/notices/{rp_notice_a}/pdf/", staff)
    page("/recalls/<str:number>/", "/recalls/{rp_number}/", staff)
    m.add(
        "/recalls/<str:number>/do/<slug:action>/",
        m.Case(
            "POST",
            "/recalls/{rp_number}/do/notices-send/",
            m.only(RUN, 302, anon=302),  # nothing left to send: back to the page
            session=True,
            form={},
        ),
        m.Case(
            "POST",
            "/recalls/{rp_number}/do/classify/",
            m.only(RUN, 422, anon=302),  # no hazard evaluation: refused next to the fields
            session=True,
            form={"cn_level": "2", "depth": "user"},
        ),
    )
    page(
        "/recalls/<str:number>/reports/<slug:kind>.<slug:fmt>",
        "/recalls/{rp_number}/reports/cn_report.pdf",
        staff,
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User
    from medtrace.lib import udi
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata.models import Party
    from medtrace.masterdata.tests import factories as md
    from medtrace.recalls import services

    hospital_b = Party.objects.get(pk=values["hospital_b_id"])
    product = md.product(
        manufacturer=w.maker,
        name="召回页面泵",
        model="RC-PG",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 43)}],
    )
    gtin = product.identifiers.get(packaging_level="unit").di
    unit_a, unit_b = udi.sgtin_urn(gtin, "PG-A", 7), udi.sgtin_urn(gtin, "PG-B", 7)
    events = [
        ev.object_event(
            action="ADD", epcs=[unit_a, unit_b], biz_step="commissioning", disposition="active",
            biz_location=w.warehouse.sgln,
        )
    ]  # fmt: skip
    for unit, hospital in ((unit_a, w.hospital), (unit_b, hospital_b)):
        events.append(
            ev.object_event(
                epcs=[unit],
                biz_step="receiving",
                disposition="in_progress",
                sources=ev.parties("source", owner=w.maker, holder=w.maker),
                destinations=ev.parties("destination", owner=hospital, holder=hospital),
            )
        )
    ev.emit(events, user=None)
    signer = User.objects.create_user(
        username="mx_rp_signer", password="pw-mx-rp", printed_name="Recall Page Signer"
    )
    signer.groups.add(Group.objects.get(name="qa_ra"))
    campaign = services.recall_open(
        title="RC-PG matrix recall",
        reason="matrix",
        kind="serials",
        params={"serials": [unit_a, unit_b]},
        user=None,
    )
    services.recall_classify(
        campaign=campaign,
        cn_level=2,
        depth="user",
        hhe={"hazard": "h", "severity": "s", "probability": "p", "population": "q"},
        strategy="matrix",
        user=None,
    )
    services.recall_approve(campaign=campaign, password="pw-mx-rp", user=signer)
    services.recall_notices_create(campaign=campaign, user=None)
    notices = {
        n.consignee_id: n for n in services.recall_notices_send(campaign=campaign, user=None)
    }
    return {"rp_number": campaign.number, "rp_notice_a": notices[w.hospital.pk].number}
