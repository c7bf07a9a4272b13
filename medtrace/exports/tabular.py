"""CSV and XLSX of any list: ``export_response(request, rows, columns, filename)``.

A list page that offers a download calls ``wants_export(request)`` first and, when it is true,
hands the same queryset it would show (same filters, same partner scoping, no display limit)
to ``export_response``. ``?format=csv`` or ``?format=xlsx`` picks the format.

- CSV starts with a UTF-8 byte-order mark, so Excel opens Chinese text correctly, and streams:
  rows are read from the database in chunks and written as they come, whatever the list's size.
- XLSX is written by openpyxl's write-only workbook (constant memory per row) to a temporary
  file that is then streamed.
- Formula injection (CWE-1236): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return would be run as a formula by a spreadsheet. In CSV such a cell gets a
  leading apostrophe; in XLSX it is stored as a text cell with Excel's quote prefix (what Excel
  itself does when a person types the apostrophe), so the value reads unchanged and never runs.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

FORMATS = ("csv", "xlsx")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 2000
# Excel's limit on text in one cell.
_XLSX_CELL_MAX = 32767


@dataclass(frozen=True)
class Column:
    """One column: its header and how to get the value from a row (a key, an attribute path
    with dots, or a function of the row)."""

    label: Any  # str or lazy translation
    value: str | Callable[[Any], Any]

    def get(self, row: Any) -> Any:
        if callable(self.value):
            return self.value(row)
        current = row
        for part in self.value.split("."):
            if current is None:
                return None
            if isinstance(current, dict):
                current = current.get(part)
            else:
                current = getattr(current, part, None)
                if callable(current):
                    current = current()
        return current


def wants_export(request: HttpRequest) -> bool:
    return request.GET.get("format", "") in FORMATS


def safe_text(text: str) -> str:
    """``text`` as a spreadsheet will not run it: a leading apostrophe before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def plain(value: Any) -> Any:
    """A cell value as a plain Python value: text, number, date or datetime (local, naive),
    or None. Booleans read yes/no; lists are joined."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None or isinstance(value, str | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return value
    if isinstance(value, list | tuple | set):
        return ", ".join(str(plain(v)) for v in value if v is not None)
    return str(value)


def _csv_cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return safe_text(value)


def _rows(rows: Iterable[Any]) -> Iterator[Any]:
    if isinstance(rows, QuerySet):
        # Chunked reads: a list of 1M rows never sits in memory at once.
        return rows.iterator(chunk_size=_CHUNK)
    return iter(rows)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Any], columns: Sequence[Column]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([_csv_cell(str(c.label)) for c in columns])
    for row in _rows(rows):
        yield writer.writerow([_csv_cell(c.get(row)) for c in columns])


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Iterable[Any]


def write_xlsx(target: Any, sheets: Sequence[Sheet]) -> None:
    """Write each sheet's rows to ``target`` (a path or binary file) as one XLSX workbook."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        sheet = book.create_sheet(title=_sheet_title(spec.title))
        sheet.freeze_panes = "A2"

        def cell(value: Any, *, header: bool = False, sheet: Any = sheet) -> Any:
            value = plain(value)
            if isinstance(value, str):
                value = value[:_XLSX_CELL_MAX]
                if header or value.startswith(FORMULA_STARTS):
                    # openpyxl makes any "=..." string a formula: force text, and mark it with
                    # Excel's quote prefix so that it stays text when edited in Excel.
                    out = WriteOnlyCell(sheet, value)
                    out.data_type = "s"
                    if header:
                        out.font = bold
                    else:
                        out.quotePrefix = True
                    return out
            # Plain values (openpyxl gives dates and datetimes their date formats) cost far
            # less than a cell object each.
            return value

        sheet.append([cell(str(c.label), header=True) for c in spec.columns])
        for row in _rows(spec.rows):
            sheet.append([cell(c.get(row)) for c in spec.columns])
    book.save(target)


def xlsx_response(sheets: Sequence[Sheet], filename: str) -> FileResponse:
    """The workbook as a download, written to a temporary file first (XLSX is a zip: it cannot
    be streamed before it is complete) and streamed from there."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    write_xlsx(spool, sheets)
    spool.seek(0)
    response = FileResponse(spool, content_type=XLSX_TYPE)
    response["Content-Disposition"] = content_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def _sheet_title(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31] or "Export"


def content_disposition(filename: str) -> str:
    """RFC 6266 attachment header with an ASCII fallback and the UTF-8 name."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def dated(filename: str, extension: str) -> str:
    return f"{filename}-{timezone.localdate().isoformat()}.{extension}"


def export_response(
    request: HttpRequest,
    rows: Iterable[Any],
    columns: Sequence[Column],
    filename: str,
    *,
    title: str | None = None,
) -> StreamingHttpResponse | FileResponse:
    """The rows as a CSV or XLSX download, per ``?format=`` (CSV unless it says xlsx)."""
    fmt = request.GET.get("format", "csv")
    if fmt == "xlsx":
        sheet = Sheet(title or filename, columns, rows)
        return xlsx_response([sheet], dated(filename, "xlsx"))
    response = StreamingHttpResponse(csv_lines(rows, columns), content_type=CSV_TYPE)
    response["Content-Disposition"] = content_disposition(dated(filename, "csv"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
