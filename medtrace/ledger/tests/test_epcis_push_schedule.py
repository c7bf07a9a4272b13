"""Query times of a subscription schedule (EPCIS 2.0 §8.2.5.3), in a given time zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from medtrace.ledger.epcis_push_schedule import ScheduleError, next_run

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def local(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def runs(schedule: dict[str, Any], after: str, count: int, zone: ZoneInfo = SHANGHAI) -> list[str]:
    out: list[str] = []
    moment = local(after, zone)
    for _ in range(count):
        found = next_run(schedule, moment, zone=zone)
        assert found is not None
        moment = found
        out.append(found.astimezone(zone).replace(tzinfo=None).isoformat())
    return out


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        # §8.2.5.3 example 1: once per hour, at the top of the hour.
        ({"second": "0", "minute": "0"}, "2026-03-02T10:20:00",
         ["2026-03-02T11:00:00", "2026-03-02T12:00:00", "2026-03-02T13:00:00"]),
        # Example 2: once per day at 2:30 am.
        ({"second": "0", "minute": "30", "hour": "2"}, "2026-03-02T02:30:00",
         ["2026-03-03T02:30:00", "2026-03-04T02:30:00"]),
        # Example 3: hourly on weekdays only (2026-03-06 is a Friday).
        ({"second": "0", "minute": "0", "dayOfWeek": "[1-5]"}, "2026-03-06T22:30:00",
         ["2026-03-06T23:00:00", "2026-03-09T00:00:00", "2026-03-09T01:00:00"]),
        # The REST binding's example: every morning at 1.05 (omitted finer fields: 0).
        ({"hour": "1", "minute": "5"}, "2026-03-02T01:05:00",
         ["2026-03-03T01:05:00", "2026-03-04T01:05:00"]),
        # Every second of an hour, asked for explicitly (example 4's reading).
        ({"second": "[0-59]", "minute": "[0-59]", "hour": "2"}, "2026-03-02T02:59:58",
         ["2026-03-02T02:59:59", "2026-03-03T02:00:00"]),
        # Lists and ranges; the month rolls over; 31 is skipped where a month has none.
        ({"second": "0", "minute": "0,30", "hour": "[8-9]", "dayOfMonth": "31"},
         "2026-03-31T09:30:00", ["2026-05-31T08:00:00", "2026-05-31T08:30:00"]),
        # Day of month AND day of week: a Friday the 13th.
        ({"dayOfMonth": "13", "dayOfWeek": "5"}, "2026-03-01T00:00:00",
         ["2026-03-13T00:00:00", "2026-11-13T00:00:00"]),
        # Only a month: its first day at midnight; the year rolls over.
        ({"month": "1"}, "2026-03-01T00:00:00", ["2027-01-01T00:00:00", "2028-01-01T00:00:00"]),
    ],
)  # fmt: skip
def test_the_next_query_times_of_a_schedule(
    schedule: dict[str, Any], after: str, expected: list[str]
) -> None:
    assert runs(schedule, after, len(expected)) == expected


def test_a_rare_schedule_is_found_years_ahead() -> None:
    # 29 February on a Monday: 2044 after 2026.
    schedule = {"dayOfMonth": "29", "month": "2", "dayOfWeek": "1"}
    assert runs(schedule, "2026-03-01T00:00:00", 1) == ["2044-02-29T00:00:00"]


def test_a_schedule_with_no_date_at_all_has_no_query_time() -> None:
    after = local("2026-03-01T00:00:00")
    assert next_run({"dayOfMonth": "30", "month": "2"}, after, zone=SHANGHAI) is None
    assert next_run({"dayOfMonth": "31", "month": "4,6,9,11"}, after, zone=SHANGHAI) is None


def test_the_next_time_is_strictly_after_even_within_the_same_second() -> None:
    after = local("2026-03-02T11:00:00.250000")
    found = next_run({"second": "0", "minute": "0"}, after, zone=SHANGHAI)
    assert found is not None and found.astimezone(SHANGHAI).hour == 12


def test_a_local_time_skipped_by_daylight_saving_is_no_query_time() -> None:
    # Berlin, 2026-03-29: 02:00 jumps to 03:00, so 02:30 does not exist that day.
    assert runs({"second": "0", "minute": "30", "hour": "2"}, "2026-03-28T12:00:00", 2, BERLIN) == [
        "2026-03-30T02:30:00",
        "2026-03-31T02:30:00",
    ]


def test_a_local_time_repeated_by_daylight_saving_is_a_query_time_once() -> None:
    # Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    schedule = {"second": "0", "minute": "30", "hour": "2"}
    after = local("2026-10-25T00:00:00", BERLIN)
    first = next_run(schedule, after, zone=BERLIN)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = next_run(schedule, first, zone=BERLIN)
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # the next day, 02:30 CET
    # Hourly: 01:00 CEST, 02:00 CEST, then 03:00 CET; the repeated 02:00 (CET) is not run.
    hourly = {"second": "0", "minute": "0"}
    moment, times = after, []
    for _ in range(3):
        found = next_run(hourly, moment, zone=BERLIN)
        assert found is not None
        times.append(found.astimezone(UTC).strftime("%d %H:%M"))
        moment = found
    assert times == ["24 23:00", "25 00:00", "25 02:00"]


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"hour": "24"}, "hour"),
        ({"minute": "[30-10]"}, "minute"),
        ({"dayOfWeek": "0"}, "dayOfWeek"),
        ({"second": "*/5"}, "second"),
        ({"week": "1"}, "week"),
        ({}, "schedule"),
    ],
)
def test_a_malformed_schedule_names_its_field(schedule: dict[str, Any], field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        next_run(schedule, datetime(2026, 1, 1, tzinfo=UTC), zone=SHANGHAI)
    assert caught.value.field == field


@pytest.mark.django_db
def test_a_subscription_whose_schedule_never_matches_is_refused(qa_manager: Any) -> None:
    from .test_epcis_query_support import epcis_client

    client = epcis_client(qa_manager)
    made = client.post(
        "/epcis/queries",
        json.dumps({"name": "all", "query": {}}),
        content_type="application/json",
    )
    assert made.status_code == 201
    response = client.post(
        "/epcis/queries/all/subscriptions",
        json.dumps(
            {"dest": "https://c.example.com/cb", "schedule": {"dayOfMonth": "30", "month": "2"}}
        ),
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "epcisException:SubscriptionControlsException"
    assert "matches no date" in body["title"]
