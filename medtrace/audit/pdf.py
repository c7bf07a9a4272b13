"""A record as PDF: its current values, its e-signatures and its full history.

reportlab's built-in CID font STSong-Light prints Chinese without any system font (DESIGN §2).
"""

from __future__ import annotations

import io
import json
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import services as audit
from .selectors import RecordRef, record_history, record_signatures

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value in (None, "") else str(value)


def record_pdf(ref: RecordRef, *, language: str) -> bytes:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=11)
    small = ParagraphStyle("small", fontName=font, fontSize=7, leading=9)
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=19, spaceAfter=4)
    heading = ParagraphStyle("h2", fontName=font, fontSize=11.5, leading=15, spaceBefore=8)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    with translation.override(language):
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=14 * mm,
            rightMargin=14 * mm,
            topMargin=14 * mm,
            bottomMargin=14 * mm,
            title=f"{ref.object_type} {ref.object_id}",
            author="medtrace",
        )
        name = str(ref.instance) if ref.instance is not None else _("(deleted)")
        story: list[Any] = [
            _p(f"{ref.model._meta.verbose_name}: {name}", title),
            _p(
                _("Record %(type)s %(id)s · printed %(time)s UTC by medtrace")
                % {
                    "type": ref.object_type,
                    "id": ref.object_id,
                    "time": timezone.now().strftime("%Y-%m-%d %H:%M:%S"),
                },
                small,
            ),
        ]
        if ref.instance is not None:
            story.append(_p(_("Current values"), heading))
            rows = [[_p(_("Field"), body), _p(_("Value"), body)]]
            rows += [
                [_p(key, body), _p(_value(value), body)]
                for key, value in audit.snapshot(ref.instance).items()
            ]
            story.append(Table(rows, colWidths=[50 * mm, 130 * mm], style=grid, repeatRows=1))
        story.append(_p(_("Electronic signatures"), heading))
        signatures = record_signatures(ref)
        if signatures:
            rows = [
                [_p(h, body) for h in (_("Signed by"), _("When (UTC)"), _("Meaning"), _("Status"))]
            ]
            for view in signatures:
                sig = view.signature
                rows.append(
                    [
                        _p(f"{sig.printed_name} ({sig.username})", body),
                        _p(sig.signed_at.strftime("%Y-%m-%d %H:%M:%S"), body),
                        _p(sig.get_meaning_display(), body),
                        _p(
                            _("valid") if view.valid else _("INVALID: changed after signing"),
                            body,
                        ),
                    ]
                )
            story.append(Table(rows, colWidths=[55 * mm, 40 * mm, 30 * mm, 55 * mm], style=grid))
        else:
            story.append(_p(_("Not signed."), body))
        story.append(_p(_("History (audit trail)"), heading))
        rows = [
            [
                _p(h, body)
                for h in ("#", _("When (UTC)"), _("Who"), _("Action"), _("Changes"), _("Reason"))
            ]
        ]
        for entry in record_history(ref):
            changes = "; ".join(
                f"{k}: {_value(v[0])} → {_value(v[1])}"
                if entry.action == "update" and isinstance(v, list) and len(v) == 2
                else f"{k}: {_value(v)}"
                for k, v in (entry.changes or {}).items()
            )
            rows.append(
                [
                    _p(entry.seq, small),
                    _p(entry.at.strftime("%Y-%m-%d %H:%M:%S"), small),
                    _p(entry.actor_name, small),
                    _p(entry.get_action_display(), small),
                    _p(changes, small),
                    _p(entry.reason or "—", small),
                ]
            )
        story.append(
            Table(
                rows,
                colWidths=[10 * mm, 28 * mm, 22 * mm, 20 * mm, 72 * mm, 28 * mm],
                style=grid,
                repeatRows=1,
            )
        )
        story.append(Spacer(1, 4 * mm))
        doc.build(story)
        return buffer.getvalue()
