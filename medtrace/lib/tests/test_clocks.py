"""Regulatory clocks and the CN/US working-day calendars (medtrace.lib.clocks).

The calendar data files are held against the libraries they were generated from (chinese-calendar
and holidays, pinned in pyproject), for every covered date; the clocks are tested at their edges.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrace.lib import clocks
from medtrace.lib.clocks import (
    CalendarYearMissing,
    Deadline,
    add_calendar_days,
    add_hours,
    add_working_days,
    adverse_event_deadlines,
    cn_recall_plan_deadline,
    cn_recall_summary_deadline,
    coverage,
    fda_806_deadline,
    gudid_deadline,
    gudid_update_deadline,
    holiday_name,
    is_working_day,
    recall_deadlines,
    recall_notification_deadline,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
REPO_ROOT = Path(__file__).resolve().parents[3]
CN_FIRST, CN_LAST = coverage("CN")
US_FIRST, US_LAST = coverage("US")
US_FEDERAL = holidays.country_holidays("US", years=range(US_FIRST - 1, US_LAST + 2))


def _days(first: int, last: int) -> list[date]:
    day, end, days = date(first, 1, 1), date(last, 12, 31), []
    while day <= end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _library_says_working(day: date, calendar: str) -> bool:
    if calendar == "CN":
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5 and day not in US_FEDERAL


def _working_days_between(after: date, until: date, calendar: str) -> int:
    return sum(is_working_day(d, calendar) for d in _days_range(after, until))


def _days_range(after: date, until: date) -> list[date]:
    return [after + timedelta(days=n) for n in range(1, (until - after).days + 1)]


def _keys(deadlines: list[Deadline]) -> list[str]:
    return [d.key for d in deadlines]


# --- the data files -----------------------------------------------------------------------------


def test_the_cn_calendar_covers_every_year_chinese_calendar_knows_and_no_more():
    assert CN_FIRST == 2004
    chinese_calendar.is_workday(date(CN_LAST, 12, 31))  # the library has the last year
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(CN_LAST + 1, 1, 1))
    assert CN_LAST >= 2026


def test_the_us_calendar_covers_2004_to_2035():
    assert (US_FIRST, US_LAST) == (2004, 2035)


@pytest.mark.parametrize("calendar", ["CN", "US"])
def test_the_data_file_agrees_with_the_library_on_every_covered_date(calendar):
    first, last = coverage(calendar)
    disagreements = [
        day
        for day in _days(first, last)
        if is_working_day(day, calendar) != _library_says_working(day, calendar)
    ]
    assert disagreements == []


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(
    st.sampled_from(["CN", "US"]),
    st.dates(min_value=date(CN_FIRST, 1, 1), max_value=date(US_LAST, 12, 31)),
)
def test_any_covered_date_is_classified_as_the_library_does(calendar, day):
    first, last = coverage(calendar)
    if first <= day.year <= last:
        assert is_working_day(day, calendar) == _library_says_working(day, calendar)
    else:
        with pytest.raises(CalendarYearMissing):
            is_working_day(day, calendar)


def test_the_committed_data_files_are_what_the_generator_writes_today():
    spec = importlib.util.spec_from_file_location(
        "gen_calendars", REPO_ROOT / "scripts" / "gen_calendars.py"
    )
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main(["--check"]) == 0


def test_the_clocks_read_only_the_data_files_not_the_calendar_libraries():
    # Given the calendar libraries made unimportable (and a fresh interpreter)
    code = (
        "import sys; sys.modules['chinese_calendar'] = None; sys.modules['holidays'] = None\n"
        "import datetime; from medtrace.lib import clocks\n"
        "assert clocks.is_working_day(datetime.date(2024, 2, 4), 'CN')\n"
        "assert not clocks.is_working_day(datetime.date(2024, 11, 28), 'US')\n"
        "assert 'django' not in sys.modules\n"
    )
    # When the clocks run, then they still work and never pulled in Django either
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_holiday_names_come_with_the_data():
    assert holiday_name(date(2024, 2, 12), "CN") == "Spring Festival"
    assert holiday_name(date(2024, 2, 4), "CN") == "Spring Festival"  # its make-up workday
    assert holiday_name(date(2024, 11, 28), "US") == "Thanksgiving Day"
    assert holiday_name(date(2024, 11, 27), "US") is None


# --- working days -------------------------------------------------------------------------------


def test_a_friday_evening_start_is_due_monday_evening_after_the_weekend():
    for calendar, zone in (("CN", SH), ("US", NY)):
        start = datetime(2024, 3, 8, 18, 30, tzinfo=zone)
        assert add_working_days(start, 1, calendar) == datetime(2024, 3, 11, 18, 30, tzinfo=zone)
        assert add_working_days(start, 5, calendar) == datetime(2024, 3, 15, 18, 30, tzinfo=zone)


def test_spring_festival_2024_holidays_do_not_count_and_its_make_up_sundays_do():
    assert is_working_day(date(2024, 2, 4), "CN")  # Sunday, 调休 workday
    assert is_working_day(date(2024, 2, 18), "CN")  # Sunday, 调休 workday
    assert is_working_day(date(2024, 2, 9), "CN")  # Friday before the holiday
    holiday = [date(2024, 2, 10) + timedelta(days=n) for n in range(8)]
    assert not any(is_working_day(day, "CN") for day in holiday)
    # A Thursday start: Fri 9th is day 1, the 18th (Sunday) day 2, then Mon-Wed
    start = datetime(2024, 2, 8, 18, 0, tzinfo=SH)
    assert add_working_days(start, 2, "CN") == datetime(2024, 2, 18, 18, 0, tzinfo=SH)
    assert add_working_days(start, 5, "CN") == datetime(2024, 2, 21, 18, 0, tzinfo=SH)
    # The Saturday before the holiday is a plain weekend day; Sunday the 4th counts
    assert add_working_days(datetime(2024, 2, 2, 9, tzinfo=SH), 1, "CN").date() == date(2024, 2, 4)


def test_national_day_2025_make_up_sunday_and_saturday_count_as_working_days():
    assert is_working_day(date(2025, 9, 28), "CN")  # Sunday
    assert is_working_day(date(2025, 10, 11), "CN")  # Saturday
    assert not is_working_day(date(2025, 10, 8), "CN")
    # Decided Friday 26 Sep: Sun 28 (1), Mon 29 (2), Tue 30 (3), Oct 1-8 off, Thu 9 (4), Fri 10 (5)
    start = datetime(2025, 9, 26, 17, 0, tzinfo=SH)
    assert cn_recall_plan_deadline(start) == datetime(2025, 10, 10, 17, 0, tzinfo=SH)
    # Completed Tue 30 Sep: Oct 9, 10, Sat 11, 13, 14, 15, 16, 17, 20, 21
    done = datetime(2025, 9, 30, 10, 0, tzinfo=SH)
    assert cn_recall_summary_deadline(done) == datetime(2025, 10, 21, 10, 0, tzinfo=SH)


def test_a_start_on_a_non_working_day_counts_the_next_working_day_as_day_one():
    friday = datetime(2024, 3, 8, 9, 0, tzinfo=SH)
    saturday = datetime(2024, 3, 9, 9, 0, tzinfo=SH)
    assert add_working_days(saturday, 1, "CN") == datetime(2024, 3, 11, 9, 0, tzinfo=SH)
    assert add_working_days(saturday, 3, "CN") == add_working_days(friday, 3, "CN")
    # A start inside the Spring Festival holiday: the make-up Sunday after it is day 1
    in_holiday = datetime(2024, 2, 12, 11, 0, tzinfo=SH)
    assert add_working_days(in_holiday, 1, "CN") == datetime(2024, 2, 18, 11, 0, tzinfo=SH)


def test_zero_working_days_is_the_start_itself_in_the_calendars_zone():
    start = datetime(2024, 3, 9, 1, 0, tzinfo=UTC)
    assert add_working_days(start, 0, "CN") == start
    assert add_working_days(start, 0, "CN").tzinfo == SH


def test_thanksgiving_and_the_friday_after_it_in_us_working_days():
    start = datetime(2024, 11, 27, 17, 0, tzinfo=NY)  # Wednesday before Thanksgiving
    assert add_working_days(start, 1, "US") == datetime(2024, 11, 29, 17, 0, tzinfo=NY)
    assert add_working_days(start, 2, "US") == datetime(2024, 12, 2, 17, 0, tzinfo=NY)


def test_independence_day_observed_on_a_friday_and_on_a_monday():
    assert not is_working_day(date(2026, 7, 3), "US")  # Saturday the 4th, observed Friday
    thursday = datetime(2026, 7, 2, 9, 0, tzinfo=NY)
    assert add_working_days(thursday, 1, "US") == datetime(2026, 7, 6, 9, 0, tzinfo=NY)
    assert not is_working_day(date(2021, 7, 5), "US")  # Sunday the 4th, observed Monday
    friday = datetime(2021, 7, 2, 9, 0, tzinfo=NY)
    assert add_working_days(friday, 1, "US") == datetime(2021, 7, 6, 9, 0, tzinfo=NY)


def test_each_regulator_counts_from_its_own_local_date():
    # Sunday 17:00 UTC is Monday 01:00 in Shanghai but still Sunday 13:00 in New York
    start = datetime(2024, 3, 10, 17, 0, tzinfo=UTC)
    assert add_working_days(start, 1, "CN") == datetime(2024, 3, 12, 1, 0, tzinfo=SH)
    assert add_working_days(start, 1, "US") == datetime(2024, 3, 11, 13, 0, tzinfo=NY)


def test_us_dst_start_keeps_the_local_due_time():
    start = datetime(2024, 3, 8, 10, 0, tzinfo=NY)  # EST, Friday before the change
    due = add_working_days(start, 5, "US")
    assert due == datetime(2024, 3, 15, 10, 0, tzinfo=NY)  # 10:00 EDT, not 11:00
    assert due.utcoffset() == timedelta(hours=-4)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=7, hours=-1)


def test_us_dst_end_keeps_the_local_due_time():
    start = datetime(2024, 11, 1, 10, 0, tzinfo=NY)  # EDT, Friday before the change
    due = gudid_update_deadline(start)
    # Nov 4-8, (11 Veterans Day), 12-15, 18
    assert due == datetime(2024, 11, 18, 10, 0, tzinfo=NY)
    assert (due.hour, due.utcoffset()) == (10, timedelta(hours=-5))


def test_a_calendar_day_clock_landing_in_the_dst_gap_takes_the_earlier_instant():
    start = datetime(2024, 3, 9, 2, 30, tzinfo=NY)  # 02:30 on Mar 10 does not exist
    due = add_calendar_days(start, 1)
    assert due == datetime(2024, 3, 10, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert due.astimezone(UTC) <= datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_calendar_days_keep_the_wall_clock_time_in_the_named_calendars_zone():
    start = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert add_calendar_days(start, 30, "US") == datetime(2024, 3, 31, 9, 0, tzinfo=NY)
    assert add_calendar_days(start, 30) == datetime(2024, 3, 31, 14, 0, tzinfo=UTC)


def test_hours_are_elapsed_time_even_across_a_dst_change():
    start = datetime(2024, 11, 2, 20, 0, tzinfo=NY)  # EDT
    due = add_hours(start, 12)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=12)
    assert due == datetime(2024, 11, 3, 7, 0, tzinfo=NY)  # EST wall clock


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(
    st.sampled_from(["CN", "US"]),
    st.datetimes(
        min_value=datetime(2004, 1, 2),
        max_value=datetime(2026, 11, 30),
        timezones=st.sampled_from([UTC, SH, NY]),
        allow_imaginary=False,
    ),
    st.integers(min_value=1, max_value=20),
)
def test_the_due_date_is_the_nth_working_day_after_the_start_at_the_same_local_time(
    calendar, start, days
):
    due = add_working_days(start, days, calendar)
    local_start = start.astimezone(clocks.ZONES[calendar])
    assert due.tzinfo == clocks.ZONES[calendar]
    assert is_working_day(due.date(), calendar)
    assert _working_days_between(local_start.date(), due.date(), calendar) == days
    assert due.time() == local_start.time()
    assert due > start


# --- missing years and refused input -------------------------------------------------------------


def test_a_year_without_data_gives_the_clear_error():
    with pytest.raises(CalendarYearMissing) as error:
        is_working_day(date(2040, 1, 2), "CN")
    assert isinstance(error.value, ValueError)
    assert str(error.value) == (
        f"The CN working-day calendar has no data for 2040 (covered: {CN_FIRST}–{CN_LAST}); "
        "update medtrace/lib/data/calendars/cn.json with scripts/gen_calendars.py"
    )
    assert (error.value.calendar, error.value.year) == ("CN", 2040)
    with pytest.raises(CalendarYearMissing, match="US working-day calendar has no data for 2003"):
        is_working_day(date(2003, 12, 31), "US")


def test_a_clock_running_into_an_uncovered_year_refuses_rather_than_guesses():
    late_december = datetime(CN_LAST, 12, 24, 9, 0, tzinfo=SH)
    with pytest.raises(CalendarYearMissing, match=f"no data for {CN_LAST + 1}"):
        cn_recall_summary_deadline(late_december)
    with pytest.raises(CalendarYearMissing, match=f"no data for {US_LAST + 1}"):
        fda_806_deadline(datetime(US_LAST, 12, 24, 9, 0, tzinfo=NY))


@pytest.mark.parametrize(
    "call",
    [
        lambda start: add_working_days(start, 1, "CN"),
        lambda start: add_calendar_days(start, 1),
        lambda start: add_hours(start, 12),
        lambda start: recall_notification_deadline(start, 1),
        lambda start: recall_deadlines(start=start, cn_level=None, fda=False),
        lambda start: adverse_event_deadlines(
            awareness=start, jurisdictions=["EU"], severity="death"
        ),
    ],
)
def test_a_naive_datetime_is_refused(call):
    with pytest.raises(ValueError, match="time-zone aware"):
        call(datetime(2024, 3, 8, 9, 0))


def test_unknown_calendars_bad_day_counts_and_datetimes_as_days_are_refused():
    with pytest.raises(ValueError, match="calendar must be one of CN, US, not 'EU'"):
        is_working_day(date(2024, 3, 8), "EU")
    with pytest.raises(ValueError, match="calendar must be one of CN, US"):
        add_working_days(datetime(2024, 3, 8, tzinfo=UTC), 1, "cn")
    with pytest.raises(ValueError, match="days must be"):
        add_working_days(datetime(2024, 3, 8, tzinfo=UTC), -1, "CN")
    with pytest.raises(ValueError, match="not a datetime"):
        is_working_day(datetime(2024, 2, 12, tzinfo=SH), "CN")


# --- adverse events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "key", "due_day"),
    [
        ("death", "cn_ae_death", 8),
        ("serious_injury", "cn_ae_serious_injury", 21),
        ("malfunction", "cn_ae_other", 31),
        ("other", "cn_ae_other", 31),
    ],
)
def test_china_adverse_event_calendar_day_deadlines(severity, key, due_day):
    awareness = datetime(2024, 5, 1, 20, 0, tzinfo=SH)
    (deadline,) = adverse_event_deadlines(
        awareness=awareness, jurisdictions=["CN"], severity=severity
    )
    assert (deadline.key, deadline.jurisdiction) == (key, "CN")
    assert deadline.due == datetime(2024, 5, due_day, 20, 0, tzinfo=SH)
    assert "医疗器械不良事件监测和再评价管理办法" in deadline.label
    assert "calendar days from awareness" in deadline.basis


def test_a_group_event_adds_a_12_hour_clock_crossing_midnight_and_keeps_the_individual_one():
    awareness = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    group, individual = adverse_event_deadlines(
        awareness=awareness, jurisdictions=["CN"], severity="death", group_event=True
    )
    assert group.key == "cn_ae_group"
    assert group.due == datetime(2024, 5, 2, 8, 0, tzinfo=SH)
    assert group.due.tzinfo == SH
    assert group.basis == "12 hours from awareness"
    assert individual.key == "cn_ae_death"


@pytest.mark.parametrize("severity", ["death", "serious_injury", "malfunction", "other"])
def test_fda_mdr_is_30_calendar_days_for_every_severity(severity):
    awareness = datetime(2024, 3, 1, 9, 0, tzinfo=NY)
    (deadline,) = adverse_event_deadlines(
        awareness=awareness, jurisdictions=["US"], severity=severity
    )
    assert deadline.key == "fda_803_30d"
    assert deadline.due == datetime(2024, 3, 31, 9, 0, tzinfo=NY)  # across the DST change
    assert "21 CFR 803.50" in deadline.label


def test_a_five_day_report_takes_5_us_work_days_across_thanksgiving_instead_of_30_days():
    awareness = datetime(2024, 11, 22, 16, 0, tzinfo=NY)  # Friday
    deadlines = adverse_event_deadlines(
        awareness=awareness, jurisdictions=["US"], severity="malfunction", five_day=True
    )
    assert _keys(deadlines) == ["fda_803_5wd"]
    # Mon 25, Tue 26, Wed 27, (Thu 28 Thanksgiving), Fri 29, Mon Dec 2
    assert deadlines[0].due == datetime(2024, 12, 2, 16, 0, tzinfo=NY)
    assert "21 CFR 803.53" in deadlines[0].label


@pytest.mark.parametrize(
    ("severity", "threat", "key", "days"),
    [
        ("death", True, "eu_vigilance_2d", 2),
        ("malfunction", True, "eu_vigilance_2d", 2),
        ("death", False, "eu_vigilance_10d", 10),
        ("serious_injury", False, "eu_vigilance_10d", 10),
        ("malfunction", False, "eu_vigilance_15d", 15),
        ("other", False, "eu_vigilance_15d", 15),
    ],
)
def test_eu_mdr_vigilance_deadlines(severity, threat, key, days):
    awareness = datetime(2024, 3, 29, 22, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    (deadline,) = adverse_event_deadlines(
        awareness=awareness, jurisdictions=["EU"], severity=severity, public_health_threat=threat
    )
    assert (deadline.key, deadline.jurisdiction) == (key, "EU")
    assert deadline.due == awareness + timedelta(days=days)
    assert deadline.due.hour == 22  # the same local time across the EU DST change (Mar 31)
    assert "MDR Art. 87" in deadline.label


def test_all_three_jurisdictions_in_the_order_given_each_once():
    awareness = datetime(2024, 5, 6, 9, 0, tzinfo=SH)
    deadlines = adverse_event_deadlines(
        awareness=awareness, jurisdictions=("EU", "CN", "US", "CN"), severity="serious_injury"
    )
    assert _keys(deadlines) == ["eu_vigilance_10d", "cn_ae_serious_injury", "fda_803_30d"]
    assert [d.jurisdiction for d in deadlines] == ["EU", "CN", "US"]
    one = adverse_event_deadlines(awareness=awareness, jurisdictions="CN", severity="death")
    assert _keys(one) == ["cn_ae_death"]


def test_an_unknown_severity_or_jurisdiction_names_the_field_and_the_allowed_values():
    awareness = datetime(2024, 5, 6, 9, 0, tzinfo=SH)
    with pytest.raises(
        ValueError,
        match="severity must be one of death, serious_injury, malfunction, other, not 'minor'",
    ):
        adverse_event_deadlines(awareness=awareness, jurisdictions=["CN"], severity="minor")
    with pytest.raises(ValueError, match="jurisdictions must be one of CN, US, EU, not 'JP'"):
        adverse_event_deadlines(awareness=awareness, jurisdictions=["JP"], severity="death")


# --- recalls and GUDID ---------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "days"), [(1, 1), (2, 3), (3, 7)])
def test_china_recall_notification_is_1_3_or_7_calendar_days(level, days):
    start = datetime(2024, 2, 8, 15, 0, tzinfo=SH)  # holidays do not matter: calendar days
    expected = datetime(2024, 2, 8 + days, 15, 0, tzinfo=SH)
    assert recall_notification_deadline(start, level) == expected


@pytest.mark.parametrize("level", [0, 4, True, None, "1"])
def test_a_recall_level_other_than_1_2_or_3_is_refused(level):
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        recall_notification_deadline(datetime(2024, 2, 8, 15, tzinfo=SH), level)


def test_recall_deadlines_for_china_and_fda():
    start = datetime(2025, 9, 26, 17, 0, tzinfo=SH)  # Friday before National Day
    deadlines = recall_deadlines(start=start, cn_level=2, fda=True)
    assert _keys(deadlines) == ["cn_recall_notify", "cn_recall_plan", "fda_806"]
    notify, plan, fda = deadlines
    assert notify.due == datetime(2025, 9, 29, 17, 0, tzinfo=SH)
    assert "level 2: 3 days" in notify.label and "Art. 16" in notify.label
    assert plan.due == datetime(2025, 10, 10, 17, 0, tzinfo=SH)
    # 05:00 Friday in New York; 10 US working days, Columbus Day (Oct 13) comes after
    assert fda.due == datetime(2025, 10, 10, 5, 0, tzinfo=NY)
    assert fda.jurisdiction == "US" and "806.10" in fda.label


def test_the_china_recall_summary_runs_from_completion_once_it_is_known():
    start = datetime(2025, 9, 1, 9, 0, tzinfo=SH)
    completed = datetime(2025, 9, 30, 10, 0, tzinfo=SH)
    deadlines = recall_deadlines(start=start, cn_level=1, fda=False, completed=completed)
    assert _keys(deadlines) == ["cn_recall_notify", "cn_recall_plan", "cn_recall_summary"]
    assert deadlines[-1].due == datetime(2025, 10, 21, 10, 0, tzinfo=SH)
    assert recall_deadlines(start=start, cn_level=None, fda=False) == []


def test_a_bad_recall_level_is_refused_by_recall_deadlines_too():
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        recall_deadlines(start=datetime(2025, 9, 1, tzinfo=SH), cn_level=4, fda=False)


def test_gudid_updates_take_10_us_business_days_across_christmas_and_new_year():
    change = datetime(2024, 12, 20, 11, 0, tzinfo=NY)  # Friday
    # Dec 23, 24, 26, 27, 30, 31, Jan 2, 3, 6, 7 (Dec 25 and Jan 1 are holidays)
    assert gudid_update_deadline(change) == datetime(2025, 1, 7, 11, 0, tzinfo=NY)
    deadline = gudid_deadline(change)
    assert (deadline.key, deadline.jurisdiction) == ("gudid_update", "US")
    assert "830.330" in deadline.label


def test_every_rule_has_a_jurisdiction_a_label_citing_a_source_and_a_basis():
    for key, (jurisdiction, label, basis) in clocks._RULES.items():
        assert jurisdiction in clocks.JURISDICTIONS, key
        assert "(" in label and label.endswith(")"), key
        assert basis and basis[0].isdigit(), key
