"""The despatch note (发货单) of a shipment as PDF: shipper, consignee with its licence, ship-to,
and every unit by UDI. Printed from the shipment's stored snapshot, so a reprint years later
shows the consignee as it was on the day the goods left.

reportlab's built-in CID font STSong-Light prints Chinese without any system font (DESIGN §2).
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from medtrace.audit.pdf import _font
from medtrace.masterdata.models import LicenceKind

from .models import Shipment


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("—" if text in (None, "") else str(text)), style)


def despatch_note_pdf(shipment: Shipment, *, language: str = "zh-hans") -> bytes:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=9.5)
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=4)
    heading = ParagraphStyle("h2", fontName=font, fontSize=11.5, leading=15, spaceBefore=8)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    facts = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
            ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f2f2f2")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    order = shipment.sales_order
    origin = shipment.ship_from
    shipper = origin.party
    items = list(shipment.items.select_related("product").order_by("id"))
    with translation.override(language):
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=14 * mm,
            rightMargin=14 * mm,
            topMargin=14 * mm,
            bottomMargin=14 * mm,
            title=f"{_('Despatch note')} {shipment.number}",
            author="medtrace",
        )
        licence_kind = (
            LicenceKind(shipment.consignee_licence_kind).label
            if shipment.consignee_licence_kind in LicenceKind.values
            else shipment.consignee_licence_kind
        )
        expires = shipment.consignee_licence_expires_on
        story: list[Any] = [
            _p(f"{_('Despatch note')} {shipment.number}", title),
            _p(
                _("Printed %(time)s by medtrace")
                % {"time": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
                small,
            ),
            Spacer(1, 3 * mm),
            Table(
                [
                    [
                        _p(_("Shipped"), body),
                        _p(
                            timezone.localtime(shipment.shipped_at).strftime("%Y-%m-%d %H:%M"), body
                        ),
                        _p(_("Sales order"), body),
                        _p(order.number, body),
                    ],
                    [
                        _p(_("Customer PO"), body),
                        _p(shipment.customer_po, body),
                        _p(_("Units"), body),
                        _p(shipment.unit_count, body),
                    ],
                    [
                        _p(_("Shipper"), body),
                        _p(f"{shipper.name} · {shipper.address}", body),
                        _p(_("Shipped from"), body),
                        _p(f"{origin.name} ({origin.gln})", body),
                    ],
                    [
                        _p(_("Consignee"), body),
                        _p(shipment.consignee_name, body),
                        _p(_("Consignee address"), body),
                        _p(shipment.consignee_address, body),
                    ],
                    [
                        _p(_("Licence"), body),
                        _p(f"{licence_kind}: {shipment.consignee_licence_number}", body),
                        _p(_("Licence valid until"), body),
                        _p(expires.isoformat() if expires else _("no expiry"), body),
                    ],
                    [
                        _p(_("Ship to"), body),
                        _p(shipment.ship_to_name, body),
                        _p(_("Ship-to address"), body),
                        _p(f"{shipment.ship_to_address} · {shipment.ship_to_sgln}", body),
                    ],
                ],
                colWidths=[25 * mm, 66 * mm, 25 * mm, 66 * mm],
                style=facts,
            ),
            _p(_("Units"), heading),
        ]
        rows = [
            [
                _p(h, body)
                for h in ("#", _("Product"), _("UDI"), _("Lot"), _("Expiry"), _("Packed in"))
            ]
        ]
        n = 0
        for item in items:
            if item.is_container:
                continue
            n += 1
            product = f"{item.product.name} {item.product.model}" if item.product else ""
            rows.append(
                [
                    _p(n, small),
                    _p(product, small),
                    _p(item.udi, small),
                    _p(item.lot, small),
                    _p(item.expiry.isoformat() if item.expiry else "", small),
                    _p(item.container, small),
                ]
            )
        story.append(
            Table(
                rows,
                colWidths=[8 * mm, 38 * mm, 62 * mm, 20 * mm, 18 * mm, 36 * mm],
                style=grid,
                repeatRows=1,
            )
        )
        cases = [i for i in items if i.is_container]
        if cases:
            story.append(_p(_("Cases and pallets (SSCC)"), heading))
            story.append(
                Table(
                    [[_p(_("SSCC"), body)]] + [[_p(c.udi, small)] for c in cases],
                    colWidths=[182 * mm],
                    style=grid,
                    repeatRows=1,
                )
            )
        story.append(Spacer(1, 10 * mm))
        story.append(
            Table(
                [
                    [
                        _p(_("Shipped by (signature)"), body),
                        _p("", body),
                        _p(_("Received by (signature, date)"), body),
                        _p("", body),
                    ]
                ],
                colWidths=[35 * mm, 56 * mm, 35 * mm, 56 * mm],
                rowHeights=[16 * mm],
                style=facts,
            )
        )
        doc.build(story)
        return buffer.getvalue()
