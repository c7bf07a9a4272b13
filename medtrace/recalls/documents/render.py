"""The regulator reports as PDF (reportlab) and XLSX (openpyxl), from one ``Report`` content.

XLSX layout: the first sheet holds the form's fields (label, value) under their section
headings; "Units" lists every affected unit; "Consignees" every consignee with its notice and
what became of its units. Numbers stay numbers, so a regulator's spreadsheet can sum them.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, SimpleDocTemplate, Spacer

from ..models import RecallCampaign
from . import common as c
from .reports import DEFAULT_LANGUAGE, Report, report_content, require_kind

# Column widths (mm) of the units appendix in the PDF: #, UDI, product, lot, serial, kind,
# held by, location, status.
UNIT_WIDTHS = [8, 46, 24, 15, 17, 14, 24, 20, 14]
CONSIGNEE_WIDTHS = [40, 24, 40, 26, 24, 28]


def report_pdf(campaign: RecallCampaign, kind: str, lang: str | None = None) -> bytes:
    """Report ``kind`` of ``campaign`` as PDF in ``lang`` (default: the kind's own language)."""
    require_kind(kind)
    with translation.override(lang or DEFAULT_LANGUAGE[kind]):
        report = report_content(campaign, kind)
        st = c.styles()
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=14 * mm,
            rightMargin=14 * mm,
            topMargin=14 * mm,
            bottomMargin=16 * mm,
            title=f"{report.title} {campaign.number}",
            author="medtrace",
        )
        story: list[Any] = []
        if campaign.drill:
            story.append(c.p(_("RECALL DRILL - not for submission to a regulator"), st.banner))
        story += [c.p(report.title, st.title), c.p(report.subtitle, st.small), Spacer(1, 3 * mm)]
        for section in report.sections:
            story.append(c.p(section.heading, st.heading))
            story.append(c.facts_table(section.rows, st, label_mm=62))
        for table in report.tables:
            story.append(c.p(table.heading, st.heading))
            story += c.paged_table(table.headers, table.rows, table.widths_mm, st)
        story.append(c.p(_("Consignees (%(n)s)") % {"n": len(report.consignees)}, st.heading))
        story += c.paged_table(
            [
                _("Consignee"),
                _("GLN"),
                _("Address"),
                _("Telephone"),
                _("Notice"),
                _("Units"),
            ],
            [[r[0], r[1], r[3], r[4], r[5], r[8]] for r in report.consignees],
            CONSIGNEE_WIDTHS,
            st,
        )
        story.append(PageBreak())
        story.append(c.p(_("Affected units (%(n)s)") % {"n": len(report.units)}, st.heading))
        story += c.paged_table(report.unit_headers, report.units, UNIT_WIDTHS, st)
        footer = c.page_footer(f"{campaign.number} · {report.title}")
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
        return buffer.getvalue()


_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="E8EEF5")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _sheet_rows(ws: Any, headers: list[str], rows: list[list[Any]]) -> None:
    ws.append(headers)
    for cell in ws[1]:
        cell.font = _BOLD
        cell.fill = _HEAD_FILL
    for row in rows:
        ws.append(["" if v is None else v for v in row])
    ws.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[index - 1])) for r in rows[:200]])
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)


def _fields_sheet(ws: Any, report: Report, campaign: RecallCampaign) -> None:
    ws.title = "Report"
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([report.subtitle])
    ws.append([_("Field"), _("Value")])
    for cell in ws[3]:
        cell.font = _BOLD
        cell.fill = _HEAD_FILL
    for section in report.sections:
        ws.append([section.heading])
        ws.cell(row=ws.max_row, column=1).font = _BOLD
        for label, value in section.rows:
            ws.append([label, "" if value is None else value])
            ws.cell(row=ws.max_row, column=2).alignment = _WRAP
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 90


def report_xlsx(campaign: RecallCampaign, kind: str, lang: str | None = None) -> bytes:
    """Report ``kind`` as XLSX: the form's fields, then the sheets "Units" and "Consignees"."""
    require_kind(kind)
    with translation.override(lang or DEFAULT_LANGUAGE[kind]):
        report = report_content(campaign, kind)
        book = Workbook()
        _fields_sheet(book.active, report, campaign)
        for table in report.tables:
            _sheet_rows(book.create_sheet(table.heading[:31]), table.headers, table.rows)
        # The sheet names are fixed (not translated): tools read them by name.
        _sheet_rows(book.create_sheet("Units"), ["EPC", *report.unit_headers], _with_epc(report))
        _sheet_rows(book.create_sheet("Consignees"), report.consignee_headers, report.consignees)
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()


def _with_epc(report: Report) -> list[list[Any]]:
    return [[epc, *row] for epc, row in zip(report.unit_epcs, report.units, strict=True)]
