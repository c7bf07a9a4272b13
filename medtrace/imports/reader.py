"""Reading an import file row by row: CSV (UTF-8, or GB18030 as Excel saves it in China) and
XLSX (openpyxl in read-only mode, the first sheet), with flat memory whatever the file size.

Row numbers are the file's own, as a spreadsheet shows them: the header is row 1, the first
data row is row 2. Completely empty rows are not data; they are counted (the job summary shows
how many) but never validated.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.utils.translation import gettext as _

from .columns import Spec, is_blank, text_of

SNIFF_BYTES = 64 * 1024
# csv's default field limit (128 KiB) is ample for any master-data cell, but say so clearly.
csv.field_size_limit(1024 * 1024)


class FileUnreadable(Exception):
    """The file as a whole cannot be read (not a CSV/XLSX, broken encoding, no header)."""


@dataclass
class Row:
    number: int
    cells: dict[str, Any]


@dataclass
class Header:
    columns: list[str | None]  # the spec column of each file column, None for an unknown one
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (column, message, code)


def detect_format(name: str, head: bytes) -> str:
    """``csv`` or ``xlsx``: from the content (an XLSX is a zip), else the file name."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")):
        raise FileUnreadable(_("the file is named .xlsx but is not an Excel workbook"))
    if lowered.endswith(".xls"):
        raise FileUnreadable(
            _("old Excel .xls files are not read; save the sheet as .xlsx or CSV (UTF-8)")
        )
    return "csv"


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise FileUnreadable(
            _("the CSV file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8")
        ) from None


def match_header(raw: list[Any], spec: Spec) -> Header:
    names = [text_of(cell).strip().lower() for cell in raw]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells (a spreadsheet's formatted columns)
    header = Header(columns=[])
    seen: set[str] = set()
    for name in names:
        if name in spec.by_name and name not in seen:
            header.columns.append(name)
            seen.add(name)
        elif name in seen:
            header.columns.append(None)
            header.problems.append(
                (name, _("the column appears twice; keep one"), "duplicate_column")
            )
        else:
            header.columns.append(None)
            header.problems.append(
                (
                    name or "?",
                    _("unknown column; expected columns: %(names)s")
                    % {"names": ", ".join(spec.names)},
                    "unknown_column",
                )
            )
    for required in spec.required:
        if required not in seen:
            header.problems.append(
                (required, _("required column missing from the header row"), "missing_column")
            )
    return header


class FileReader:
    """Iterate the data rows of ``path`` as ``Row``s named by ``spec``'s columns."""

    def __init__(self, path: Path, fmt: str, spec: Spec) -> None:
        self.path = path
        self.fmt = fmt
        self.spec = spec
        self.total: int | None = None
        self.blank_rows = 0
        self.header: Header | None = None

    def __iter__(self) -> Iterator[Row]:
        raw_rows = self._xlsx() if self.fmt == "xlsx" else self._csv()
        try:
            first = next(raw_rows)
        except StopIteration:
            raise FileUnreadable(_("the file is empty: expected a header row")) from None
        self.header = match_header(list(first), self.spec)
        if self.header.problems:
            return
        columns = self.header.columns
        width = len(columns)
        for number, values in enumerate(raw_rows, start=2):
            if all(is_blank(v) for v in values):
                self.blank_rows += 1
                continue
            cells: dict[str, Any] = {}
            for index, value in enumerate(values):
                name = columns[index] if index < width else None
                if name is not None:
                    cells[name] = value
                elif not is_blank(value):
                    cells.setdefault("__extra__", index + 1)
            yield Row(number, cells)

    def _csv(self) -> Iterator[list[Any]]:
        with self.path.open("rb") as binary:
            head = binary.read(SNIFF_BYTES)
            encoding = _encoding(head)
            self.total = self._count_records(binary, encoding)
            binary.seek(0)
            text = io.TextIOWrapper(binary, encoding=encoding, newline="")
            sample = head.decode(encoding, errors="ignore").split("\n", 1)[0]
            delimiter = max(",;\t", key=sample.count) if sample else ","
            try:
                yield from csv.reader(text, delimiter=delimiter)
            except UnicodeDecodeError as exc:
                raise FileUnreadable(
                    _("the CSV file is not valid %(enc)s text near byte %(pos)d")
                    % {"enc": encoding, "pos": exc.start}
                ) from None
            except csv.Error as exc:
                raise FileUnreadable(_("the CSV file is malformed: %(e)s") % {"e": exc}) from None

    @staticmethod
    def _count_records(binary: BinaryIO, encoding: str) -> int | None:
        """Data rows (lines after the header), for the progress bar; quoted line breaks make it
        an estimate, which the progress bar tolerates."""
        binary.seek(0)
        lines = 0
        last = b"\n"
        while chunk := binary.read(1024 * 1024):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - 1, 0)

    def _xlsx(self) -> Iterator[tuple[Any, ...]]:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        with self.path.open("rb") as binary:
            try:
                # A file object: the stored file has no .xlsx name for openpyxl to check.
                book = openpyxl.load_workbook(binary, read_only=True, data_only=True)
            except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
                raise FileUnreadable(
                    _("the XLSX file cannot be opened: %(e)s") % {"e": exc or type(exc).__name__}
                ) from None
            try:
                sheet = book.worksheets[0]
                if sheet.max_row:
                    self.total = max(sheet.max_row - 1, 0)
                yield from sheet.iter_rows(values_only=True)
            finally:
                book.close()
