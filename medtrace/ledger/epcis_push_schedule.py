"""When a scheduled EPCIS query subscription runs (EPCIS 2.0 §8.2.5.3, ``QuerySchedule``).

A schedule names, for some of second, minute, hour, dayOfMonth, month and dayOfWeek (1 =
Monday ... 7 = Sunday), the values that field may take: numbers and ranges ``[a-b]``,
comma-separated. A "query time" is any instant whose fields, read in the time zone the service
chose (ours: ``settings.TIME_ZONE``), all match.

Omitted fields. §8.2.5.3 lets an omitted field match every value, so taken literally
``{"hour": "1", "minute": "5"}`` fires every second from 01:05:00 to 01:05:59 (its example 4,
which it calls "usually not desirable"). The REST binding's own example gives that very schedule
as "every morning at 1.05am", with ``reportIfEmpty`` meaning one report then. We follow the
binding, as cron does: an omitted field *finer* than the finest field given takes its lowest
value (second 0, minute 0, hour 0, dayOfMonth 1; dayOfWeek stays open), and an omitted field
coarser than it matches every value. So ``{"hour": "1", "minute": "5"}`` is 01:05:00 daily,
``{"second": "0", "minute": "0"}`` the top of every hour, ``{"dayOfWeek": "1"}`` Monday 00:00:00;
every second of an hour is still there for the asking (``"second": "[0-59]", "minute": "[0-59]"``).

``next_run`` gives the first query time strictly after an instant. It walks the calendar in
field order, skipping whole months and days that cannot match, so it costs a few hundred steps
even for a schedule that fires once in 28 years (29 February on a Monday). The Gregorian
calendar repeats every 400 years, so a schedule with no query time in the next 400 years has
none at all (``dayOfMonth`` 30 in ``month`` 2): the subscription is refused.

Local times that do not exist (the hour skipped when daylight saving starts) match nothing; a
local time that occurs twice (the hour repeated when it ends) is a query time once, at its first
occurrence, as cron does: a daily report is not sent twice that night.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings

__all__ = ["FIELDS", "ScheduleError", "next_run", "parse_field"]

# Field -> inclusive range of its numbers (§8.2.5.3 table).
FIELDS: dict[str, tuple[int, int]] = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
_ELEMENT = re.compile(r"(\d+)\Z|\[(\d+)-(\d+)\]\Z")
_CYCLE_YEARS = 400


class ScheduleError(ValueError):
    """A schedule field that breaks the §8.2.5.3 grammar or range (field, message)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_field(name: str, spec: object) -> list[int]:
    """The sorted values that ``spec`` (e.g. ``"0,30"`` or ``"[1-5]"``) allows for ``name``."""
    bounds = FIELDS.get(name)
    if bounds is None:
        raise ScheduleError(name, f"unknown field; expected {', '.join(FIELDS)}")
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = str(spec)
    if not isinstance(spec, str) or not spec:
        raise ScheduleError(name, "expected a string")
    low, high = bounds
    values: set[int] = set()
    for element in spec.split(","):
        match = _ELEMENT.match(element.strip())
        numbers = [int(n) for n in match.groups() if n is not None] if match else []
        if (
            not numbers
            or any(not low <= n <= high for n in numbers)
            or (len(numbers) == 2 and numbers[0] > numbers[1])
        ):
            raise ScheduleError(
                name,
                f"{spec!r} is not a schedule; expected numbers from {low} to {high} or ranges "
                "[a-b], separated by commas (e.g. '0,30' or '[1-5]')",
            )
        values.update(range(numbers[0], numbers[-1] + 1))
    return sorted(values)


# Granularity, finest first; the day level has two fields.
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("second",),
    ("minute",),
    ("hour",),
    ("dayOfMonth", "dayOfWeek"),
    ("month",),
)


def _allowed(schedule: Mapping[str, object]) -> dict[str, list[int]]:
    """Each field's allowed values, the omitted ones filled in (module docstring)."""
    finest = next(i for i, level in enumerate(_LEVELS) if any(f in schedule for f in level))
    out: dict[str, list[int]] = {}
    for index, level in enumerate(_LEVELS):
        for name in level:
            low, high = FIELDS[name]
            if name in schedule:
                out[name] = parse_field(name, schedule[name])
            elif index < finest and name != "dayOfWeek":
                out[name] = [low]
            else:
                out[name] = list(range(low, high + 1))
    return out


def _instant(day: date, clock: time, zone: tzinfo) -> datetime | None:
    """The (first) instant at which the local wall time ``day clock`` occurs; None in a gap."""
    local = datetime.combine(day, clock, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def next_run(
    schedule: Mapping[str, object], after: datetime, *, zone: tzinfo | None = None
) -> datetime | None:
    """The first query time of ``schedule`` strictly after ``after`` (aware, UTC), or None
    when the schedule has none. Raises ``ScheduleError`` for a malformed or unknown field,
    or an empty schedule."""
    unknown = sorted(set(schedule) - set(FIELDS))
    if unknown:
        raise ScheduleError(unknown[0], f"unknown field; expected {', '.join(FIELDS)}")
    if not schedule:
        raise ScheduleError("schedule", 'expected at least one field, e.g. {"hour": "1"}')
    allowed = _allowed(schedule)
    zone = zone or ZoneInfo(settings.TIME_ZONE)
    # Whole seconds: the first candidate is the wall-clock second after ``after``. Mapping each
    # wall time to its first instant keeps the walk in time order, so the first match is it.
    start = after.astimezone(zone).replace(microsecond=0) + timedelta(seconds=1)
    seconds, minutes, hours = allowed["second"], allowed["minute"], allowed["hour"]
    days, weekdays = set(allowed["dayOfMonth"]), set(allowed["dayOfWeek"])
    for year in range(start.year, min(start.year + _CYCLE_YEARS, MAXYEAR) + 1):
        for month in allowed["month"]:
            if (year, month) < (start.year, start.month):
                continue
            last = calendar.monthrange(year, month)[1]
            first_day = start.day if (year, month) == (start.year, start.month) else 1
            for day_number in range(first_day, last + 1):
                if day_number not in days:
                    continue
                day = date(year, month, day_number)
                if day.isoweekday() not in weekdays:
                    continue
                floor = start.time() if day == start.date() else time(0)
                found = _first_time(day, floor, hours, minutes, seconds, zone, after)
                if found is not None:
                    return found
    return None


def _first_time(
    day: date,
    floor: time,
    hours: list[int],
    minutes: list[int],
    seconds: list[int],
    zone: tzinfo,
    after: datetime,
) -> datetime | None:
    """The earliest instant after ``after`` on ``day`` at or past the wall time ``floor``
    whose hour, minute and second are allowed."""
    for hour in hours:
        if hour < floor.hour:
            continue
        for minute in minutes:
            if (hour, minute) < (floor.hour, floor.minute):
                continue
            for second in seconds:
                if (hour, minute, second) < (floor.hour, floor.minute, floor.second):
                    continue
                instant = _instant(day, time(hour, minute, second), zone)
                if instant is not None and instant > after:
                    return instant
    return None
