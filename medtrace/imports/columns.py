"""The columns of each import kind, and turning a cell into a typed value.

Master-data columns are the fields the master-data services accept (``masterdata.services``
``PARTY_FIELDS`` ...), typed from the model field: a field added there is a column here. A
foreign key is named by a business key instead of an id (``party_gln``, ``parent_code``,
``manufacturer_gln``). A blank cell means "not given": the model's default applies, and a
required column left blank is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

TRUE = {"1", "true", "yes", "y", "是", "x"}
FALSE = {"0", "false", "no", "n", "否"}
_LIST_SPLIT = re.compile(r"[;,，；\s]+")


class CellError(Exception):
    """A cell's value is not of its column's type; the message says what was expected."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text, int, bool, date, datetime, list, decimal
    required: bool = False
    expected: Any = ""  # overrides the description derived from the kind (may be lazy)
    field: str | None = None  # the model field it fills, if any
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    help: Any = ""  # the model field's help text, if any (lazy: translated when shown)

    def describe(self) -> str:
        """What the column takes, for errors and the README ("expected")."""
        if self.expected:
            return str(self.expected)
        if self.choices:
            return _("one of: %(choices)s") % {"choices": ", ".join(self.choices)}
        generic = {
            "int": _("a whole number"),
            "bool": _("yes or no (1/0, true/false)"),
            "date": _("a date YYYY-MM-DD"),
            "datetime": _("a date and time, e.g. 2024-03-01T09:30:00+08:00"),
            "list": _("values separated by ';'"),
            "decimal": _("a number"),
        }.get(self.kind) or (
            _("text of at most %(n)d characters") % {"n": self.max_length}
            if self.max_length
            else _("text")
        )
        return f"{generic}: {self.help}" if self.help else generic


@dataclass
class Spec:
    """The columns of one kind, in template order."""

    columns: list[Column] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_name = {c.name: c for c in self.columns}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _kind_of(f: models.Field[Any, Any]) -> str:
    if isinstance(f, models.BooleanField):
        return "bool"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    if isinstance(f, models.DecimalField):
        return "decimal"
    if isinstance(f, models.IntegerField):
        return "int"
    if isinstance(f, models.JSONField):
        return "list"
    return "text"


def model_columns(
    model: type[models.Model], fields: Iterable[str], *, skip: Iterable[str] = ()
) -> list[Column]:
    """A column per plain (non-relation) field of ``fields``, in the model's field order."""
    wanted = set(fields) - set(skip)
    out = []
    for f in model._meta.concrete_fields:
        if f.name not in wanted or f.is_relation:
            continue
        kind = _kind_of(f)
        has_default = f.has_default() or kind == "bool"
        required = not f.blank and not f.null and not has_default
        choices = tuple(str(value) for value, _label in f.choices or ())
        out.append(
            Column(
                name=f.name,
                kind=kind,
                required=required,
                field=f.name,
                max_length=getattr(f, "max_length", None),
                choices=choices,
                help=f.help_text,
            )
        )
    return out


# Cells -> values --------------------------------------------------------------------------------


def text_of(raw: Any) -> str:
    """The cell as text: spreadsheet numbers without a spurious '.0', dates as YYYY-MM-DD."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        return raw.isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw).strip()


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise CellError(_("expected a whole number"))
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    text = text_of(raw)
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise CellError(_("%(v)r is not a whole number") % {"v": text})


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = text_of(raw).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise CellError(_("%(v)r is not yes or no; expected 1/0, true/false or yes/no") % {"v": text})


def _to_date(raw: Any) -> date:
    if isinstance(raw, datetime):
        if raw.time() != time(0):
            raise CellError(_("expected a date without a time, got %(v)s") % {"v": raw})
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = text_of(raw)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CellError(_("%(v)r is not a date; expected YYYY-MM-DD") % {"v": text}) from None


def _to_datetime(raw: Any) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, date):
        value = datetime.combine(raw, time(0))
    else:
        text = text_of(raw).replace(" ", "T", 1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CellError(
                _(
                    "%(v)r is not a date and time; expected ISO 8601, e.g. "
                    "2024-03-01T09:30:00+08:00 (without an offset: the server's time zone)"
                )
                % {"v": text_of(raw)}
            ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _to_decimal(raw: Any) -> Decimal:
    try:
        return Decimal(text_of(raw))
    except InvalidOperation:
        raise CellError(_("%(v)r is not a number") % {"v": text_of(raw)}) from None


def _to_list(raw: Any) -> list[str]:
    return [part for part in _LIST_SPLIT.split(text_of(raw)) if part]


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "decimal": _to_decimal,
    "list": _to_list,
}


def convert(column: Column, raw: Any) -> Any:
    """The typed value of a non-blank cell; raises CellError."""
    if column.kind == "text":
        text = text_of(raw)
        if column.max_length and len(text) > column.max_length:
            raise CellError(
                _("%(n)d characters; at most %(max)d are allowed")
                % {"n": len(text), "max": column.max_length}
            )
        return text
    return _CONVERT[column.kind](raw)


def is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())
