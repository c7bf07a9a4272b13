"""The device history record (DHR) as PDF, from the same dict the JSON endpoint returns.

House style of ``medtrace/audit/pdf.py``: A4, reportlab's built-in CID font STSong-Light for
Chinese (no system fonts needed), grid tables with a tinted header row. The last line carries
the SHA-256 of the record's content, so a printed DHR can be matched with the system's data.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
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

WIDTH = 182 * mm  # A4 less the margins


def content_sha256(record: dict[str, Any]) -> str:
    """SHA-256 of the record without its print time (the same data gives the same hash)."""
    data = {k: v for k, v in record.items() if k != "generated_at"}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _v(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


class _Doc:
    def __init__(self) -> None:
        font = _font()
        self.body = ParagraphStyle("body", fontName=font, fontSize=8, leading=10.5)
        self.small = ParagraphStyle("small", fontName=font, fontSize=6.8, leading=8.6)
        self.title = ParagraphStyle("title", fontName=font, fontSize=15, leading=19, spaceAfter=4)
        self.heading = ParagraphStyle("h2", fontName=font, fontSize=11, leading=14, spaceBefore=8)
        self.grid = TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
        self.pairs = TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f5f9")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f2f5f9")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
        self.story: list[Any] = []

    def p(self, text: Any, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(escape(_v(text)), style or self.body)

    def h(self, text: str) -> None:
        self.story.append(self.p(text, self.heading))

    def pairs_table(self, items: Sequence[tuple[str, Any]]) -> None:
        rows = []
        items = list(items)
        for i in range(0, len(items), 2):
            left = items[i]
            right = items[i + 1] if i + 1 < len(items) else ("", "")
            rows.append([self.p(left[0]), self.p(left[1]), self.p(right[0]), self.p(right[1])])
        widths = [30 * mm, 61 * mm, 30 * mm, 61 * mm]
        self.story.append(Table(rows, colWidths=widths, style=self.pairs))

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float]
    ) -> None:
        if not rows:
            self.story.append(self.p(_("None recorded.")))
            return
        data = [[self.p(h) for h in headers]]
        data += [[self.p(c, self.small) for c in row] for row in rows]
        total = sum(widths)
        cols = [w * WIDTH / total for w in widths]
        self.story.append(Table(data, colWidths=cols, style=self.grid, repeatRows=1))


def _header(doc: _Doc, record: dict[str, Any]) -> None:
    wo = record["work_order"]
    product = wo["product"]
    doc.pairs_table(
        [
            (_("Product"), f"{product['name']} {product['model']}"),
            (_("DI (GTIN)"), product["di"]),
            (_("NMPA registration"), product["nmpa_registration_no"]),
            (_("Work order"), wo["number"]),
            (_("Status"), wo["status_label"]),
            (_("BOM version"), f"{wo['bom']['version']} ({wo['bom']['status']})"),
            (_("Lot"), wo["lot"]),
            (_("Production date"), wo["production_date"]),
            (_("Expiry date"), wo["expiry"]),
            (_("Production line"), f"{wo['line']['code']} {wo['line']['name']}"),
            (_("Planned quantity"), wo["quantity"]),
            (_("Commissioned"), wo["commissioned_qty"]),
            (_("Released to production"), _at(wo["released_at"], wo["released_by"])),
            (_("Started"), _at(wo["started_at"], None)),
            (_("Completed"), _at(wo["completed_at"], wo["completed_by"])),
            (_("Closed (DHR reviewed)"), _at(wo["closed_at"], wo["closed_by"])),
        ]
    )
    if wo.get("notes"):
        doc.story.append(doc.p(_("Operator notes: %(notes)s") % {"notes": wo["notes"]}))


def _at(when: str | None, who: str | None) -> str:
    if not when:
        return "—"
    text = when[:19].replace("T", " ") + " UTC"
    return f"{text} · {who}" if who else text


def _params(parameters: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{p.get('name')} = {p.get('value')}{(' ' + p['unit']) if p.get('unit') else ''}"
        for p in parameters or []
    )


def _components(doc: _Doc, rows: list[dict[str, Any]], *, per_unit: bool) -> None:
    def supplier(row: dict[str, Any]) -> str:
        if row.get("made_by_work_order"):
            return _("made in-house by %(number)s") % {"number": row["made_by_work_order"]}
        return row["supplier"]["name"] if row.get("supplier") else "—"

    if per_unit:
        doc.table(
            [_("Material"), _("Lot / serial"), _("Quantity"), _("Supplier"), _("Assembled")],
            [
                [
                    f"{r['material']} {r['name']}",
                    f"{r['identifier']} ({r['tracking']})",
                    f"{r['quantity']} {r['uom']}",
                    supplier(r),
                    _at(r["assembled_at"], r["assembled_by"]),
                ]
                for r in rows
            ],
            [40, 36, 18, 40, 40],
        )
        return
    doc.table(
        [_("Material"), _("Lot / serial"), _("Quantity"), _("Units"), _("Supplier")],
        [
            [
                f"{r['material']} {r['name']}",
                f"{r['identifier']} ({r['tracking']})",
                f"{r['quantity']} {r['uom']}",
                r["units"],
                supplier(r),
            ]
            for r in rows
        ],
        [42, 40, 20, 12, 46],
    )


def _inspections(doc: _Doc, record: dict[str, Any]) -> None:
    doc.h(_("Inspections"))
    rows = record.get("inspections")
    if rows is None:
        doc.story.append(doc.p(_("Inspection records are not available in this installation.")))
        return
    table = []
    for row in rows:
        measured = "; ".join(
            f"{m.get('characteristic')} = {m.get('value')} {m.get('unit') or ''}".rstrip()
            + (" OK" if m.get("passed") else " NG")
            for m in (row.get("measurements") or [])[:12]
        )
        signed = "; ".join(
            f"{s.get('printed_name')} ({s.get('meaning')}"
            f"{'' if s.get('valid', True) else ', INVALID'})"
            for s in row.get("signatures") or []
        )
        table.append(
            [
                row.get("number"),
                row.get("plan"),
                row.get("target"),
                row.get("result"),
                _at(str(row.get("inspected_at") or ""), row.get("inspector")),
                measured or "—",
                signed or "—",
            ]
        )
    doc.table(
        [_("No."), _("Plan"), _("Object"), _("Result"), _("Inspected"), _("Measured"), _("Signed")],
        table,
        [18, 18, 34, 10, 26, 44, 26],
    )


def _releases(doc: _Doc, record: dict[str, Any]) -> None:
    doc.h(_("QC release"))
    doc.table(
        [_("Release"), _("Released"), _("Items"), _("Signatures")],
        [
            [
                r["number"],
                _at(r["released_at"], r["released_by"]),
                r["items"],
                "; ".join(
                    f"{s['printed_name']} ({s['meaning']}, {s['signed_at'][:19].replace('T', ' ')}"
                    f"{'' if s['valid'] else ', INVALID'})"
                    for s in r["signatures"]
                ),
            ]
            for r in record.get("releases") or []
        ],
        [24, 40, 12, 70],
    )


def _units(doc: _Doc, units: list[dict[str, Any]]) -> None:
    doc.h(_("Units (%(n)d)") % {"n": len(units)})
    if not units:
        doc.story.append(doc.p(_("None commissioned.")))
        return
    doc.story.append(
        doc.p(
            _("R released by QC · H on hold · S scrapped · ! a critical component is not recorded"),
            doc.small,
        )
    )
    cells = []
    for unit in units:
        flags = "".join(
            flag
            for flag, on in (
                ("R", unit["released"]),
                ("H", unit["held"]),
                ("S", unit["scrapped"]),
                ("!", not unit["components_complete"]),
            )
            if on
        )
        cells.append(f"{unit['serial'] or unit['epc']} {flags}".strip())
    per_row = 6
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    style = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey)])
    doc.story.append(
        Table(
            [[doc.p(c, doc.small) if c else "" for c in row] for row in rows],
            colWidths=[WIDTH / per_row] * per_row,
            style=style,
        )
    )


def dhr_pdf(record: dict[str, Any], *, language: str) -> bytes:
    """Render a DHR dict (``work_order_dhr`` or ``unit_dhr``) as PDF bytes."""
    with translation.override(language):
        doc = _Doc()
        buffer = io.BytesIO()
        wo = record["work_order"]
        if record["kind"] == "unit":
            title = _("Device history record of unit %(serial)s") % {"serial": record["serial"]}
        elif record["kind"] == "lot":
            title = _("Device history record of lot %(lot)s") % {"lot": wo["lot"]}
        else:
            title = _("Device history record of work order %(number)s") % {"number": wo["number"]}
        template = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=14 * mm,
            rightMargin=14 * mm,
            topMargin=14 * mm,
            bottomMargin=14 * mm,
            title=title,
            author="medtrace",
        )
        doc.story.append(doc.p(title, doc.title))
        doc.story.append(
            doc.p(
                _("Device history record (DHR) · printed %(time)s UTC by medtrace")
                % {"time": timezone.now().strftime("%Y-%m-%d %H:%M:%S")},
                doc.small,
            )
        )
        _header(doc, record)
        if record["kind"] == "unit":
            state = record.get("state") or {}
            doc.h(_("Unit"))
            doc.pairs_table(
                [
                    (_("EPC"), record["epc"]),
                    (_("Serial"), record["serial"]),
                    (_("Disposition"), state.get("disposition")),
                    (_("Expiry date"), state.get("expiry")),
                    (_("Released by QC"), record["released"]),
                    (_("On hold"), record["held"]),
                ]
            )
        else:
            q = record.get("quantities") or {}
            doc.h(_("Quantities"))
            doc.pairs_table(
                [
                    (_("Planned"), q.get("planned")),
                    (_("Made (commissioned)"), q.get("made")),
                    (_("Approved (released by QC)"), q.get("approved")),
                    (_("Scrapped"), q.get("scrapped")),
                    (_("On hold"), q.get("on_hold")),
                    (_("Assembled completely"), q.get("assembled")),
                ]
            )
        doc.h(_("Bill of materials"))
        if record["kind"] in ("unit", "lot"):
            doc.table(
                [_("Material"), _("Required"), _("Recorded"), _("Critical"), _("Lots / serials")],
                [
                    [
                        f"{c['material']} {c['name']}",
                        f"{c['required']} {c['uom']}",
                        f"{c['recorded']} {c['uom']}",
                        c["critical"],
                        ", ".join(c["identifiers"]),
                    ]
                    for c in record["checklist"]
                ],
                [44, 20, 20, 12, 50],
            )
        else:
            doc.table(
                [_("Material"), _("Per unit"), _("Tracking"), _("Critical"), _("Position")],
                [
                    [
                        f"{b['material']} {b['name']}",
                        f"{b['quantity']} {b['uom']}",
                        b["tracking"],
                        b["critical"],
                        b["position"],
                    ]
                    for b in record["bom_lines"]
                ],
                [50, 20, 18, 14, 30],
            )
        doc.h(_("Components consumed"))
        _components(doc, record["components"], per_unit=record["kind"] in ("unit", "lot"))
        if not record.get("material_stock_checked"):
            doc.story.append(
                doc.p(_("Material stock was not checked (procurement not installed)."), doc.small)
            )
        doc.h(_("Process records"))
        doc.table(
            [_("Step"), _("Station"), _("Operator"), _("Parameters"), _("Result"), _("Time")],
            [
                [
                    f"{r['step']}" + (f" ({r['unit_serial']})" if r.get("unit_serial") else ""),
                    r["station"],
                    r["operator"],
                    _params(r["parameters"]),
                    r["result"],
                    _at(r["started_at"] or r["recorded_at"], None),
                ]
                for r in record["process_records"]
            ],
            [26, 16, 18, 52, 10, 24],
        )
        doc.h(_("Commissioning"))
        doc.table(
            [_("Event"), _("When"), _("Count"), _("Serials")],
            [
                [
                    c["event_id"],
                    _at(c["at"], c["by"]),
                    c["count"],
                    f"{c['first_serial']} … {c['last_serial']}" if c["first_serial"] else "—",
                ]
                for c in record["commissionings"]
            ],
            [60, 36, 10, 36],
        )
        _inspections(doc, record)
        _releases(doc, record)
        if record["kind"] == "work_order":
            _units(doc, record["units"])
            doc.h(_("Signatures"))
            doc.table(
                [_("Signed by"), _("Meaning"), _("When (UTC)"), _("Status")],
                [
                    [
                        s["printed_name"],
                        s["meaning"],
                        s["signed_at"][:19].replace("T", " "),
                        _("valid") if s["valid"] else _("INVALID: changed after signing"),
                    ]
                    for s in record.get("signatures") or []
                ],
                [40, 20, 30, 50],
            )
        doc.story.append(Spacer(1, 4 * mm))
        doc.story.append(
            doc.p(
                _("Content SHA-256: %(hash)s") % {"hash": content_sha256(record)},
                doc.small,
            )
        )
        template.build(doc.story)
        return buffer.getvalue()
