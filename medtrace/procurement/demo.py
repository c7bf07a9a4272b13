"""Demo procurement story at 苏州康迈医疗科技 (run after the master-data demo).

- Supplier certificates: 深圳精密微电机 and 上海医用电子元件 get their business licences and
  production licence / filing on file (an ISO 13485 that has lapsed by the time the demo runs is
  renewed); the production licence of 上海医用电子元件 expires in 21 days, so the certificate
  check raises an alert to procurement.
- PO to 深圳精密微电机 for 20 stepper motors; 12 arrive (serials SPM2611-0001..0012, CoC
  attached) into 待检/隔离区; QC rejects SPM2611-0007 (bearing noise) and accepts the rest.
- PO to 上海医用电子元件 for pressure sensors, battery packs and MCUs, received in full with
  its CoC: sensor lot PS2611A is partly accepted (480 of 500; 20 with zero offset out of
  tolerance), the 10 battery packs are accepted, MCU lot MCU2611-07 still waits for inspection.
- A draft PO for capacitors, not yet sent.

Idempotent: nothing happens when the receipt with delivery note SPM-DN-261101 exists.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import LicenceKind, Location, Material, Party

from . import services
from .models import GoodsReceipt, MaterialLot
from .qualification import required_certificates

MOTOR_DN = "SPM-DN-261101"


def coc_pdf(title: str, lines: list[str]) -> bytes:
    """A small certificate of conformity (合格证明) as a PDF."""
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5, invariant=True)
    pdf.setTitle(title)
    pdf.setFont(font, 14)
    y = A5[1] - 50
    pdf.drawString(40, y, title)
    pdf.setFont(font, 10)
    for line in lines:
        y -= 18
        pdf.drawString(40, y, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _ensure_certificates(party: Party, extra: list[tuple[str, str, date | None]]) -> None:
    """Add the certificates in ``extra`` whose kind the party lacks (or holds only expired)."""
    today = timezone.localdate()
    held = list(party.licences.all())
    for kind, number, expires in extra:
        valid = [
            lic
            for lic in held
            if lic.kind == kind and (lic.expires_on is None or lic.expires_on >= today)
        ]
        if valid or any(lic.number == number for lic in held):
            continue
        md_services.licence_add(
            party=party,
            data={"kind": kind, "number": number, "expires_on": expires, "issuer": ""},
            user=None,
        )


def _qualify(motor: Party, elec: Party) -> None:
    today = timezone.localdate()
    _ensure_certificates(
        motor,
        [
            (LicenceKind.BUSINESS_LICENCE, "91440300MA5DJ2KX3Q", None),
            (
                LicenceKind.PRODUCTION_FILING,
                "粤深食药监械生产备20190031号",
                today + timedelta(days=2 * 365),
            ),
            (LicenceKind.ISO13485, "CN-13485-2025-2207", today + timedelta(days=3 * 365)),
        ],
    )
    _ensure_certificates(
        elec,
        [
            (LicenceKind.BUSINESS_LICENCE, "91310112MA1GB6T25U", None),
            # Expires in three weeks: the certificate check alerts procurement.
            (LicenceKind.PRODUCTION, "沪食药监械生产许20170045号", today + timedelta(days=21)),
            (LicenceKind.ISO13485, "CN-13485-2025-3311", today + timedelta(days=3 * 365)),
        ],
    )
    for party in (motor, elec):
        kinds = {lic.kind for lic in party.licences.all()}
        assert all(any(k in kinds for k in need) for _l, need in required_certificates(party))


def load_demo(log: Callable[[str], None] = print) -> None:
    if GoodsReceipt.objects.filter(delivery_note=MOTOR_DN).exists():
        return
    motor = Party.objects.filter(name="深圳精密微电机有限公司").first()
    elec = Party.objects.filter(name="上海医用电子元件有限公司").first()
    incoming = Location.objects.filter(code="SZ-QRN").first()
    materials = {
        m.code: m
        for m in Material.objects.filter(
            code__in=["M-MOTOR-24", "M-PSENS-01", "M-BATT-LI", "M-MCU-32", "M-CAP-100N"]
        )
    }
    if motor is None or elec is None or incoming is None or len(materials) < 5:
        log("procurement demo: suppliers, SZ-QRN or materials missing; load master data first")
        return
    buyer = User.objects.filter(username="procurement").first()
    qc = User.objects.filter(username="qc").first()
    now = timezone.now()
    today = timezone.localdate()

    with transaction.atomic():
        _qualify(motor, elec)

        # 1. Stepper motors from 深圳精密微电机: 12 of 20 arrive; one fails incoming inspection.
        po_motor = services.purchase_order_create(
            supplier=motor,
            lines=[{"material": "M-MOTOR-24", "quantity": 20}],
            expected_on=today - timedelta(days=3),
            note="输液泵 IP-300 11月装配计划 / stepper motors for the November IP-300 build",
            release=True,
            user=buyer,
        )
        serials = [f"SPM2611-{n:04d}" for n in range(1, 13)]
        receipt = services.goods_receipt_create(
            order=po_motor,
            location=incoming,
            lines=[{"line": 1, "lot": "SPM-L2611A", "serials": serials}],
            coc_name="CoC-SPM-L2611A.pdf",
            coc_content=coc_pdf(
                "产品合格证明 Certificate of Conformity",
                [
                    "深圳精密微电机有限公司 Shenzhen Precision Micromotor",
                    "SPM-24-01 24V 步进电机 stepper motor, lot SPM-L2611A",
                    f"Serials {serials[0]} .. {serials[-1]} (12 pcs)",
                    "出厂检验合格 Passed final inspection per SPM-QP-07",
                ],
            ),
            coc_content_type="application/pdf",
            delivery_note=MOTOR_DN,
            user=buyer,
            at=now - timedelta(days=2, hours=3),
        )
        services.inspection_record_serials(
            receipt_line=receipt.lines.get(),
            rejected=["SPM2611-0007"],
            note="轴承异响 Bearing noise at 1200 rpm (SPM2611-0007)",
            user=qc,
            at=now - timedelta(days=2),
        )

        # 2. Electronics from 上海医用电子元件, received in full.
        po_elec = services.purchase_order_create(
            supplier=elec,
            lines=[
                {"material": "M-PSENS-01", "quantity": 500},
                {"material": "M-BATT-LI", "quantity": 10},
                {"material": "M-MCU-32", "quantity": 1000},
            ],
            expected_on=today - timedelta(days=1),
            release=True,
            user=buyer,
        )
        batteries = [f"LB144-2611{n:04d}" for n in range(1, 11)]
        receipt = services.goods_receipt_create(
            order=po_elec,
            location=incoming,
            lines=[
                {
                    "line": 1,
                    "lot": "PS2611A",
                    "quantity": 500,
                    "expires_on": today + timedelta(days=2 * 365),
                },
                {
                    "line": 2,
                    "lot": "LB-2611",
                    "serials": batteries,
                    "expires_on": today + timedelta(days=3 * 365),
                },
                {"line": 3, "lot": "MCU2611-07", "quantity": 1000},
            ],
            coc_name="CoC-SHME-20261124.pdf",
            coc_content=coc_pdf(
                "质量合格证明书 Certificate of Conformity",
                [
                    "上海医用电子元件有限公司 Shanghai Medical Electronics",
                    "PS-01A 阻塞压力传感器 lot PS2611A x 500",
                    "LB-144 锂电池组 lot LB-2611 x 10 (serialized)",
                    "MCU-F4-LQFP64 lot MCU2611-07 x 1000",
                ],
            ),
            coc_content_type="application/pdf",
            delivery_note="SHME-DN-20261124",
            user=buyer,
            at=now - timedelta(days=1, hours=4),
        )
        sensors = MaterialLot.objects.get(material=materials["M-PSENS-01"], identifier="PS2611A")
        services.inspection_record(
            lot=sensors,
            accepted_qty=Decimal(480),
            note="20 件零点漂移超差 20 sensors with zero offset out of tolerance (> ±2 kPa)",
            user=qc,
            at=now - timedelta(days=1),
        )
        battery_line = receipt.lines.get(order_line__material=materials["M-BATT-LI"])
        services.inspection_record_serials(
            receipt_line=battery_line, user=qc, at=now - timedelta(hours=20)
        )

        # 3. Capacitors: drafted, not yet sent to the supplier.
        services.purchase_order_create(
            supplier=elec,
            lines=[{"material": "M-CAP-100N", "quantity": 20000}],
            expected_on=today + timedelta(days=10),
            note="草稿 draft",
            user=buyer,
        )

        alerts = services.certificates_check(days=30)
    log(
        f"procurement demo: 3 purchase orders, 2 goods receipts with CoCs, "
        f"{MaterialLot.objects.count()} material lots/serials inspected or waiting, "
        f"{len(alerts)} certificate alerts"
    )
