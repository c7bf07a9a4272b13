"""Rule duplicate_scan: one serial captured at two sites within the window is a suspected
duplicate; further apart, within one site, retracted, or with the rule off it is not; a pair
alerts once."""

from __future__ import annotations

from datetime import timedelta
from datetime import timezone as tz
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule, AlertStatus
from medtrace.alerts.rules_scans import duplicate_scan_evaluate
from medtrace.masterdata.tests import factories as md
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db

CST = tz(timedelta(hours=8))


@pytest.fixture
def w(db: None) -> f.World:
    return f.world()


def _at(minutes: float) -> str:
    """A time ``minutes`` after an hour ago, as EPCIS writes it (Beijing time)."""
    moment = timezone.now() - timedelta(hours=1) + timedelta(minutes=minutes)
    return moment.astimezone(CST).isoformat(timespec="seconds")


def _made(w: f.World, serial: str) -> str:
    epc = w.device_sn(serial)
    f.capture(f.commission([epc], _at(-600), location=w.warehouse.sgln))
    return epc


def _seen(epc: str, minutes: float, place: str, **kw: Any) -> dict[str, Any]:
    event = f.obj([epc], _at(minutes), read_point=place, location=place, **kw)
    f.capture(event)
    return event


def _alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="duplicate_scan").order_by("pk"))


def test_a_serial_seen_at_two_sites_minutes_apart_is_a_suspected_duplicate(w: f.World) -> None:
    epc = _made(w, "SN-1")
    first = _seen(epc, 0, w.warehouse.sgln, biz_step="inspecting")
    second = _seen(epc, 3, w.ward.sgln, biz_step="receiving")

    result = duplicate_scan_evaluate()

    (alert,) = _alerts()
    assert (alert.recipient_role, alert.severity) == ("qa_ra", "critical")
    assert alert.object_type == "unit" and alert.object_id == epc
    e = alert.evidence
    assert e["epc"] == epc and e["serial"] == "SN-1" and e["window_minutes"] == 10
    (pair,) = e["pairs"]
    assert pair["first"]["event_id"] == first["eventID"]
    assert pair["second"]["event_id"] == second["eventID"]
    assert pair["first"]["place_name"] == "FG warehouse" and pair["second"]["place_name"] == "ICU"
    assert pair["minutes"] == 3.0
    assert "SN-1 seen at FG warehouse and at ICU 3.0 minutes apart" in alert.title
    assert result.endswith("1 new alerts")

    duplicate_scan_evaluate()
    assert len(_alerts()) == 1  # the same pair: no second alert
    Alert.objects.update(status=AlertStatus.RESOLVED)
    duplicate_scan_evaluate()
    assert len(_alerts()) == 1  # not even after QA concluded it

    _seen(epc, 5, w.dist_site.sgln)  # sighted again elsewhere: news
    duplicate_scan_evaluate()
    assert len(_alerts()) == 2


def test_sightings_further_apart_than_the_window_are_a_journey(w: f.World) -> None:
    epc = _made(w, "SN-1")
    _seen(epc, 0, w.warehouse.sgln)
    _seen(epc, 45, w.ward.sgln)

    duplicate_scan_evaluate()
    assert _alerts() == []

    AlertRule.objects.filter(kind="duplicate_scan").update(threshold=Decimal(60))
    duplicate_scan_evaluate()
    assert len(_alerts()) == 1  # a wider window makes the same journey suspect


def test_two_places_of_one_site_are_the_same_place(w: f.World) -> None:
    dock = md.location(owner=w.maker, kind="warehouse", name="Dock", parent_id=w.warehouse.pk)
    epc = _made(w, "SN-1")
    _seen(epc, 0, w.warehouse.sgln)
    _seen(epc, 1, dock.sgln)

    duplicate_scan_evaluate()

    assert _alerts() == []


def test_a_retracted_sighting_does_not_count(w: f.World) -> None:
    epc = _made(w, "SN-1")
    _seen(epc, 0, w.warehouse.sgln)
    wrong = _seen(epc, 2, w.ward.sgln)
    f.capture(f.retract(wrong, _at(30)))

    duplicate_scan_evaluate()

    assert _alerts() == []


def test_a_disabled_rule_looks_for_nothing(w: f.World) -> None:
    epc = _made(w, "SN-1")
    _seen(epc, 0, w.warehouse.sgln)
    _seen(epc, 2, w.ward.sgln)
    AlertRule.objects.filter(kind="duplicate_scan").update(enabled=False)

    assert schedule.run_due(only="rule:duplicate_scan") == {
        "rule:duplicate_scan": "duplicate_scan: disabled"
    }
    assert _alerts() == []


def test_old_captures_are_not_evaluated_again(w: f.World) -> None:
    epc = _made(w, "SN-1")
    _seen(epc, 0, w.warehouse.sgln)
    _seen(epc, 2, w.ward.sgln)

    duplicate_scan_evaluate(now=timezone.now() + timedelta(hours=3))

    assert _alerts() == []


def test_the_scan_evaluation_costs_the_same_queries_for_many_units(w: f.World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def suspects(serials: list[str], start: float) -> None:
        epcs = [w.device_sn(s) for s in serials]
        f.capture(f.commission(epcs, _at(start), location=w.warehouse.sgln))
        f.capture(f.obj(epcs, _at(start + 2), read_point=w.ward.sgln, location=w.ward.sgln))

    suspects(["A1"], 0)
    duplicate_scan_evaluate()
    with CaptureQueriesContext(connection) as one:
        duplicate_scan_evaluate()
    suspects([f"B{n}" for n in range(30)], 20)
    duplicate_scan_evaluate()
    with CaptureQueriesContext(connection) as thirty:
        duplicate_scan_evaluate()

    assert len(_alerts()) == 31  # one per unit
    assert len(thirty) == len(one), "set-based: no query per unit or sighting"
