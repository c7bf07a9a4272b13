"""Dates inside barcodes: GS1 YYMMDD (with DD=00) and the two-digit-year century window."""

from __future__ import annotations

import calendar
from datetime import date


def gs1_full_year(yy: int, *, today: date | None = None) -> int:
    """Resolve a two-digit year with the GS1 sliding window (GenSpecs §7.12).

    The year lies between 49 years before and 50 years after the current year: a difference of
    51..99 ahead means the previous century, of 50..99 behind means the next one.
    """
    current = (today or date.today()).year
    century, current_yy = divmod(current, 100)
    difference = yy - current_yy
    if 51 <= difference <= 99:
        return (century - 1) * 100 + yy
    if -99 <= difference <= -50:
        return (century + 1) * 100 + yy
    return century * 100 + yy


def last_day_of_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def yymmdd_problem(text: str, *, day_zero_allowed: bool) -> str | None:
    """Why a 6-digit YYMMDD is not a valid date, or None when it is."""
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        return f"date must be 6 digits YYMMDD, got {text!r}"
    year = gs1_full_year(int(text[:2]))
    month, day = int(text[2:4]), int(text[4:6])
    if not 1 <= month <= 12:
        return f"month {text[2:4]} is not valid"
    if day == 0:
        return None if day_zero_allowed else "day 00 is not allowed here (format YYMMDD)"
    if day > last_day_of_month(year, month):
        return f"day {text[4:6]} is not valid in {year:04d}-{month:02d}"
    return None


def resolve_yymmdd(text: str, *, today: date | None = None) -> date:
    """The date a valid GS1 YYMMDD stands for; DD=00 means the last day of the month."""
    year = gs1_full_year(int(text[:2]), today=today)
    month, day = int(text[2:4]), int(text[4:6])
    if day == 0:
        day = last_day_of_month(year, month)
    return date(year, month, day)


def yymmdd(value: date) -> str:
    """A date as GS1 YYMMDD (the form used only inside barcodes)."""
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"
