"""The conditions pages: scan station, logger import, record page, limits."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from medtrace.accounts.models import User
from medtrace.conditions.models import ConditionProfile, ConditionRecord
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def _station(w: f.World, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "phase": "storage",
        "location": w.warehouse.sgln,
        "device": "TH-01",
        "scan": "",
    }
    data.update(fields)
    return data


def test_the_station_scans_then_records_on_enter(w: f.World, warehouse_clerk: User) -> None:
    [unit] = cf.commission(w, "PG1")
    cf.profile(w.device, "storage", temperature_max=8)
    client = _client(warehouse_clerk)

    page = client.get("/conditions/")
    assert page.status_code == 200
    assert 'id="scan" name="scan" autofocus' in page.content.decode()

    scanned = client.post("/conditions/", _station(w, scan=f"(01){w.gtin(w.device)}(21)PG1"))
    assert scanned.status_code == 200
    assert f'name="target" value="{unit}"' in scanned.content.decode()

    # Enter in the temperature box submits the first button ("scan") with an empty scan box.
    recorded = client.post(
        "/conditions/",
        _station(w, target=[unit], temperature="9.5", time="2026-03-05T10:00", action="scan"),
    )
    record = ConditionRecord.objects.get()
    assert recorded.status_code == 302
    assert recorded["Location"] == f"/conditions/records/{record.number}/?recorded=1"
    shown = client.get(recorded["Location"]).content.decode()
    assert "Temperature 9.5 °C (limit ≤ 8 °C) — excursion NC-" in shown
    assert record.event.document["sensorElementList"][0]["sensorMetadata"]["time"] == (
        "2026-03-05T10:00:00.000+08:00"
    )


def test_a_bad_scan_is_shown_next_to_the_scan_box(w: f.World, warehouse_clerk: User) -> None:
    response = _client(warehouse_clerk).post("/conditions/", _station(w, scan="(01)123"))

    assert response.status_code == 422
    assert 'class="error" role="alert"' in response.content.decode()
    assert ConditionRecord.objects.count() == 0


def test_pasted_readings_with_a_bad_line_are_refused_naming_it(
    w: f.World, warehouse_clerk: User
) -> None:
    [unit] = cf.commission(w, "PG2")

    response = _client(warehouse_clerk).post(
        "/conditions/",
        _station(w, target=[unit], paste="2026-03-05 10:00,5,40\n2026-03-05 10:05,hot,40",
                 action="record"),
    )  # fmt: skip

    assert response.status_code == 422
    assert "row 2, temperature: &#x27;hot&#x27; is not a number" in response.content.decode()
    assert ConditionRecord.objects.count() == 0


def test_a_logger_file_is_checked_then_imported_without_uploading_it_again(
    w: f.World, warehouse_clerk: User
) -> None:
    [unit] = cf.commission(w, "PG3")
    client = _client(warehouse_clerk)
    content = b"time,temperature,humidity\n2026-03-10 08:00,5,40\n2026-03-10 08:05,6,41\n"

    dry = client.post(
        "/conditions/import/",
        {"file": SimpleUploadedFile("t.csv", content), "phase": "storage",
         "location": w.warehouse.sgln, "targets": unit, "dry_run": "on"},
    )  # fmt: skip
    html = dry.content.decode()
    assert dry.status_code == 200 and "No problems: press Import to store them." in html
    assert ConditionRecord.objects.count() == 0
    carried = html.split('name="carried" value="')[1].split('"')[0]
    sha = html.split('name="carried_sha256" value="')[1].split('"')[0]

    real = client.post(
        "/conditions/import/",
        {"carried": carried, "carried_name": "t.csv", "carried_sha256": sha,
         "phase": "storage", "location": w.warehouse.sgln, "targets": unit},
    )  # fmt: skip
    record = ConditionRecord.objects.get()
    assert real.status_code == 302 and record.reading_count == 4
    assert record.attachment is not None and record.attachment.name == "t.csv"


def test_an_import_with_bad_rows_lists_them(w: f.World, warehouse_clerk: User) -> None:
    [unit] = cf.commission(w, "PG4")

    response = _client(warehouse_clerk).post(
        "/conditions/import/",
        {"file": SimpleUploadedFile("t.csv", b"time,temperature\nsoon,5\n"), "phase": "storage",
         "location": w.warehouse.sgln, "targets": unit},
    )  # fmt: skip

    assert response.status_code == 422
    html = response.content.decode()
    assert "<td>2</td><td>time</td>" in html and "is not a date and time" in html


def test_a_partner_may_not_open_the_conditions_pages(hospital_a: User) -> None:
    client = _client(hospital_a)

    assert client.get("/conditions/").status_code == 403
    assert client.get("/conditions/profiles/").status_code == 403


def test_qa_adds_limits_and_changes_them_with_a_reason(w: f.World, qa_manager: User) -> None:
    client = _client(qa_manager)

    added = client.post(
        "/conditions/profiles/",
        {"product": w.device.pk, "phase": "storage", "temperature_min": "2",
         "temperature_max": "8", "basis": "IFU"},
    )  # fmt: skip
    profile = ConditionProfile.objects.get()
    assert added.status_code == 302

    no_reason = client.post(
        f"/conditions/profiles/{profile.pk}/",
        {"phase": "storage", "temperature_min": "2", "temperature_max": "10", "was_active": "1",
         "active": "on"},
    )  # fmt: skip
    assert no_reason.status_code == 422
    assert "give a reason" in no_reason.content.decode()

    changed = client.post(
        f"/conditions/profiles/{profile.pk}/",
        {"phase": "storage", "temperature_min": "2", "temperature_max": "10", "was_active": "1",
         "reason": "IFU rev B"},
    )  # fmt: skip
    profile.refresh_from_db()
    assert changed.status_code == 302
    assert (profile.temperature_max, profile.active) == (10, False)


def test_a_clerk_sees_limits_but_no_form_to_add_them(w: f.World, warehouse_clerk: User) -> None:
    cf.profile(w.device, "storage", temperature_max=8)

    page = _client(warehouse_clerk).get("/conditions/profiles/").content.decode()

    assert "≤ 8 °C" in page and 'name="temperature_max"' not in page
