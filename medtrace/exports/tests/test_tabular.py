"""The generic CSV/XLSX helper: Excel-friendly CSV, formula injection, streaming."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.test import RequestFactory

from medtrace.exports import tabular
from medtrace.exports.tabular import Column

from .helpers import body, xlsx_rows, xlsx_text

ROWS = [
    {"name": '=HYPERLINK("http://evil","x")', "n": -5, "when": date(2025, 3, 2)},
    {"name": "+cmd|' /C calc'!A0", "n": Decimal("2.50"), "when": None},
    {"name": "-2+3", "n": 0, "when": datetime(2025, 3, 2, 1, 30, tzinfo=UTC)},
    {"name": "@SUM(A1)", "n": 7, "when": None},
    {"name": "支架 CS-3018", "n": True, "when": None},
]
COLUMNS = [Column("名称", "name"), Column("Number", "n"), Column("When", "when")]


def _get(fmt: str) -> Any:
    request = RequestFactory().get("/x", {"format": fmt})
    return tabular.export_response(request, ROWS, COLUMNS, "list")


def test_csv_starts_with_a_byte_order_mark_and_streams() -> None:
    response = _get("csv")

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''list-" in response["Content-Disposition"]
    data = body(response)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["名称", "Number", "When"]


def test_csv_cells_that_would_run_as_formulas_get_a_leading_apostrophe() -> None:
    rows = list(csv.reader(io.StringIO(body(_get("csv")).decode("utf-8-sig"))))[1:]

    assert [r[0] for r in rows] == [
        '\'=HYPERLINK("http://evil","x")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "支架 CS-3018",
    ]
    # Numbers are numbers (a negative one is not a formula); dates ISO, datetimes local.
    assert [r[1] for r in rows] == ["-5", "2.50", "0", "7", "yes"]
    assert rows[0][2] == "2025-03-02"
    assert rows[2][2] == "2025-03-02 09:30:00"


def test_xlsx_keeps_formula_text_as_text_and_never_writes_a_formula() -> None:
    response = _get("xlsx")
    data = body(response)

    assert response["Content-Type"] == tabular.XLSX_TYPE
    assert "<f>" not in xlsx_text(data)  # no formula element anywhere in the workbook
    rows = xlsx_rows(data)
    assert rows[0] == ["名称", "Number", "When"]
    assert [r[0] for r in rows[1:]] == [r["name"] for r in ROWS]  # unchanged, stored as text
    assert rows[1][1] == -5 and rows[1][2] == datetime(2025, 3, 2)
    assert rows[3][2] == datetime(2025, 3, 2, 9, 30)


def test_xlsx_marks_dangerous_text_with_the_quote_prefix() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(body(_get("xlsx"))))
    sheet = book.worksheets[0]

    assert all(sheet.cell(row=r, column=1).data_type == "s" for r in range(2, 7))
    assert [sheet.cell(row=r, column=1).quotePrefix for r in range(2, 7)] == [
        True, True, True, True, False,
    ]  # fmt: skip


def test_safe_text_leaves_ordinary_text_alone() -> None:
    assert tabular.safe_text("CS0001") == "CS0001"
    assert tabular.safe_text("=1") == "'=1"
    assert tabular.safe_text("\t=1") == "'\t=1"


def test_a_queryset_is_read_in_chunks() -> None:
    # Streaming: csv_lines yields the header before any row is read.
    def rows() -> Any:
        raise AssertionError("read too early")
        yield {}

    lines = tabular.csv_lines(rows(), COLUMNS)
    assert next(lines).startswith("\ufeff名称")
