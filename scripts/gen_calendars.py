#!/usr/bin/env python3
"""Write the working-day calendars that medtrace.lib.clocks reads at run time.

    .venv/bin/python scripts/gen_calendars.py           # rewrite the data files
    .venv/bin/python scripts/gen_calendars.py --check   # exit 1 if they are out of date

Sources (pinned in pyproject.toml; the tests hold the files against them for every covered date):
- CN: ``chinese-calendar`` (State Council holiday notices, with the 调休 make-up workdays). Its
  coverage ends with the last year the State Council has announced; a new release of the library
  is needed each year, then rerun this script.
- US: ``holidays``, the federal holidays of 5 U.S.C. 6103 with their observed dates (a Saturday
  holiday is observed on the Friday before, a Sunday one on the Monday after). These follow fixed
  rules, so future years are known; ad-hoc closures by executive order are not in the statute and
  not in the file (leaving them out can only make a deadline earlier, never later).

Each file lists, per year, only the days that differ from "Monday to Friday work":
``holidays`` are non-working weekdays, ``workdays`` are working Saturdays/Sundays (CN 调休).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import chinese_calendar
import holidays

OUT_DIR = Path(__file__).resolve().parents[1] / "medtrace" / "lib" / "data" / "calendars"
CN_FIRST = 2004  # chinese-calendar starts here
US_FIRST, US_LAST = 2004, 2035


def cn_last_year() -> int:
    """The last year chinese-calendar has data for (it raises NotImplementedError beyond)."""
    year = CN_FIRST
    while True:
        try:
            chinese_calendar.is_workday(date(year + 1, 1, 1))
        except NotImplementedError:
            return year
        year += 1


def _days(year: int) -> list[date]:
    day, days = date(year, 1, 1), []
    while day.year == year:
        days.append(day)
        day += timedelta(days=1)
    return days


def _build(
    code: str, source: str, first: int, last: int, classify: Callable[[date], tuple[bool, str]]
) -> dict[str, Any]:
    """classify(day) -> (is_working_day, name); only the exceptions to Mon-Fri are kept."""
    years: dict[str, dict[str, dict[str, str]]] = {}
    for year in range(first, last + 1):
        entry: dict[str, dict[str, str]] = {"holidays": {}, "workdays": {}}
        for day in _days(year):
            working, name = classify(day)
            weekday = day.weekday() < 5
            if weekday and not working:
                entry["holidays"][day.isoformat()] = name
            elif not weekday and working:
                entry["workdays"][day.isoformat()] = name
        years[str(year)] = entry
    return {
        "calendar": code,
        "source": source,
        "generated_by": "scripts/gen_calendars.py",
        "first_year": first,
        "last_year": last,
        "years": years,
    }


def cn_calendar() -> dict[str, Any]:
    def classify(day: date) -> tuple[bool, str]:
        working = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
        return working, name or ""

    last = cn_last_year()
    data = _build("CN", f"chinese-calendar {version('chinese-calendar')}", CN_FIRST, last, classify)
    for year, entry in data["years"].items():  # a year without its two long holidays is suspect
        names = set(entry["holidays"].values())
        if not {"Spring Festival", "National Day"} <= names:
            raise SystemExit(f"CN {year}: Spring Festival or National Day missing: {names}")
    return data


def us_calendar() -> dict[str, Any]:
    federal = holidays.country_holidays("US", years=range(US_FIRST - 1, US_LAST + 2))

    def classify(day: date) -> tuple[bool, str]:
        name = federal.get(day)
        return day.weekday() < 5 and name is None, name or ""

    return _build("US", f"holidays {version('holidays')} (US federal)", US_FIRST, US_LAST, classify)


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, data in (("cn.json", cn_calendar()), ("us.json", us_calendar())):
        path, text = OUT_DIR / name, render(data)
        current = path.read_text("utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            print(f"wrote {path} ({data['first_year']}-{data['last_year']})")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run scripts/gen_calendars.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
