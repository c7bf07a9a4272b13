"""Recall demo data (issue 6): one closed recall and one open recall on the demo's infusion
pumps, run through the recall services as QA and the consignees' own users would.

- **Closed** (三级 / FDA class III): two IP-300 pumps at 南京中心医院 whose labels were printed
  with a wrong flow-rate range. Classified, approved with QA's e-signature, the notice sent, the
  hospital acknowledges and reports both pumps corrected on site, an effectiveness check at
  level A confirms it, and QA closes the recall with an e-signature.
- **Open** (二级 / FDA class II, EU FSCA): every pump built with pressure-sensor lot PS00000 of
  上海医用电子元件, opened from the reportable complaint of the complaints demo. Scoped by
  the forward trace of the supplier lot, pumps still in our hands are held at once, the recall
  is approved, notices are sent to every consignee, and hospital A has acknowledged while the
  others have not yet: its progress and deadlines count down on the recall pages.

Idempotent: nothing happens once a recall exists.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Count

from medtrace.accounts.models import User
from medtrace.ledger.models import UnitState
from medtrace.masterdata.models import Material, Party

from . import services
from .models import RecallCampaign, RecallNotice

SENSOR_CODE, SENSOR_LOT = "M-PSENS-01", "PS00000"  # the demo event stream's sensor lot
HHE_LABEL = {
    "hazard": "标签流速范围印刷错误 (印为 0.1–1500 mL/h, 实为 0.1–1200 mL/h)",
    "severity": "minor",
    "probability": "remote",
    "population": "设定 1200 mL/h 以上流速的使用者; 设备会拒绝该设定",
}
HHE_SENSOR = {
    "hazard": "压力传感器零点漂移, 阻塞报警可能延迟",
    "severity": "serious injury",
    "probability": "occasional",
    "population": "使用 IP-300 进行持续输液的患者, 尤其是 ICU 与儿科",
}


def _pumps_at(party: Party, limit: int) -> list[str]:
    from medtrace.accounts.scoping import party_identifiers

    return list(
        UnitState.objects.filter(
            product__model="IP-300", possessing_party__in=party_identifiers(party)
        )
        .exclude(disposition__in=("destroyed", "disposed", "recalled"))
        .order_by("epc")
        .values_list("epc", flat=True)[:limit]
    )


def load(log: Callable[[str], None] = print) -> None:
    from medtrace.complaints.models import Complaint
    from medtrace.masterdata.demo import data

    if RecallCampaign.objects.exists():
        return
    names = {spec["key"]: spec["name"] for spec in data.PARTIES}
    hosp_b = Party.objects.filter(name=names["hosp_b"]).first()
    people = {
        u.username: u for u in User.objects.filter(username__in=["qa", "hospital_a", "hospital_b"])
    }
    if hosp_b is None or len(people) < 3:
        log("recalls demo: load the master-data demo first (hospital B, users qa/hospital_a/_b)")
        return
    qa = people["qa"]
    pumps = _pumps_at(hosp_b, 2)
    if len(pumps) < 2:
        log("recalls demo: hospital B holds fewer than 2 pumps; load the event demo first")
        return

    # The closed recall: two pumps at hospital B, corrected on site.
    closed = services.recall_open(
        title="IP-300 标签流速范围印刷错误",
        reason="两台输液泵的铭牌流速范围印刷错误 (1500 mL/h 应为 1200 mL/h); 现场更换铭牌",
        kind="serials",
        params={"serials": pumps},
        user=qa,
    )
    services.recall_classify(
        campaign=closed,
        cn_level=3,
        fda_class="III",
        depth="user",
        hhe=HHE_LABEL,
        strategy="通知医院; 服务工程师现场更换铭牌; 100% 效果核查",
        user=qa,
    )
    services.recall_approve(campaign=closed, password=data.DEMO_PASSWORD, user=qa)
    services.recall_notices_create(campaign=closed, user=qa)
    (notice,) = services.recall_notices_send(campaign=closed, user=qa)
    services.notice_acknowledge(notice=notice, user=people["hospital_b"], note="设备科已收到通知")
    services.unit_dispositions_report(
        notice=notice,
        items=[{"unit": epc, "status": "corrected", "note": "铭牌已更换"} for epc in pumps],
        user=people["hospital_b"],
    )
    check = services.effectiveness_check_start(campaign=closed, level="A", user=qa)
    for contact in check.contacts.all():
        services.effectiveness_contact_record(
            check=check, notice=contact.notice, result="confirmed", note="电话核实", user=qa
        )
    services.effectiveness_conclude(
        campaign=closed,
        effective=True,
        conclusion="全部 2 台已现场更正, 医院电话确认",
        user=qa,
    )
    services.recall_close(
        campaign=RecallCampaign.objects.get(pk=closed.pk),
        password=data.DEMO_PASSWORD,
        summary="召回完成: 2 台铭牌已更换, 效果核查 A 级 100% 确认",
        user=qa,
    )
    log(f"  recalls: {closed.number} closed with QA's signature")

    sensor = Material.objects.filter(code=SENSOR_CODE).first()
    if sensor is None:
        log("recalls demo: no pressure-sensor material; the open recall is left out")
        return
    # The open recall: every pump with pressure-sensor lot PS00000, from the reportable
    # complaint of the complaints demo.
    complaint = Complaint.objects.filter(reportable=True).order_by("id").first()
    campaign = services.recall_open(
        title="IP-300 压力传感器批次 PS00000",
        reason="压力传感器批次 PS00000 零点漂移, 阻塞报警可能延迟 (投诉与来料复检确认)",
        kind="supplier_lot",
        params={"material_id": sensor.pk, "lot": SENSOR_LOT},
        complaint=complaint,
        user=qa,
    )
    services.recall_classify(
        campaign=campaign,
        cn_level=2,
        fda_class="II",
        eu_fsca=True,
        depth="user",
        hhe=HHE_SENSOR,
        strategy="通知全部收货单位; 在库产品隔离; 用户端由服务工程师更换压力传感器",
        user=qa,
    )
    services.recall_approve(campaign=campaign, password=data.DEMO_PASSWORD, user=qa)
    services.recall_notices_create(campaign=campaign, user=qa)
    notices = services.recall_notices_send(campaign=campaign, user=qa)
    hosp_a_user = people["hospital_a"]
    for notice in notices:
        if notice.consignee_id == hosp_a_user.party_id:
            services.notice_acknowledge(
                notice=RecallNotice.objects.get(pk=notice.pk),
                user=hosp_a_user,
                note="已收到, 正在清点科室设备",
            )
    by_holder = campaign.units.values("holder_name").annotate(n=Count("pk")).order_by("-n").first()
    log(
        f"  recalls: {campaign.number} open: {campaign.units.count()} pumps, "
        f"{len(notices)} notices sent (largest holder: {by_holder and by_holder['holder_name']})"
    )
