"""Readings in: one station's readings (API, page) and logger files (CSV, XLSX).

Everything here only parses and checks; nothing is written. Each problem is reported with the
row (the line or spreadsheet row number as the file shows it) and the field, and every problem
of the input is reported at once, so a file is fixed in one pass.

Units: temperature in °C (``CEL``; ``FAH`` and ``KEL`` are converted to °C, so the ledger and the
limits speak one unit), relative humidity in percent (UN/CEFACT Rec. 20 ``P1``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import HUMIDITY_RANGE, TEMPERATURE_RANGE, Measurement

# The readings of one file; a longer logger series is split into several files.
MAX_ROWS = 50_000
# A clock a few minutes fast is normal; a reading further in the future is a typing error.
FUTURE_SLACK = timedelta(minutes=10)
# Errors listed in full; beyond this the answer says how many more there are.
MAX_ERRORS = 500

CEL, FAH, KEL, PERCENT = "CEL", "FAH", "KEL", "P1"
_TEMPERATURE_UOMS = {
    "CEL": CEL, "°C": CEL, "℃": CEL, "C": CEL, "DEGC": CEL,
    "FAH": FAH, "°F": FAH, "℉": FAH, "F": FAH, "DEGF": FAH,
    "KEL": KEL, "K": KEL,
}  # fmt: skip
_HUMIDITY_UOMS = {"P1": PERCENT, "%": PERCENT, "%RH": PERCENT, "RH": PERCENT, "PERCENT": PERCENT}

# Column names a logger export may use (compared without case, spaces and a unit in brackets).
_COLUMNS = {
    "time": (
        "time",
        "timestamp",
        "datetime",
        "date time",
        "date/time",
        "时间",
        "日期时间",
        "记录时间",
    ),
    "temperature": ("temperature", "temp", "t", "温度"),
    "humidity": ("humidity", "rh", "relative humidity", "hum", "湿度", "相对湿度"),
    "target": ("target", "targets", "udi", "unit", "units", "sscc", "对象", "产品"),
    "location": ("location", "gln", "sgln", "位置", "库位", "地点"),
}
_BRACKETS = re.compile(r"[\(\[（【].*?[\)\]）】]")


@dataclass(frozen=True)
class Reading:
    time: datetime  # aware
    measurement: str  # Measurement value
    value: Decimal  # °C or %RH
    row: int | None = None  # line / spreadsheet row in the file (None: API or form)


@dataclass
class Row:
    """One data row of a file: its readings and the targets/location it names, if any."""

    number: int
    readings: list[Reading]
    targets: list[str] = field(default_factory=list)
    location: str = ""


@dataclass
class Problem:
    field: str
    message: str
    row: int | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        if self.value is not None:
            out["value"] = self.value
        return out

    def text(self) -> str:
        if self.row is None:
            return f"{self.field}: {self.message}"
        where = _("row %(row)d, %(field)s") % {"row": self.row, "field": self.field}
        return f"{where}: {self.message}"


@dataclass
class ParsedFile:
    rows: list[Row]
    problems: list[Problem]
    blank_rows: list[int]
    columns: list[str]

    @property
    def readings(self) -> list[Reading]:
        return [r for row in self.rows for r in row.readings]


# Values ----------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def parse_time(value: Any, *, now: datetime | None = None) -> datetime:
    """A reading time: ISO 8601 (with or without offset; without, the configured time zone),
    ``YYYY/MM/DD HH:MM[:SS]``, or a spreadsheet date-time. Raises ValueError with the reason."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise ValueError(_("a date without a time of day; expected e.g. 2026-03-01 14:05"))
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError(_("empty; expected a date and time such as 2026-03-01T14:05:00+08:00"))
        normal = text.replace("/", "-").replace("Z", "+00:00").replace("z", "+00:00")
        try:
            moment = datetime.fromisoformat(normal)
        except ValueError as exc:
            raise ValueError(
                _("%(value)r is not a date and time; expected e.g. 2026-03-01T14:05:00+08:00")
                % {"value": _show(text)}
            ) from exc
        if len(normal) <= 10:
            raise ValueError(_("a date without a time of day; expected e.g. 2026-03-01 14:05"))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > (now or timezone.now()) + FUTURE_SLACK:
        raise ValueError(
            _("%(time)s is in the future; check the logger's clock and time zone")
            % {"time": timezone.localtime(moment).isoformat(timespec="seconds")}
        )
    return moment


