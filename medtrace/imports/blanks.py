"""Header-only template files per import kind (CSV UTF-8 with BOM, so Excel reads the Chinese
correctly; XLSX with the header row frozen)."""

from __future__ import annotations

import csv
import io

from .services import importer_for

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


def template_file(kind: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the empty template of ``kind``."""
    names = importer_for(kind).spec.names
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=False)
        sheet = book.active
        assert sheet is not None
        sheet.title = kind
        sheet.append(names)
        sheet.freeze_panes = "A2"
        for index, name in enumerate(names, start=1):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = max(
                12, len(name) + 4
            )
        out = io.BytesIO()
        book.save(out)
        return out.getvalue(), XLSX_TYPE, f"medtrace-import-{kind}.xlsx"
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(names)
    return ("\ufeff" + text.getvalue()).encode("utf-8"), CSV_TYPE, f"medtrace-import-{kind}.csv"
