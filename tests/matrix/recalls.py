"""Recalls (issue 6 item 4): every department and the auditor read campaigns (recalls:read);
QA/RA and the administrator run them (recalls:write): open, extend, classify, approve (e-signed),
notices, effectiveness checks, close (e-signed). Partner tokens cannot carry recalls:read or
recalls:write (403); a distributor's or hospital's own users read, acknowledge and report on the
notices addressed to their party (recall:ack); another party's notice is a 404. Staff act on a
consignee's behalf: QA/RA acknowledges, QA/RA, the warehouse and service report dispositions.

World: our own product RC-MX, one unit at hospital A and one at hospital B, a recall of both
(approved, notices sent to each hospital) with an effectiveness check at level A."""

from __future__ import annotations

from typing import Any

RUN = ("qa_ra", "admin")
REPORT = ("warehouse", "service", "qa_ra", "admin")


def register(m: Any) -> None:
    v = m.V
    staff = m.expect(401, 200, 403)  # partner tokens lack recalls:read
    recall = v + "/recalls/{rc_number}"

    m.api_case("GET /api/v1/recalls", staff)
    m.api_case(
        "POST /api/v1/recalls",
        m.only(RUN, 201),
        body={
            "title": "matrix",
            "reason": "matrix",
            "kind": "serials",
            "params": {"serials": ["{rc_unit_a}"]},
        },
    )
    m.api_case(
        "POST /api/v1/recalls/preview",
        staff,
        body={"kind": "serials", "params": {"serials": ["{rc_unit_a}"]}},
    )
    m.api_case("GET /api/v1/recalls/{number}", staff, url=recall)
    m.api_case("GET /api/v1/recalls/{number}/units", staff, url=recall + "/units")
    m.api_case("POST /api/v1/recalls/{number}/recompute", staff, url=recall + "/recompute")
    m.api_case(
        "POST /api/v1/recalls/{number}/extend",
        m.only(RUN, 422),  # the unit is in the recall already
        url=recall + "/extend",
        body={"epcs": ["{rc_unit_a}"]},
    )
    m.api_case(
        "POST /api/v1/recalls/{number}/classify",
        m.only(RUN, 200),
        url=recall + "/classify",
        body={
            "cn_level": 2,
            "depth": "user",
            "hhe": {"hazard": "h", "severity": "s", "probability": "p", "population": "q"},
            "strategy": "matrix",
        },
    )
    m.api_case(
        "POST /api/v1/recalls/{number}/approve",
        m.only(RUN, 409),  # approved already
        url=recall + "/approve",
        body={"password": "wrong"},
    )
    m.api_case("POST /api/v1/recalls/{number}/notices", m.only(RUN, 201), url=recall + "/notices")
    m.api_case(
        "POST /api/v1/recalls/{number}/notices/send",
        m.only(RUN, 200),
        url=recall + "/notices/send",
    )
    m.api_case("GET /api/v1/recalls/{number}/progress", staff, url=recall + "/progress")
    m.api_case(
        "POST /api/v1/recalls/{number}/effectiveness-checks",
        m.only(RUN, 201),
        url=recall + "/effectiveness-checks",
        body={"level": "C"},
    )
    m.api_case(
        "POST /api/v1/recalls/{number}/effectiveness-checks/{check_id}/contacts",
        m.only(RUN, 200),
        url=recall + "/effectiveness-checks/{rc_check}/contacts",
        body={"notice": "{rn_a}", "result": "confirmed"},
    )
    m.api_case(
        "POST /api/v1/recalls/{number}/effectiveness",
        m.only(RUN, 409),  # the sampled consignees have not answered yet
        url=recall + "/effectiveness",
        body={"effective": True, "conclusion": "matrix"},
    )
    m.api_case(
        "POST /api/v1/recalls/{number}/close",
        m.only(RUN, 409),  # nothing acknowledged yet
        url=recall + "/close",
        body={"password": "wrong", "summary": "matrix"},
    )
    m.api_case("GET /api/v1/recall-notices", m.expect(401, 200, 200))  # partners: their own
    m.api_case(
        "GET /api/v1/recall-notices/{number}",
        m.expect(401, 200, 404, hospital_a=200),
        url=v + "/recall-notices/{rn_a}",
    )
    m.api_case(
        "POST /api/v1/recall-notices/{number}/acknowledge",
        m.only(("qa_ra", "admin"), 200, partners=404, hospital_a=200),
        url=v + "/recall-notices/{rn_a}/acknowledge",
        body={"note": "matrix"},
    )
    m.api_case(
        "POST /api/v1/recall-notices/{number}/dispositions",
        m.only(REPORT, 200, partners=404, hospital_a=200),
        url=v + "/recall-notices/{rn_a}/dispositions",
        body={"items": [{"unit": "{rc_unit_a}", "status": "corrected"}]},
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
        name="召回矩阵泵",
        model="RC-MX",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 71)}],
    )
    gtin = product.identifiers.get(packaging_level="unit").di
    unit_a, unit_b = udi.sgtin_urn(gtin, "RC-A", 7), udi.sgtin_urn(gtin, "RC-B", 7)
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
        username="mx_rc_signer", password="pw-mx-rc", printed_name="Recall Signer"
    )
    signer.groups.add(Group.objects.get(name="qa_ra"))
    campaign = services.recall_open(
        title="RC-MX matrix recall",
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
    services.recall_approve(campaign=campaign, password="pw-mx-rc", user=signer)
    services.recall_notices_create(campaign=campaign, user=None)
    notices = {
        n.consignee_id: n for n in services.recall_notices_send(campaign=campaign, user=None)
    }
    check = services.effectiveness_check_start(campaign=campaign, level="A", user=None)
    return {
        "rc_number": campaign.number,
        "rc_unit_a": unit_a,
        "rn_a": notices[w.hospital.pk].number,
        "rn_b": notices[hospital_b.pk].number,
        "rc_check": check.pk,
    }
