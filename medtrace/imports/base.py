"""What every import kind shares: the error list, typed cells, in-file duplicate keys.

An importer sees the file's rows in chunks (``validate``), then once more at the end
(``finish``: checks that need every row, and the database checks), and, only if no row had an
error and it is not a dry run, stores everything (``write``) inside the import's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.translation import gettext as _

from medtrace.accounts.models import User

from .columns import CellError, Column, Spec, convert, is_blank, text_of
from .models import ImportJob
from .reader import Row

# Errors kept on a job and returned; more are counted, not listed (a file of 100k bad rows would
# otherwise answer with a response of hundreds of megabytes).
MAX_ERRORS = 10_000
Progress = Callable[[int], None]


@dataclass
class RowError:
    row: int | None
    column: str | None
    message: str
    expected: str = ""
    value: str = ""
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "message": self.message,
            "expected": self.expected,
            "value": self.value,
            "code": self.code,
        }


@dataclass
class Errors:
    items: list[RowError] = field(default_factory=list)
    count: int = 0
    rows: set[int] = field(default_factory=set)

    def add(self, error: RowError) -> None:
        self.count += 1
        if error.row is not None:
            self.rows.add(error.row)
        if len(self.items) < MAX_ERRORS:
            self.items.append(error)

    def __bool__(self) -> bool:
        return self.count > 0

    def sorted(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in sorted(self.items, key=lambda e: (e.row or 0, e.column or ""))]


class Refused(Exception):
    """Nothing was stored after all: ``errors`` say why (found while storing)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors[0].message if errors else "refused")
        self.errors = errors


class Importer:
    """One kind of import; subclasses fill in ``spec`` and the three steps."""

    kind: ClassVar[str]
    spec: ClassVar[Spec]

    def __init__(self, *, job: ImportJob, user: User | None) -> None:
        self.job = job
        self.user = user
        self.errors = Errors()
        self.rows_read = 0
        self._keys: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._reported: set[tuple[int, str]] = set()

    # Steps ------------------------------------------------------------------------------------

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        raise NotImplementedError

    def validate(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Checks that need every row (references within the file, the database)."""

    def write(self, progress: Progress) -> dict[str, int]:
        raise NotImplementedError

    def summary(self) -> dict[str, int]:
        """What ``write`` would create (a dry run's answer)."""
        return {}

    # Helpers ----------------------------------------------------------------------------------

    def error(
        self,
        row: Row | int | None,
        column: str | None,
        message: str,
        *,
        code: str = "invalid",
        value: Any = None,
    ) -> None:
        number = row.number if isinstance(row, Row) else row
        if column is not None and number is not None:
            if (number, column) in self._reported:
                return  # one reason per cell: the first (a later one follows from it)
            self._reported.add((number, column))
        spec_column = self.spec.by_name.get(column or "")
        if value is None and isinstance(row, Row) and column:
            value = row.cells.get(column)
        self.errors.add(
            RowError(
                row=number,
                column=column,
                message=message,
                expected=spec_column.describe() if spec_column else "",
                value=text_of(value)[:200] if value is not None else "",
                code=code,
            )
        )

    def cells(self, row: Row) -> tuple[dict[str, Any], bool]:
        """The row's typed values (blank and wrong cells left out), and whether every cell was
        right (each wrong one is recorded)."""
        self.rows_read += 1
        ok = True
        if "__extra__" in row.cells:
            self.error(
                row,
                None,
                _("a value in column %(n)d, which has no header") % {"n": row.cells["__extra__"]},
                code="extra_cell",
            )
            ok = False
        values: dict[str, Any] = {}
        for column in self.spec.columns:
            raw = row.cells.get(column.name)
            if is_blank(raw):
                if column.required:
                    self.error(row, column.name, _("required; the cell is empty"), code="required")
                    ok = False
                continue
            try:
                value = convert(column, raw)
            except CellError as exc:
                self.error(row, column.name, str(exc), code="type")
                ok = False
                continue
            if column.choices and value not in column.choices:
                self.error(
                    row,
                    column.name,
                    _("%(v)r is not one of the accepted values") % {"v": value},
                    code="invalid_choice",
                )
                ok = False
                continue
            values[column.name] = value
        return values, ok

    def first_row_with(self, what: str, key: tuple[Any, ...], row: Row) -> int | None:
        """The row that already gave ``key`` (of kind ``what``) earlier in the file, else None
        (and ``row`` gives it from now on)."""
        earlier = self._keys.get((what, key))
        if earlier is None:
            self._keys[(what, key)] = row.number
        return earlier

    def duplicate(self, row: Row, column: str, earlier: int, value: Any) -> None:
        self.error(
            row,
            column,
            _("%(v)s is already on row %(row)d of this file; each record appears once")
            % {"v": value, "row": earlier},
            code="duplicate_in_file",
        )


def column(
    name: str, kind: str = "text", *, required: bool = False, expected: Any = "", help: Any = ""
) -> Column:
    return Column(name=name, kind=kind, required=required, expected=expected, help=help)
