"""Stock counts: what was physically found at a location against what the ledger says."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.alerts.models import Alert
from medtrace.errors import Conflict
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.warehouse import selectors, services
from medtrace.warehouse.models import StockCountLine

from .factories import Site, make, site

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Site:
    return site()


def _results(rec: selectors.Reconciliation) -> dict[str, list[str]]:
    return {
        "matched": sorted(r.label for r in rec.matched),
        "missing": sorted(r.label for r in rec.missing),
        "unexpected": sorted(r.label for r in rec.unexpected),
    }


def _scene(s: Site, clerk: Any) -> Any:
    """Bin A01 per the ledger: a closed case with C1, C2 and loose L1, L2; B02 has B1."""
    units = make(s, "C1", "C2", "L1", "L2")
    make(s, "B1", at=s.b02)
    case = services.container_create(user=clerk)
    services.container_pack(container=case, children=units[:2], user=clerk, close=True)
    return case


def test_reconciling_finds_matched_missing_and_unexpected_with_where_the_ledger_has_it(
    s: Site, warehouse_clerk: Any
) -> None:
    case = _scene(s, warehouse_clerk)
    count = services.stock_count_create(location=s.a01, user=warehouse_clerk)

    # the clerk finds the closed case (its units count with it), L1, and B1 (ledger: B02)
    services.stock_count_scan(count=count, scans=[case.sscc, "L1"], user=warehouse_clerk)
    services.stock_count_scan(count=count, scans=["B1", "L1"], user=warehouse_clerk)

    rec = selectors.stock_count_preview(count)
    assert _results(rec) == {
        "matched": ["C1", "C2", "L1", f"SSCC {case.sscc}"],
        "missing": ["L2"],
        "unexpected": ["B1"],
    }
    (b1,) = rec.unexpected
    assert b1.where == f"{s.b02.code} {s.b02.name}"
    assert count.scans.count() == 3  # L1 twice is one find


def test_posting_observes_what_was_found_and_flags_what_is_missing_without_changing_it(
    s: Site, warehouse_clerk: Any
) -> None:
    case = _scene(s, warehouse_clerk)
    l2_before = UnitState.objects.get(epc=s.sn("L2"))
    count = services.stock_count_create(location=s.store, user=warehouse_clerk)
    services.stock_count_scan(count=count, scans=[case.sscc, "L1", "B1"], user=warehouse_clerk)

    posted = services.stock_count_reconcile(count=count, user=warehouse_clerk)

    assert (posted.status, posted.matched, posted.missing, posted.unexpected) == (
        "reconciled",
        5,
        1,
        0,
    )  # fmt: skip  (the warehouse count includes both bins: B1 is where it belongs)
    events = Event.objects.filter(biz_step="cycle_counting").order_by("pk")
    by_location = {e.biz_location: e.document["epcList"] for e in events}
    # found items keep their bin: A01 for the case and L1, B02 for B1
    assert by_location == {s.a01.sgln: [case.epc, s.sn("L1")], s.b02.sgln: [s.sn("B1")]}
    assert {e.read_point for e in events} == {s.store.sgln}
    l2 = UnitState.objects.get(epc=s.sn("L2"))
    assert (l2.biz_location, l2.last_event_id) == (l2_before.biz_location, l2_before.last_event_id)
    line = StockCountLine.objects.get(count=count, serial="L2")
    assert line.result == "missing" and not line.observed
    alert = Alert.objects.get(kind="stock_count_discrepancy")
    assert alert.recipient_role == "warehouse"
    assert f"{count.number}" in alert.title and "1 missing, 0 unexpected" in alert.title
    assert alert.evidence["missing"] == [s.sn("L2")]
    with pytest.raises(Conflict, match="already reconciled"):
        services.stock_count_scan(count=count, scans=["L2"], user=warehouse_clerk)


def test_an_unexpected_find_is_recorded_here_and_a_unit_in_transit_is_not_observed(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "B1", at=s.b02)
    (gone,) = make(s, "T1")
    ev.emit(
        [ev.object_event(epcs=[gone], biz_step="shipping", disposition="in_transit")], user=None
    )
    count = services.stock_count_create(location=s.a01, user=warehouse_clerk)
    services.stock_count_scan(count=count, scans=["B1", "T1"], user=warehouse_clerk)

    posted = services.stock_count_reconcile(count=count, user=warehouse_clerk)

    assert (posted.matched, posted.missing, posted.unexpected) == (0, 0, 2)
    assert UnitState.objects.get(epc=s.sn("B1")).biz_location == s.a01.sgln
    assert UnitState.objects.get(epc=gone).disposition == "in_transit"
    lines = {line.serial: line for line in StockCountLine.objects.filter(count=count)}
    assert lines["B1"].observed and lines["B1"].ledger_where == f"{s.b02.code} {s.b02.name}"
    assert not lines["T1"].observed and lines["T1"].ledger_where == "in transit"
    assert "state machine refuses to move it" in lines["T1"].note
    assert Alert.objects.filter(kind="stock_count_discrepancy").count() == 1


def test_a_count_that_matches_raises_no_alert(s: Site, warehouse_clerk: Any) -> None:
    make(s, "B1", at=s.b02)
    count = services.stock_count_create(location=s.b02, user=warehouse_clerk)
    services.stock_count_scan(count=count, scans=["B1"], user=warehouse_clerk)

    posted = services.stock_count_reconcile(count=count, user=warehouse_clerk)

    assert (posted.matched, posted.missing, posted.unexpected) == (1, 0, 0)
    assert not Alert.objects.exists()
