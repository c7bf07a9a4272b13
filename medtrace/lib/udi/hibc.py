"""HIBC Supplier Labeling Standard (ANSI/HIBC 2.x, "HIBC LIC") UDIs: parsing and building.

Forms read:

* primary only: ``+`` LIC (4, first a letter) PCN (1-18 alphanumerics) U/M (one digit) and the
  mod-43 check character;
* primary and secondary back to back, as two linear symbols are read one after the other:
  ``+A123BJC5D6E71G`` ``+$$52001510X3GD`` - the secondary ends with a link character (the
  primary's check character) and its own check character;
* concatenated in one symbol: primary ``/`` secondary ``/`` supplemental data, one final check
  character over everything, no primary check or link character.

Secondary data: ``YYJJJ`` + lot (old format); ``$`` + lot; ``$$`` + date + lot; ``$+`` + serial;
``$$+`` + date + serial. After ``$$`` (or ``$$+``) an optional quantity (``8`` + 2 digits or ``9``
+ 5 digits) may come first; the date flag is then ``0``/``1`` (MMYY, the flag is the first month
digit), ``2`` MMDDYY, ``3`` YYMMDD, ``4`` YYMMDDHH, ``5`` YYJJJ, ``6`` YYJJJHH or ``7`` (no date).
Supplemental data after ``/``: ``S`` serial, ``16D`` manufacture date YYYYMMDD, ``14D`` expiry
date YYYYMMDD, ``Q`` quantity.

Policy (regulated choice): every check and link character is verified and a mismatch is
rejected with a UdiError naming the expected and the printed character, even when the rest of
the data reads cleanly. The FDA/HL7 published example whose final check character is printed
as ``C`` (computed ``H``) is therefore refused; accepting it would record a UDI that no
conforming scanner would have produced.

Month-only (MMYY) expiry keeps ``expiry_precision = "month"``; ``expiry`` is then the last day of
that month so that date comparisons stay safe (the same convention as GS1's DD=00). Two-digit
years use the GS1 sliding century window. The mod-43 check character is our own code
(``checkdigit.hibc_check_char``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .checkdigit import HIBC_CHARSET, hibc_check_char
from .dates import gs1_full_year, last_day_of_month
from .errors import UdiError

MAX_PCN = 18
MAX_LOT_OR_SERIAL = 18
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class HibcData:
    """What an HIBC LIC UDI carries. ``di`` = LIC + PCN + unit of measure (the UDI-DI)."""

    lic: str
    pcn: str
    unit_of_measure: int
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    expiry_precision: str | None = None  # "day", "month" or "hour"
    expiry_hour: int | None = None
    expiry_format: str | None = None  # "MMYY", "MMDDYY", "YYMMDD", "YYMMDDHH", "YYJJJ", ...
    manufactured: date | None = None
    quantity: int | None = None
    check_char: str | None = None
    link_char: str | None = None
    data: str | None = None  # the HIBC data exactly as read, when it was read

    @property
    def di(self) -> str:
        return f"{self.lic}{self.pcn}{self.unit_of_measure}"


@dataclass
class _Secondary:
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    expiry_precision: str | None = None
    expiry_hour: int | None = None
    expiry_format: str | None = None
    manufactured: date | None = None
    quantity: int | None = None

    def set_expiry(self, value: date, precision: str, fmt: str, hour: int | None = None) -> None:
        if self.expiry is not None:
            raise UdiError("HIBC data carries the expiry date twice", field="hibc.expiry")
        self.expiry, self.expiry_precision, self.expiry_format = value, precision, fmt
        self.expiry_hour = hour

    def set_serial(self, value: str) -> None:
        if self.serial is not None:
            raise UdiError("HIBC data carries the serial number twice", field="hibc.serial")
        self.serial = _lot_or_serial(value, what="serial number")

    def set_quantity(self, digits: str) -> None:
        if self.quantity is not None:
            raise UdiError("HIBC data carries the quantity twice", field="hibc.quantity")
        if not digits.isdigit():
            raise UdiError(f"HIBC quantity must be digits, got {digits!r}", field="hibc.quantity")
        self.quantity = int(digits)


def _lot_or_serial(value: str, *, what: str) -> str:
    if len(value) > MAX_LOT_OR_SERIAL:
        raise UdiError(
            f"HIBC {what} is limited to {MAX_LOT_OR_SERIAL} characters, got {len(value)}",
            field=f"hibc.{what.split()[0]}",
        )
    return value


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise UdiError(f"HIBC {what} must be digits, got {text!r}", field="hibc.expiry")
    return int(text)


def _calendar_date(year: int, month: int, day: int, *, what: str) -> date:
    if not 1 <= month <= 12:
        raise UdiError(f"HIBC {what}: month {month:02d} is not valid", field="hibc.expiry")
    if not 1 <= day <= last_day_of_month(year, month):
        raise UdiError(
            f"HIBC {what}: day {day:02d} is not valid in {year:04d}-{month:02d}",
            field="hibc.expiry",
        )
    return date(year, month, day)


def _julian(yy: str, jjj: str, *, what: str) -> date:
    year = gs1_full_year(_number(yy, what))
    day_of_year = _number(jjj, what)
    days = 366 if last_day_of_month(year, 2) == 29 else 365
    if not 1 <= day_of_year <= days:
        raise UdiError(
            f"HIBC {what}: day of year {jjj} is not valid in {year}", field="hibc.expiry"
        )
    return date(year, 1, 1) + timedelta(days=day_of_year - 1)


def _hour(text: str) -> int:
    hour = _number(text, "expiry hour")
    if hour > 23:
        raise UdiError(f"HIBC expiry hour {text} is not valid (00-23)", field="hibc.expiry")
    return hour


# Date flag -> (format name, digits after the flag).
_DATE_FLAGS = {
    "2": ("MMDDYY", 6),
    "3": ("YYMMDD", 6),
    "4": ("YYMMDDHH", 8),
    "5": ("YYJJJ", 5),
    "6": ("YYJJJHH", 7),
}


def _read_date(rest: str, secondary: _Secondary) -> str:
    """Consume the date field that follows ``$$`` (flag-driven); return the remaining data."""
    flag = rest[:1]
    if flag in ("0", "1"):  # MMYY: the flag is the first digit of the month
        mmyy, rest = rest[:4], rest[4:]
        if len(mmyy) < 4:
            raise UdiError("HIBC expiry date MMYY is cut short", field="hibc.expiry")
        month, year = _number(mmyy[:2], "expiry date"), gs1_full_year(_number(mmyy[2:], "year"))
        first = _calendar_date(year, month, 1, what="expiry date")
        last = first.replace(day=last_day_of_month(year, month))
        secondary.set_expiry(last, "month", "MMYY")
        return rest
    if flag == "7":
        return rest[1:]
    if flag not in _DATE_FLAGS:
        raise UdiError(
            f"HIBC date flag {flag!r} is not valid: expected 0/1 (MMYY), 2-6 or 7 (no date)",
            field="hibc.expiry",
        )
    fmt, length = _DATE_FLAGS[flag]
    field, rest = rest[1 : 1 + length], rest[1 + length :]
    if len(field) < length:
        raise UdiError(f"HIBC expiry date {fmt} is cut short", field="hibc.expiry")
    what = "expiry date"
    if fmt == "MMDDYY":
        year = gs1_full_year(_number(field[4:], what))
        month, day = _number(field[:2], what), _number(field[2:4], what)
        expiry = _calendar_date(year, month, day, what=what)
        secondary.set_expiry(expiry, "day", fmt)
    elif fmt in ("YYMMDD", "YYMMDDHH"):
        year = gs1_full_year(_number(field[:2], what))
        month, day = _number(field[2:4], what), _number(field[4:6], what)
        expiry = _calendar_date(year, month, day, what=what)
        hour = _hour(field[6:8]) if fmt == "YYMMDDHH" else None
        secondary.set_expiry(expiry, "hour" if hour is not None else "day", fmt, hour)
    else:  # YYJJJ, YYJJJHH
        expiry = _julian(field[:2], field[2:5], what=what)
        hour = _hour(field[5:7]) if fmt == "YYJJJHH" else None
        secondary.set_expiry(expiry, "hour" if hour is not None else "day", fmt, hour)
    return rest


def _read_main_segment(segment: str, secondary: _Secondary) -> None:
    if segment.startswith("$$"):
        rest, is_serial = segment[2:], False
        if rest.startswith("+"):
            rest, is_serial = rest[1:], True
        if rest[:1] in ("8", "9"):
            width = 2 if rest[0] == "8" else 5
            secondary.set_quantity(rest[1 : 1 + width])
            if len(rest) < 1 + width:
                raise UdiError("HIBC quantity is cut short", field="hibc.quantity")
            rest = rest[1 + width :]
            if rest[:1].isdigit():
                rest = _read_date(rest, secondary)
        else:
            rest = _read_date(rest, secondary)
        if rest:
            if is_serial:
                secondary.set_serial(rest)
            else:
                secondary.lot = _lot_or_serial(rest, what="lot number")
    elif segment.startswith("$+"):
        secondary.set_serial(segment[2:])
    elif segment.startswith("$"):
        secondary.lot = _lot_or_serial(segment[1:], what="lot number") or None
    elif len(segment) >= 5 and segment[:5].isdigit():
        secondary.set_expiry(_julian(segment[:2], segment[2:5], what="date"), "day", "YYJJJ")
        secondary.lot = _lot_or_serial(segment[5:], what="lot number") or None
    else:
        raise UdiError(
            f"HIBC secondary data must start with '$', '$$', '$+' or a YYJJJ date, "
            f"got {segment[:6]!r}",
            field="hibc",
        )


def _long_date(text: str, *, what: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise UdiError(f"HIBC {what} must be YYYYMMDD, got {text!r}", field="hibc.date")
    return _calendar_date(int(text[:4]), int(text[4:6]), int(text[6:]), what=what)


def _read_supplemental(segment: str, secondary: _Secondary) -> bool:
    """Read one ``/``-introduced supplemental field; False when it is not one."""
    if segment.startswith("16D"):
        if secondary.manufactured is not None:
            raise UdiError("HIBC data carries the manufacture date twice", field="hibc.date")
        secondary.manufactured = _long_date(segment[3:], what="manufacture date")
    elif segment.startswith("14D"):
        secondary.set_expiry(_long_date(segment[3:], what="expiry date"), "day", "YYYYMMDD")
    elif segment.startswith("S"):
        secondary.set_serial(segment[1:])
    elif segment.startswith("Q"):
        secondary.set_quantity(segment[1:])
    else:
        return False
    return True


def _read_secondary(segments: list[str]) -> _Secondary:
    secondary = _Secondary()
    for index, segment in enumerate(segments):
        if not segment:
            raise UdiError("HIBC data has an empty '/' field", field="hibc")
        if _read_supplemental(segment, secondary):
            continue
        if index == 0:
            _read_main_segment(segment, secondary)
        else:
            raise UdiError(
                f"unknown HIBC supplemental data '/{segment[:3]}': expected /S, /16D, /14D or /Q",
                field="hibc",
            )
    return secondary


def _primary_fields(primary: str) -> tuple[str, str, int]:
    if len(primary) < 6:
        raise UdiError(
            "HIBC primary data needs a 4-character LIC, a product number and a unit of measure",
            field="hibc.pcn",
        )
    lic, pcn, uom = primary[:4], primary[4:-1], primary[-1]
    if not lic[0].isalpha():
        raise UdiError(f"HIBC LIC must start with a letter, got {lic!r}", field="hibc.lic")
    if len(pcn) > MAX_PCN:
        raise UdiError(
            f"HIBC product/catalog number is limited to {MAX_PCN} characters, got {len(pcn)}",
            field="hibc.pcn",
        )
    if not uom.isdigit():
        raise UdiError(f"HIBC unit of measure must be a digit, got {uom!r}", field="hibc.uom")
    return lic, pcn, int(uom)


def _check(data: str, printed: str, *, what: str) -> None:
    expected = hibc_check_char(data)
    if expected != printed:
        raise UdiError(
            f"HIBC {what}check character should be {expected!r}, got {printed!r}",
            field="hibc.check_char",
        )


def parse_hibc(text: str) -> HibcData:
    """Parse and verify an HIBC LIC UDI (see the module docstring for the accepted forms)."""
    if not text.startswith("+"):
        raise UdiError("HIBC data starts with '+'", field="hibc")
    if text[1:2] == "$" or text[1:6].isdigit():
        raise UdiError(
            "HIBC secondary data without its primary: scan the primary symbol (+LIC...) as well",
            field="hibc",
        )
    for position, char in enumerate(text, start=1):
        if char not in HIBC_CHARSET:
            raise UdiError(
                f"character {char!r} at position {position} is not allowed in HIBC data "
                f"(0-9, A-Z, '-', '.', ' ', '$', '/', '+', '%')",
                field="hibc",
            )
    if not ("A" <= text[1:2] <= "Z"):
        raise UdiError(f"HIBC LIC must start with a letter, got {text[1:5]!r}", field="hibc.lic")
    end = 1
    while end < len(text) and text[end] in _ALNUM:
        end += 1

    link_char: str | None = None
    # Concatenated: '/' then secondary data (never '+'), one check character at the end. A '/'
    # that ends the data or precedes '+' is the primary's own check character instead.
    if end < len(text) - 1 and text[end] == "/" and text[end + 1] != "+":
        _check(text[:-1], text[-1], what="")
        primary, check_char = text[1:end], text[-1]
        segments = text[end + 1 : -1].split("/")
    else:
        # Primary check character: the last alphanumeric, or the special character after them.
        candidates = [end - 1] + ([end] if end < len(text) else [])
        accepted = [
            at
            for at in candidates
            if at > 1
            and hibc_check_char(text[:at]) == text[at]
            and (at == len(text) - 1 or (text[at + 1] == "+" and len(text) - at - 1 >= 4))
        ]
        if not accepted:
            at = end if (end < len(text) and text[end] != "+") else end - 1
            _check(text[:at], text[at], what="primary ")
            if text[at + 1] != "+":
                raise UdiError(
                    "HIBC data after the primary check character must be a secondary starting "
                    "with '+'",
                    field="hibc",
                )
            raise UdiError(
                "HIBC secondary data is too short: it needs data, the link character and its "
                "check character",
                field="hibc",
            )
        at = accepted[0]
        primary, check_char = text[1:at], text[at]
        segments = []
        rest = text[at + 1 :]
        if rest:  # a secondary symbol read straight after the primary
            _check(rest[:-1], rest[-1], what="secondary ")
            link_char = rest[-2]
            if link_char != check_char:
                raise UdiError(
                    f"HIBC link character mismatch: the secondary carries {link_char!r}, "
                    f"the primary's check character is {check_char!r}",
                    field="hibc.link_char",
                )
            check_char = rest[-1]
            segments = rest[1:-2].split("/")
            if segments == [""]:
                raise UdiError("HIBC secondary data is empty", field="hibc")
    lic, pcn, uom = _primary_fields(primary)
    secondary = _read_secondary(segments)
    return HibcData(
        lic=lic,
        pcn=pcn,
        unit_of_measure=uom,
        lot=secondary.lot,
        serial=secondary.serial,
        expiry=secondary.expiry,
        expiry_precision=secondary.expiry_precision,
        expiry_hour=secondary.expiry_hour,
        expiry_format=secondary.expiry_format,
        manufactured=secondary.manufactured,
        quantity=secondary.quantity,
        check_char=check_char,
        link_char=link_char,
        data=text,
    )


def _check_field(value: str, *, what: str, field: str, maximum: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= maximum:
        raise UdiError(f"HIBC {what} must be 1 to {maximum} characters", field=field)
    bad = [c for c in value if c not in HIBC_CHARSET or c == "/"]
    if bad:
        raise UdiError(f"HIBC {what} contains {bad[0]!r}, which HIBC data cannot", field=field)
    return value


def _primary(lic: str, pcn: str, uom: int | str) -> str:
    if not (isinstance(lic, str) and len(lic) == 4 and lic[0].isalpha() and set(lic) <= _ALNUM):
        raise UdiError(
            f"HIBC LIC is 4 upper-case letters or digits starting with a letter, got {lic!r}",
            field="hibc.lic",
        )
    if not (isinstance(pcn, str) and 1 <= len(pcn) <= MAX_PCN and set(pcn) <= _ALNUM):
        raise UdiError(
            f"HIBC product/catalog number is 1 to {MAX_PCN} upper-case letters or digits, "
            f"got {pcn!r}",
            field="hibc.pcn",
        )
    unit = str(uom)
    if len(unit) != 1 or not unit.isdigit():
        raise UdiError(f"HIBC unit of measure is one digit 0-9, got {uom!r}", field="hibc.uom")
    return f"{lic}{pcn}{unit}"


def build_hibc(
    *,
    lic: str,
    pcn: str,
    uom: int | str,
    lot: str | None = None,
    serial: str | None = None,
    expiry: date | None = None,
    manufactured: date | None = None,
) -> str:
    """Build a concatenated HIBC UDI (primary ``/`` secondary ``/`` supplements + check char).

    The expiry goes in the secondary as ``$$3`` YYMMDD when its year survives the two-digit
    century window, otherwise (or when there is neither lot nor serial) as ``/14D`` YYYYMMDD.
    """
    segments: list[str] = []
    if lot is not None:
        _check_field(lot, what="lot number", field="hibc.lot", maximum=MAX_LOT_OR_SERIAL)
    if serial is not None:
        _check_field(serial, what="serial number", field="hibc.serial", maximum=MAX_LOT_OR_SERIAL)
    short_expiry = expiry is not None and gs1_full_year(expiry.year % 100) == expiry.year
    expiry_used = False
    main = lot if lot is not None else serial
    if main is not None:
        flag = "$$" if lot is not None else "$$+"
        if expiry is not None and short_expiry:
            segments.append(f"{flag}3{expiry:%y%m%d}{main}")
            expiry_used = True
        elif lot is not None and lot[0] not in "$+":
            segments.append(f"${lot}")
        else:
            segments.append(f"{flag}7{main}")
    if expiry is not None and not expiry_used:
        segments.append(f"14D{expiry:%Y%m%d}")
    if manufactured is not None:
        segments.append(f"16D{manufactured:%Y%m%d}")
    if lot is not None and serial is not None:
        segments.append(f"S{serial}")
    data = "+" + _primary(lic, pcn, uom) + "".join(f"/{segment}" for segment in segments)
    return data + hibc_check_char(data)
