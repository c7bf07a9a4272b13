"""Import files for tests: CSV or XLSX bytes from a header and rows, and running an import."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from medtrace.accounts.models import User
from medtrace.imports import services
from medtrace.imports.models import ImportJob


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]], *, bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def file_of(fmt: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, bytes]:
    if fmt == "xlsx":
        return "data.xlsx", xlsx_bytes(header, rows)
    return "data.csv", csv_bytes(header, rows)


def run(
    kind: str,
    content: bytes,
    *,
    name: str = "data.csv",
    user: User | None = None,
    dry_run: bool = False,
) -> ImportJob:
    job = services.import_create(
        kind=kind, name=name, stream=io.BytesIO(content), dry_run=dry_run, user=user
    )
    return services.import_run(job=job, user=user)


def errors_by_row(job: ImportJob) -> dict[int | None, dict[str, str]]:
    """{row: {column: message}} of a refused job."""
    out: dict[int | None, dict[str, str]] = {}
    for e in job.errors:
        out.setdefault(e["row"], {})[e["column"]] = e["message"]
    return out