def parse_value(value: Any, measurement: str, uom: str | None = None) -> Decimal:
    """A reading in °C or %RH (converted from °F or K). Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(_("expected a number, got %(value)r") % {"value": value})
    text = str(value).strip().replace(",", ".") if not isinstance(value, int | float) else value
    try:
        number = Decimal(str(text))
    except InvalidOperation as exc:
        raise ValueError(_("%(value)r is not a number") % {"value": _show(value)}) from exc
    if not number.is_finite():
        raise ValueError(_("%(value)r is not a number") % {"value": _show(value)})
    if measurement == Measurement.TEMPERATURE:
        unit = _TEMPERATURE_UOMS.get((uom or CEL).strip().upper().replace(" ", ""))
        if unit is None:
            raise ValueError(
                _("unit %(uom)r is not a temperature unit; expected CEL (°C), FAH (°F) or KEL (K)")
                % {"uom": uom}
            )
        if unit == FAH:
            number = ((number - 32) * 5 / 9).quantize(Decimal("0.001"))
        elif unit == KEL:
            number = number - Decimal("273.15")
        low, high = TEMPERATURE_RANGE
        if not low <= number <= high:
            raise ValueError(
                _("%(value)s °C is not a plausible temperature (expected %(low)s to %(high)s °C)")
                % {"value": number, "low": low, "high": high}
            )
        return number
    unit = _HUMIDITY_UOMS.get((uom or PERCENT).strip().upper().replace(" ", ""))
    if unit is None:
        raise ValueError(
            _("unit %(uom)r is not a relative humidity unit; expected P1 (percent, %%RH)")
            % {"uom": uom}
        )
    low, high = HUMIDITY_RANGE
    if not low <= number <= high:
        raise ValueError(
            _("%(value)s %%RH is not a relative humidity (expected 0 to 100)") % {"value": number}
        )
    return number


MEASUREMENT_ALIASES = {
    "temperature": Measurement.TEMPERATURE,
    "temp": Measurement.TEMPERATURE,
    "Temperature": Measurement.TEMPERATURE,
    "humidity": Measurement.HUMIDITY,
    "relative_humidity": Measurement.HUMIDITY,
    "RelativeHumidity": Measurement.HUMIDITY,
    "rh": Measurement.HUMIDITY,
}


def parse_readings(
    items: Sequence[Mapping[str, Any]], *, field: str = "readings", now: datetime | None = None
) -> tuple[list[Reading], list[Problem]]:
    """Readings given as ``[{time, type, value, uom}]`` (API, form). Every problem is listed."""
    readings: list[Reading] = []
    problems: list[Problem] = []
    if not items:
        problems.append(Problem(field, _("give at least one reading")))
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        kind = MEASUREMENT_ALIASES.get(str(item.get("type") or "").strip())
        if kind is None:
            problems.append(
                Problem(
                    f"{where}.type",
                    _("%(value)r is not a reading type; expected temperature or humidity")
                    % {"value": item.get("type")},
                )
            )
        moment = value = None
        try:
            moment = parse_time(item.get("time"), now=now)
        except ValueError as exc:
            problems.append(Problem(f"{where}.time", str(exc)))
        if kind is not None:
            try:
                value = parse_value(item.get("value"), kind, item.get("uom"))
            except ValueError as exc:
                problems.append(Problem(f"{where}.value", str(exc)))
        if kind is not None and moment is not None and value is not None:
            readings.append(Reading(moment, kind, value))
    return readings, problems


# Files -----------------------------------------------------------------------------------------


def _column_key(header: Any) -> str:
    text = _BRACKETS.sub("", str(header or "")).strip().lower()
    text = re.sub(r"[_\s]+", " ", text).strip()
    for suffix in (" °c", " ℃", " c", " %rh", " %", " rh"):
        if text.endswith(suffix) and text[: -len(suffix)] in sum(_COLUMNS.values(), ()):
            text = text[: -len(suffix)]
    return text


def _map_columns(header: Sequence[Any]) -> tuple[dict[str, int], list[Problem]]:
    found: dict[str, int] = {}
    problems: list[Problem] = []
    for position, name in enumerate(header):
        key = _column_key(name)
        for column, aliases in _COLUMNS.items():
            if key in aliases:
                if column in found:
                    problems.append(
                        Problem(
                            "header",
                            _("two columns are %(column)s (%(a)r and %(b)r); keep one")
                            % {"column": column, "a": header[found[column]], "b": name},
                            row=1,
                        )
                    )
                found.setdefault(column, position)
    if "time" not in found:
        problems.append(
            Problem(
                "header",
                _(
                    "no time column; the first row must name the columns, e.g. "
                    "time,temperature,humidity (found: %(names)s)"
                )
                % {"names": ", ".join(repr(str(h)) for h in header) or "-"},
                row=1,
            )
        )
    if "temperature" not in found and "humidity" not in found:
        problems.append(
            Problem(
                "header",
                _("no temperature or humidity column; expected e.g. time,temperature,humidity"),
                row=1,
            )
        )
    return found, problems


def split_targets(text: Any) -> list[str]:
    """Several identifiers in one cell or text box: separated by new lines, ';' or spaces."""
    return [t for t in re.split(r"[;\s]+", str(text or "").strip()) if t]


def _cell(values: Sequence[Any], position: int | None) -> Any:
    if position is None or position >= len(values):
        return None
    value = values[position]
    return value.strip() if isinstance(value, str) else value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def rows_from_table(
    table: Iterable[tuple[int, Sequence[Any]]], *, now: datetime | None = None
) -> ParsedFile:
    """Parse ``(row number, cells)`` pairs whose first pair is the header."""
    problems: list[Problem] = []
    rows: list[Row] = []
    blank: list[int] = []
    iterator = iter(table)
    header_pair = next(iterator, None)
    if header_pair is None:
        return ParsedFile([], [Problem("file", _("the file is empty"))], [], [])
    _number, header = header_pair
    columns, header_problems = _map_columns(header)
    if header_problems:
        return ParsedFile([], header_problems, [], [str(h) for h in header])
    now = now or timezone.now()
    count = 0
    for number, values in iterator:
        if all(_blank(v) for v in values):
            blank.append(number)
            continue
        count += 1
        if count > MAX_ROWS:
            problems.append(
                Problem(
                    "file",
                    _("more than %(max)d data rows; split the logger file") % {"max": MAX_ROWS},
                    row=number,
                )
            )
            break
        row_problems: list[Problem] = []
        moment = None
        raw_time = _cell(values, columns["time"])
        try:
            moment = parse_time(raw_time, now=now)
        except ValueError as exc:
            row_problems.append(Problem("time", str(exc), number, _show(raw_time or "")))
        readings: list[Reading] = []
        for kind in (Measurement.TEMPERATURE, Measurement.HUMIDITY):
            raw = _cell(values, columns.get(kind))
            if _blank(raw):
                continue
            try:
                value = parse_value(raw, kind)
            except ValueError as exc:
                row_problems.append(Problem(str(kind), str(exc), number, _show(raw)))
                continue
            if moment is not None:
                readings.append(Reading(moment, kind, value, number))
        if not readings and not row_problems:
            row_problems.append(
                Problem(
                    "temperature",
                    _("no reading: the temperature and humidity cells are both empty"),
                    number,
                )
            )
        problems.extend(row_problems)
        rows.append(
            Row(
                number=number,
                readings=readings if not row_problems else [],
                targets=split_targets(_cell(values, columns.get("target"))),
                location=str(_cell(values, columns.get("location")) or ""),
            )
        )
    if not rows and not problems:
        problems.append(Problem("file", _("the file has a header but no readings")))
    return ParsedFile(rows, problems, blank, [str(h) for h in header])


def _decode(content: bytes) -> str:
    # Loggers sold in China often export GB18030/GBK; everything else is UTF-8 (maybe with BOM).
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("gb18030")


def parse_csv(content: bytes, *, now: datetime | None = None) -> ParsedFile:
    try:
        text = _decode(content)
    except UnicodeDecodeError:
        return ParsedFile(
            [], [Problem("file", _("the file is neither UTF-8 nor GB18030 text"))], [], []
        )
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    return rows_from_table(((reader.line_num, row) for row in reader), now=now)


def parse_xlsx(content: bytes, *, now: datetime | None = None) -> ParsedFile:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        return ParsedFile(
            [],
            [Problem("file", _("not a readable XLSX workbook: %(error)s") % {"error": exc})],
            [],
            [],
        )
    try:
        sheet = book.worksheets[0]
        table = (
            (number, list(values))
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        return rows_from_table(table, now=now)
    finally:
        book.close()


def parse_file(name: str, content: bytes, *, now: datetime | None = None) -> ParsedFile:
    """CSV or XLSX, by the file's name (an XLSX is a ZIP: its first bytes say so too)."""
    if name.lower().endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        return parse_xlsx(content, now=now)
    if name.lower().endswith(".xls"):
        return ParsedFile(
            [],
            [Problem("file", _("old Excel .xls files are not read; save as .xlsx or CSV"))],
            [],
            [],
        )
    return parse_csv(content, now=now)


def parse_pasted(text: str, *, now: datetime | None = None) -> ParsedFile:
    """Readings pasted into the station page: CSV lines, with or without the header line
    (without one, the columns are time, temperature, humidity)."""
    lines = [line for line in (text or "").splitlines()]
    first = next((line for line in lines if line.strip()), "")
    if first and not re.search(r"[A-Za-z\u4e00-\u9fff]{3}", first.split(",")[0]):
        text = "time,temperature,humidity\n" + text
        offset = -1
    else:
        offset = 0
    parsed = parse_csv(text.encode("utf-8"), now=now)
    if offset:
        for row in parsed.rows:
            row.number += offset
            row.readings = [
                Reading(r.time, r.measurement, r.value, r.row + offset if r.row else None)
                for r in row.readings
            ]
        for problem in parsed.problems:
            if problem.row is not None:
                problem.row += offset
        parsed.blank_rows = [n + offset for n in parsed.blank_rows]
    return parsed
