"""What files are read: encodings, delimiters, blank rows, cells without a column, non-files."""

from __future__ import annotations

import pytest

from medtrace.errors import ValidationFailed
from medtrace.imports.tests.factories import csv_bytes, errors_by_row, run
from medtrace.masterdata.models import Party
from medtrace.masterdata.tests import factories as md

pytestmark = pytest.mark.django_db


def test_a_gb18030_csv_with_semicolons_as_excel_saves_it_in_china() -> None:
    text = f"name;role;gln\r\n第三人民医院;hospital;{md.gln('6960001', 1)}\r\n"

    job = run("parties", text.encode("gb18030"))

    assert job.status == "imported", job.errors
    assert Party.objects.get(gln=md.gln("6960001", 1)).name == "第三人民医院"


def test_blank_rows_are_counted_not_read_and_rows_keep_their_numbers() -> None:
    content = csv_bytes(
        ["name", "role", "gln"],
        [
            ["A", "hospital", md.gln("6960001", 1)],
            ["", "", ""],
            ["B", "nope", md.gln("6960001", 2)],
        ],
    )

    job = run("parties", content)

    assert job.summary["blank_rows"] == 1
    assert list(errors_by_row(job)) == [4]  # the header is row 1, the blank one row 3


def test_a_value_in_a_column_without_a_header_is_an_error() -> None:
    content = b"name,role\r\nA,hospital,surprise\r\n"

    job = run("parties", content)

    assert job.errors[0]["row"] == 2 and "column 3, which has no header" in job.errors[0]["message"]


def test_files_that_are_not_csv_or_xlsx() -> None:
    with pytest.raises(ValidationFailed, match=r"old Excel \.xls"):
        run("parties", b"\xd0\xcf\x11\xe0 old", name="old.xls")
    with pytest.raises(ValidationFailed, match="is empty"):
        run("parties", b"", name="empty.csv")
    job = run("parties", b"PK\x03\x04 not really a zip", name="broken.xlsx")
    assert job.status == "invalid" and "cannot be opened" in job.errors[0]["message"]
    job = run("parties", "name,role\r\n\xff\xfe".encode("latin-1") + b"\x80\x81", name="x.csv")
    assert job.status == "invalid"
