"""Complaint demo data (issue 6): three complaints on the demo's infusion pumps at the hospitals,
through the complaint services.

- a closed one: recorded by the service engineer, investigated, decided not reportable, closed
  with QA's e-signature (meaning "closed");
- a reportable one: reported by hospital A's own staff (partner user), an injury, decided
  reportable, so an adverse event with its NMPA deadline counting down;
- an open one: taken by sales over the phone, the device not identified yet.

If two of them name pumps of one lot or with one supplier component lot, the signal rules raise
a complaint signal to QA, as they would for real complaints. Idempotent: nothing happens once a
complaint exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.masterdata.models import Party

from . import services
from .models import Complaint


def _pumps(hospital: Party, limit: int) -> list[str]:
    """Infusion pumps the hospital holds now, not scrapped (the demo's event stream)."""
    from medtrace.accounts.scoping import party_identifiers
    from medtrace.ledger.models import UnitState

    return list(
        UnitState.objects.filter(
            product__model="IP-300", possessing_party__in=party_identifiers(hospital)
        )
        .exclude(disposition__in=("destroyed", "disposed"))
        .exclude(biz_step__in=("decommissioning", "destroying"))
        .order_by("-epc")
        .values_list("epc", flat=True)[:limit]
    )


def load(log: Callable[[str], None] = print) -> None:
    from medtrace.masterdata.demo import data

    if Complaint.objects.exists():
        return
    names = {spec["key"]: spec["name"] for spec in data.PARTIES}
    hosp_a = Party.objects.filter(name=names["hosp_a"]).first()
    hosp_b = Party.objects.filter(name=names["hosp_b"]).first()
    users = {u.username: u for u in User.objects.filter(username__in=["qa", "service", "sales"])}
    ward = User.objects.filter(username="hospital_a").first()
    if hosp_a is None or hosp_b is None or len(users) < 3 or ward is None:
        log("complaints demo: load the master-data demo first (hospitals, users qa/service/sales)")
        return
    pumps = _pumps(hosp_a, 2)
    if len(pumps) < 2:
        log("complaints demo: hospital A holds fewer than 2 pumps; load the event demo first")
        return
    qa, engineer, sales = users["qa"], users["service"], users["sales"]
    now = timezone.now()

    closed = services.complaint_create(
        udi=pumps[0],
        description="输液结束前 5 分钟出现“即将完成”提示音过小, 护士未听到",
        complainant_party_id=hosp_a.pk,
        complainant_name="ICU 护士长 王敏",
        complainant_contact="0755-8888 1234",
        event_date=(now - timedelta(days=20)).date(),
        received_at=now - timedelta(days=19),
        user=engineer,
    ).complaint
    services.complaint_investigate(
        complaint=closed,
        entry="现场检查: 音量设置为最低档 (1/5), 扬声器测试 78 dB 合格",
        findings="设备无故障; 使用者将提示音量调至最低",
        root_cause="使用设置, 非产品缺陷",
        investigation_summary="提示音功能正常, 培训护士调整音量",
        user=qa,
        recorded_at=now - timedelta(days=17),
    )
    services.complaint_decide(
        complaint=closed,
        reportable=False,
        justification="无伤害, 设备符合规格, 不构成可报告的不良事件",
        user=qa,
    )
    services.complaint_link_capa(complaint=closed, capa_reference="培训记录 TR-2026-031", user=qa)
    services.complaint_close(
        complaint=closed,
        password=data.DEMO_PASSWORD,
        summary="已对 ICU 护士完成音量设置培训, 投诉关闭",
        user=qa,
    )
    log(f"  complaints: {closed.number} closed with a signature")

    reportable = services.complaint_create(
        udi=pumps[1],
        description="输液中流速明显偏快, 患者出现心悸, 经处理后缓解",
        injury=True,
        event_date=(now - timedelta(days=3)).date(),
        received_at=now - timedelta(days=2),
        user=ward,
    ).complaint
    services.complaint_investigate(
        complaint=reportable,
        entry="设备召回至维修中心, 读取运行日志",
        findings="日志显示流速设定 125 mL/h, 实际测量 141 mL/h (+13%)",
        user=qa,
        recorded_at=now - timedelta(days=1),
    )
    decision = services.complaint_decide(
        complaint=reportable,
        reportable=True,
        justification="流速偏差导致患者受到伤害, 属于严重伤害事件, 需向 NMPA 报告",
        severity="serious_injury",
        user=qa,
    )
    assert decision.adverse_event is not None
    log(
        f"  complaints: {reportable.number} reportable, adverse event "
        f"{decision.adverse_event.number}"
    )

    services.complaint_create(
        description="电话投诉: 一台输液泵开机后屏幕不亮, 医院尚未提供序列号",
        complainant_party_id=hosp_b.pk,
        complainant_name="设备科 张工",
        complainant_contact="025-6666 0000",
        user=sales,
    )
    log("  complaints: 1 open complaint awaiting the device's UDI")
