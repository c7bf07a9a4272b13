"""The conditions API: profiles, station readings, logger import, records; scopes and partners."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from medtrace.accounts.models import User
from medtrace.conditions.models import ConditionProfile, ConditionRecord
from medtrace.quality.models import Hold
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db

READ = ["lifecycle:read"]
ALL = ["lifecycle:read", "masterdata:write", "warehouse:write", "production:write"]


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def _station(w: f.World, targets: list[str], *readings: dict[str, Any], **kw: Any) -> dict:
    body: dict[str, Any] = {
        "phase": "storage",
        "device": "ST-01",
        "location": w.warehouse.sgln,
        "targets": targets,
        "readings": list(readings),
    }
    body.update(kw)
    return body


def test_qa_sets_limits_and_changes_them_with_a_reason(
    w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    client = api_client(qa_manager, ALL)

    created = _post(
        client,
        "/api/v1/conditions/profiles",
        {"product_id": w.device.pk, "phase": "storage", "temperature_min": 2,
         "temperature_max": 8, "basis": "IFU §9"},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["limits"], body["active"]) == ("2–8 °C", True)
    url = f"/api/v1/conditions/profiles/{body['id']}"

    unexplained = client.put(url, json.dumps({"temperature_max": 10}), "application/json")
    assert unexplained.status_code == 422 and unexplained.json()["field"] == "reason"
    changed = client.put(
        url, json.dumps({"humidity_max": 60, "reason": "IFU rev B"}), "application/json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["limits"] == "2–8 °C, ≤ 60 %RH"
    listed = client.get("/api/v1/conditions/profiles", {"product_id": w.device.pk}).json()
    assert [p["id"] for p in listed] == [body["id"]]


def test_a_profile_with_crossed_limits_is_422_naming_the_field(
    w: f.World, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    response = _post(
        api_client(qa_manager, ALL),
        "/api/v1/conditions/profiles",
        {"product_id": w.device.pk, "phase": "storage", "humidity_min": 70, "humidity_max": 60},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "humidity_max"
    assert "the maximum 60.00 is below the minimum 70.00" in response.json()["message"]
    assert ConditionProfile.objects.count() == 0


def test_a_warehouse_clerk_may_not_set_limits(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    response = _post(
        api_client(warehouse_clerk, ALL),
        "/api/v1/conditions/profiles",
        {"product_id": w.device.pk, "phase": "storage", "temperature_max": 8},
    )

    assert response.status_code == 403
    assert "conditions.add_conditionprofile" in response.json()["message"]


def test_a_station_posts_readings_and_the_event_round_trips_through_epcis(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    units = cf.commission(w, "API1")
    cf.profile(w.device, "storage", temperature_min=2, temperature_max=8)
    client = api_client(warehouse_clerk, [*ALL, "epcis:query"])

    response = _post(
        client,
        "/api/v1/conditions/readings",
        _station(
            w, units,
            {"time": "2026-03-05T10:00:00+08:00", "type": "temperature", "value": 9.2},
            {"time": "2026-03-05T10:00:00+08:00", "type": "humidity", "value": 51},
        ),
    )  # fmt: skip

    assert response.status_code == 201, response.content
    body = response.json()
    [excursion] = body["excursions"]
    assert excursion["text"].startswith("Temperature 9.2 °C (limit 2–8 °C) — excursion NC-")
    assert excursion["targets"] == units and body["nonconformances"] == [
        excursion["nonconformance"]
    ]
    assert Hold.objects.filter(target=units[0], lifted_at__isnull=True).exists()
    epcis = client.get("/epcis/events/" + quote(body["event_id"], safe=""))
    assert epcis.status_code == 200, epcis.content
    [event] = epcis.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["eventID"] == body["event_id"]
    assert event["type"] == "ObjectEvent" and event["bizStep"] == "storing"
    assert event["sensorElementList"] == [
        {
            "sensorMetadata": {
                "time": "2026-03-05T10:00:00.000+08:00",
                "deviceID": "urn:medtrace:device:ST-01",
            },
            "sensorReport": [
                {"type": "Temperature", "value": 9.2, "uom": "CEL"},
                {"type": "RelativeHumidity", "value": 51, "uom": "P1"},
            ],
        }
    ]
    record = client.get(f"/api/v1/conditions/records/{body['number']}").json()
    assert record["excursions"] == body["excursions"]


def test_station_readings_need_the_scope_of_the_phase(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    units = cf.commission(w, "API2")
    client = api_client(warehouse_clerk, ["lifecycle:read", "warehouse:write"])
    reading = {"time": "2026-03-05T10:00:00+08:00", "type": "temperature", "value": 20}

    production = _post(
        client, "/api/v1/conditions/readings", _station(w, units, reading, phase="production")
    )
    storage = _post(client, "/api/v1/conditions/readings", _station(w, units, reading))

    assert production.status_code == 403
    assert production.json()["details"]["required_scope"] == "production:write"
    assert storage.status_code == 201


def test_a_bad_reading_is_422_naming_its_field(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    units = cf.commission(w, "API3")

    response = _post(
        api_client(warehouse_clerk, ALL),
        "/api/v1/conditions/readings",
        _station(w, units, {"time": "2026-03-05 10:00", "type": "temperature", "value": -300}),
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "readings[0].value"
    assert "is not a plausible temperature" in body["message"]
    assert ConditionRecord.objects.count() == 0


def test_a_logger_file_is_dry_run_then_imported(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    units = cf.commission(w, "API4", "API5")
    cf.profile(w.device, "transport", temperature_max=25)
    client = api_client(warehouse_clerk, ALL)
    content = b"time,temperature\n2026-03-10 08:00,20\n2026-03-10 08:05,27.5\n"

    def send(dry_run: bool) -> Any:
        return client.post(
            "/api/v1/conditions/import",
            {
                "file": SimpleUploadedFile("trip.csv", content, "text/csv"),
                "phase": "transport",
                "device": "LOG-9",
                "targets": "\n".join(units),
                "dry_run": "true" if dry_run else "false",
            },
        )

    dry = send(True)
    assert dry.status_code == 200, dry.content
    assert dry.json()["ok"] and dry.json()["records"] == []
    assert dry.json()["groups"][0]["excursions"][0].startswith("Temperature 27.5 °C at ")
    assert ConditionRecord.objects.count() == 0

    real = send(False)
    assert real.status_code == 201, real.content
    [record] = real.json()["records"]
    assert record["source"] == "import" and record["attachment"]["name"] == "trip.csv"
    assert record["excursions"][0]["nonconformance"]


def test_an_import_with_bad_rows_is_422_with_every_row_listed(
    w: f.World, warehouse_clerk: User, api_client: Callable[..., Client]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    units = cf.commission(w, "API6")
    response = api_client(warehouse_clerk, ALL).post(
        "/api/v1/conditions/import",
        {
            "file": SimpleUploadedFile("x.csv", b"time,humidity\nnow,50\n2026-03-10 08:00,x\n"),
            "phase": "storage",
            "location": w.warehouse.code,
            "targets": units[0],
        },
    )

    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "file"
    assert [(d["row"], d["field"]) for d in body["details"]] == [(2, "time"), (3, "humidity")]


def test_a_partner_sees_no_condition_records(
    w: f.World,
    warehouse_clerk: User,
    hospital_a: User,
    api_client: Callable[..., Client],
) -> None:
    units = cf.commission(w, "API7")
    client = api_client(warehouse_clerk, ALL)
    body = _station(w, units, {"time": "2026-03-05T10:00:00+08:00", "type": "temperature",
                               "value": 20})  # fmt: skip
    number = _post(client, "/api/v1/conditions/readings", body).json()["number"]
    partner = api_client(hospital_a, ["lifecycle:read"])

    assert partner.get("/api/v1/conditions/records").json() == []
    assert partner.get(f"/api/v1/conditions/records/{number}").status_code == 404
    assert partner.get("/api/v1/conditions/profiles").json() == []
    assert partner.get("/api/v1/conditions/excursions").json() == []
