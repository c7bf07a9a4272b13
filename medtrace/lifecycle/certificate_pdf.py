"""The traceability certificate as PDF (reportlab; STSong-Light prints Chinese, DESIGN §2)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from medtrace.audit.pdf import _font

from .models import TraceCertificate


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("—" if text in (None, "") else str(text)), style)


def certificate_pdf(cert: TraceCertificate, *, language: str) -> bytes:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=8, leading=10)
    small = ParagraphStyle("small", fontName=font, fontSize=6.5, leading=8)
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=4)
    heading = ParagraphStyle("h2", fontName=font, fontSize=11, leading=14, spaceBefore=8)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    facts_style = TableStyle(
        [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    )
    c = cert.content
    unit, current, product = c["unit"], c["current"], c["unit"].get("product") or {}

    def table(headers: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        data = [[_p(h, body) for h in headers]]
        data += [[_p(v, body) for v in row] for row in rows]
        return Table(data, colWidths=[w * mm for w in widths], style=grid, repeatRows=1)

    with translation.override(language):
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=12 * mm,
            rightMargin=12 * mm,
            topMargin=12 * mm,
            bottomMargin=12 * mm,
            title=f"{_('Traceability certificate')} {cert.number}",
            author=c["issuer"]["name"],
        )
        story: list[Any] = [
            _p(_("Traceability certificate") + f" · {cert.number}", title),
            _p(
                _("Issued %(time)s UTC by %(issuer)s (GLN %(gln)s) with medtrace")
                % {
                    "time": cert.issued_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "issuer": c["issuer"]["name"],
                    "gln": c["issuer"]["gln"] or "—",
                },
                small,
            ),
            _p(_("Device"), heading),
        ]
        facts = [
            (_("UDI"), unit.get("udi") or unit["epc"]),
            ("EPC", unit["epc"]),
            (_("Product"), f"{product.get('name', '')} {product.get('model', '')}".strip()),
            (_("Registration number"), product.get("registration_no")),
            (_("Manufacturer"), product.get("manufacturer")),
            (_("Serial"), unit.get("serial")),
            (_("Lot"), unit.get("lot")),
            (_("Expiry date"), unit.get("expiry")),
            (_("Disposition"), current.get("disposition")),
            (_("Current holder"), current.get("holder")),
            (_("Location"), current.get("location")),
            (_("Installed in"), current.get("installed_in")),
            (_("Packed in"), current.get("contained_in")),
        ]
        story.append(
            Table(
                [[_p(k, body), _p(v, body)] for k, v in facts],
                colWidths=[40 * mm, 146 * mm],
                style=facts_style,
            )
        )
        story.append(_p(_("Lifecycle"), heading))
        story.append(
            table(
                [
                    _("Time (UTC)"),
                    _("Phase"),
                    _("Business step"),
                    _("Disposition"),
                    _("Where"),
                    _("Documents"),
                ],
                [
                    [
                        e["time"][:19].replace("T", " ")
                        + (" " + _("(retracted)") if e["retracted"] else ""),
                        e["phase"],
                        e["biz_step"] or f"{e['type']} {e['action'] or ''}",
                        e["disposition"],
                        e["where"] or e["read_point"],
                        ", ".join(d.rsplit(":", 1)[-1] for d in e["documents"]),
                    ]
                    for e in c["lifecycle"]
                ],
                [30, 20, 28, 24, 44, 40],
            )
        )
        story.append(_p(_("Genealogy"), heading))
        if c["genealogy"]:
            story.append(
                table(
                    [
                        _("Component"),
                        _("Serial / lot"),
                        _("Relation"),
                        _("Supplier"),
                        _("Fitted / removed"),
                    ],
                    [
                        [
                            "· " * max(0, g["level"] - 1) + str(g["what"] or g["epc"]),
                            g["serial"] or g["lot"],
                            g["relation"],
                            g["supplier"],
                            (g["valid_from"] or "")[:10]
                            + ("" if g["current"] else " → " + (g["valid_to"] or "")[:10]),
                        ]
                        for g in c["genealogy"]
                    ],
                    [56, 36, 24, 40, 30],
                )
            )
        else:
            story.append(_p(_("No recorded components."), body))
        story.append(_p(_("Inspections"), heading))
        if c["inspections"]:
            story.append(
                table(
                    [
                        _("Number"),
                        _("Plan"),
                        _("Object"),
                        _("Result"),
                        _("When"),
                        _("Inspector"),
                        _("Signatures"),
                    ],
                    [
                        [
                            i.get("number"),
                            i.get("plan"),
                            str(i.get("target", "")).rsplit(":", 1)[-1],
                            i.get("result"),
                            str(i.get("inspected_at") or "")[:16].replace("T", " "),
                            i.get("inspector"),
                            "; ".join(
                                f"{s.get('printed_name')} {s.get('meaning')} "
                                f"{str(s.get('signed_at', ''))[:16]}"
                                for s in i.get("signatures") or []
                            ),
                        ]
                        for i in c["inspections"]
                    ],
                    [26, 30, 28, 14, 26, 28, 34],
                )
            )
        else:
            story.append(_p(_("No inspection records."), body))
        story.append(_p(_("QC release"), heading))
        if c["releases"]:
            story.append(
                table(
                    [_("Number"), _("Released at"), _("Released by"), _("Signatures")],
                    [
                        [
                            r["number"],
                            r["released_at"][:16].replace("T", " "),
                            r["released_by"],
                            "; ".join(
                                f"{s['printed_name']} ({s['meaning']}) {s['signed_at'][:16]} "
                                f"SHA-256 {s['content_sha256'][:16]}…"
                                for s in r["signatures"]
                            ),
                        ]
                        for r in c["releases"]
                    ],
                    [30, 30, 36, 90],
                )
            )
        else:
            story.append(_p(_("Not released."), body))
        story.append(_p(_("Verification"), heading))
        story.append(
            _p(
                _(
                    "SHA-256 of this certificate's content: %(hash)s. Verify it with "
                    "GET /api/v1/certificates/%(number)s/verify: the issuer's copy must carry the "
                    "same hash."
                )
                % {"hash": cert.sha256, "number": cert.number},
                body,
            )
        )
        doc.build(story)
        return buffer.getvalue()
