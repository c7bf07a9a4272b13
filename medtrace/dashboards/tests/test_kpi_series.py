"""KPIs per period (``trace.kpi_series``) on rows with known timestamps: the periods of a range,
trace-data completeness by the stage each unit reached, serial-binding accuracy from bindings,
retractions and refused captures, recall response, after-sales handling, the false-alarm rate
and the audit chain's status - and the few queries they take whatever the number of periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medtrace.alerts.models import Alert, PeriodicRun
from medtrace.audit.models import AuditCheckpoint
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.ledger.models import CaptureJob
from medtrace.masterdata.models import Party
from medtrace.quality.models import Release, ReleaseItem
from medtrace.recalls.models import RecallCampaign
from medtrace.service.models_lifecycle import ServiceTicket
from medtrace.trace import kpi_series, kpi_trace
from medtrace.trace.kpis import period_from
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db


def _series(start: date, end: date, granularity: str = "month") -> dict[str, Any]:
    return kpi_series.kpi_series(user=None, start=start, end=end, granularity=granularity)


def _by_period(series: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["period"]: p for p in series}


# Periods --------------------------------------------------------------------------------------


def test_weeks_run_monday_to_sunday_and_the_first_and_last_are_cut_to_the_range() -> None:
    period = period_from(date(2025, 3, 1), date(2025, 3, 16))  # a Saturday to a Sunday

    weeks = kpi_series.buckets(period, "week")

    assert [b.key for b in weeks] == ["2025-02-24", "2025-03-03", "2025-03-10"]
    assert weeks[0].as_dict() == {"period": "2025-02-24", "from": "2025-03-01", "to": "2025-03-02"}
    assert weeks[-1].as_dict()["to"] == "2025-03-16"


def test_months_cover_the_range_and_a_range_of_too_many_weeks_is_refused() -> None:
    months = kpi_series.buckets(period_from(date(2024, 12, 15), date(2025, 2, 3)), "month")
    assert [b.key for b in months] == ["2024-12", "2025-01", "2025-02"]

    with pytest.raises(ValidationFailed) as refused:
        kpi_series.buckets(period_from(date(2020, 1, 1), date(2025, 1, 1)), "week")
    assert refused.value.field == "granularity"
    with pytest.raises(ValidationFailed):
        kpi_series.kpi_series(user=None, granularity="day")


def test_partners_cannot_read_the_company_wide_series() -> None:
    w = f.world()
    from medtrace.distribution.tests.factories import user

    with pytest.raises(PermissionDenied):
        kpi_series.kpi_series(user=user("hosp_kpi", party=w.hospital))


# Trace-data completeness and binding accuracy -------------------------------------------------


def _release(epcs: list[str]) -> None:
    release = Release.objects.create(number="REL-T-1", released_at=datetime(2025, 3, 4, tzinfo=UTC))
    ReleaseItem.objects.bulk_create([ReleaseItem(release=release, target=e) for e in epcs])


def _trace_world() -> tuple[f.World, dict[str, str]]:
    """A: made 3 Mar, shipped unreleased (in transit); B: made 2 Mar, ours; C: made 4 Mar,
    released, shipped, received by the hospital; D: first seen 2 Apr at the hospital, never
    commissioned; P: a packing event (binding) on 7 Mar, retracted later; E: made 8 Mar,
    released, shipped and received on a pallet (in a case)."""
    w = f.world()
    a, b, c, d = (w.device_sn(s) for s in ("A", "B", "C", "D"))
    maker, hospital = w.pgln(w.maker), w.pgln(w.hospital)
    sent: dict[str, Any] = {
        "biz_step": "shipping",
        "disposition": "in_transit",
        "sources": [("possessing_party", maker)],
        "destinations": [("possessing_party", hospital)],
    }
    f.capture(
        f.commission([b], f.t(2)),
        f.commission([a], f.t(3)),
        f.commission([c], f.t(4)),
    )
    _release([c])
    packing = f.aggregate(w.sscc(1), [b], f.t(7), location=w.warehouse.sgln)
    f.capture(
        f.obj([a], f.t(5), **sent),
        f.obj([c], f.t(5), **sent),
        f.obj(
            [c],
            f.t(6),
            biz_step="receiving",
            disposition="in_progress",
            destinations=[("possessing_party", hospital)],
        ),
        packing,
    )
    f.capture(f.retract(packing, f.t(9)))
    # E: made 8 Mar, released, packed in a case on a pallet; the pallet shipped and received
    e, case, pallet = w.device_sn("E"), w.sscc(2), w.sscc(3)
    f.capture(f.commission([e], f.t(8)))
    Release.objects.create(number="REL-T-2", released_at=datetime(2025, 3, 8, tzinfo=UTC))
    ReleaseItem.objects.create(release=Release.objects.get(number="REL-T-2"), target=e)
    f.capture(
        f.aggregate(case, [e], f.t(10), location=w.warehouse.sgln),
        f.aggregate(pallet, [case], f.t(10, 10), location=w.warehouse.sgln),
        f.obj([pallet], f.t(11), **sent),
        f.obj(
            [pallet],
            f.t(12),
            biz_step="receiving",
            disposition="in_progress",
            destinations=[("possessing_party", hospital)],
        ),
    )
    f.capture(
        f.obj(
            [d],
            "2025-04-02T10:00:00+08:00",
            destinations=[("possessing_party", hospital)],
            location=w.ward.sgln,
        )
    )
    return w, {"A": a, "B": b, "C": c, "D": d, "E": e}


def test_completeness_requires_of_each_unit_only_the_nodes_of_the_stage_it_reached() -> None:
    _trace_world()

    data = _series(date(2025, 3, 1), date(2025, 4, 30))["trace_completeness"]

    march, april = _by_period(data["series"])["2025-03"], _by_period(data["series"])["2025-04"]
    assert (march["units"], march["complete"], march["rate"]) == (4, 3, 0.75)
    assert march["missing"] == {"commissioning": 0, "release": 1, "shipment": 0, "receipt": 0}
    assert (april["units"], april["complete"], april["rate"]) == (1, 0, 0.0)
    assert april["missing"] == {"commissioning": 1, "release": 1, "shipment": 1, "receipt": 1}
    assert (data["units"], data["complete"]) == (5, 3)
    gaps = {
        u["serial"]: u["missing"]
        for u in kpi_trace.incomplete_units(period_from(date(2025, 3, 1), date(2025, 4, 30)))
    }
    assert gaps == {"A": ["release"], "D": ["commissioning", "release", "shipment", "receipt"]}


def test_binding_accuracy_counts_refused_captures_and_retracted_bindings() -> None:
    _trace_world()
    job = CaptureJob.objects.create(event_count=3, captured_count=1, running=False)
    CaptureJob.objects.filter(pk=job.pk).update(created_at=datetime(2025, 3, 10, 2, tzinfo=UTC))

    data = _series(date(2025, 3, 1), date(2025, 4, 30))["serial_binding_accuracy"]

    march = _by_period(data["series"])["2025-03"]
    # 4 commissionings + 3 packings; one packing retracted; 2 events of a capture refused
    assert (march["bindings"], march["corrected"], march["refused"]) == (7, 1, 2)
    assert march["rate"] == 0.6667
    assert _by_period(data["series"])["2025-04"]["rate"] is None


def test_the_series_by_week_puts_each_unit_in_the_week_it_was_made() -> None:
    _trace_world()

    data = _series(date(2025, 3, 1), date(2025, 3, 16), "week")["trace_completeness"]

    weeks = _by_period(data["series"])
    assert weeks["2025-02-24"]["units"] == 1  # cut to 1-2 March: B, made Sunday the 2nd
    assert weeks["2025-03-03"]["units"] == 3  # A, C, E
    assert weeks["2025-03-10"]["units"] == 0


# Recall response, after-sales, false alarms, audit chain -------------------------------------

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def _campaign(number: str, **fields: object) -> RecallCampaign:
    return RecallCampaign.objects.create(
        number=number, title="t", reason="r", status="open", scope_kind="lot", **fields
    )


def test_each_recall_leg_counts_in_the_period_it_ended() -> None:
    _campaign(
        "RC-S1",
        decision_at=T0,
        opened_at=T0,
        all_notified_at=T0 + timedelta(hours=6),
        all_acknowledged_at=T0 + timedelta(days=40),
    )
    _campaign("RC-S2", decision_at=T0, opened_at=T0, all_notified_at=T0 + timedelta(hours=10))
    _campaign("RC-S3", decision_at=T0, opened_at=T0)  # still notifying
    _campaign("RC-D", drill=True, opened_at=T0, all_notified_at=T0 + timedelta(hours=2))

    data = _series(date(2025, 3, 1), date(2025, 4, 30))["recall_response_time"]

    march, april = _by_period(data["series"])["2025-03"], _by_period(data["series"])["2025-04"]
    assert march["decision_to_all_notified"] == {
        "count": 2,
        "median_hours": 8.0,
        "mean_hours": 8.0,
    }
    assert march["all_notified_to_all_acknowledged"]["count"] == 0
    assert april["all_notified_to_all_acknowledged"]["median_hours"] == 954.0
    assert march["drills"]["median_hours"] == 2.0
    assert data["running"] == 1


def test_after_sales_handling_is_the_median_of_the_tickets_resolved_in_each_period() -> None:
    for i, hours in enumerate((10, 20, 60)):
        ServiceTicket.objects.create(
            number=f"ST-{i}",
            unit_epc=f"urn:epc:id:sgtin:0950600.013435.S{i}",
            symptom="x",
            opened_at=T0,
            resolved_at=T0 + timedelta(hours=hours),
            status="resolved",
            test_result="pass",
        )
    ServiceTicket.objects.create(
        number="ST-open", unit_epc="urn:epc:id:sgtin:0950600.013435.S9", symptom="x", opened_at=T0
    )

    data = _series(date(2025, 3, 1), date(2025, 3, 31))["after_sales_handling_time"]

    assert data["series"][0] == {
        "period": "2025-03",
        "from": "2025-03-01",
        "to": "2025-03-31",
        "count": 3,
        "median_hours": 20.0,
        "mean_hours": 30.0,
    }
    assert data["running"] == 1


def _alert(status: str, at: datetime, kind: str = "qc_failure") -> Alert:
    alert = Alert.objects.create(kind=kind, title="a", recipient_role="qa_ra", status=status)
    Alert.objects.filter(pk=alert.pk).update(created_at=at)
    return alert


def test_the_false_alarm_rate_of_each_period_is_dismissed_over_concluded() -> None:
    for status in ("dismissed", "resolved", "resolved", "resolved", "open"):
        _alert(status, T0)
    _alert("dismissed", T0 + timedelta(days=31))

    data = _series(date(2025, 3, 1), date(2025, 4, 30))["alert_false_alarm_rate"]

    march, april = _by_period(data["series"])["2025-03"], _by_period(data["series"])["2025-04"]
    assert (march["alerts"], march["open"], march["dismissed_false"], march["rate"]) == (
        5,
        1,
        1,
        0.25,
    )
    assert april["rate"] == 1.0


def test_the_audit_chain_status_follows_the_last_verification_and_live_failure_alerts() -> None:
    AuditCheckpoint.objects.create(
        seq=0, hash="0" * 64, at=T0, public_key="k", signature="s", created_by="qa"
    )
    assert kpi_series.kpi_series(user=None)["audit_chain"]["state"] == "not_verified"
    PeriodicRun.objects.create(
        name="rule:audit_chain_failed",
        last_finished_at=T0,
        last_result="audit_chain_failed: verified 12 entries, 3 captures",
    )

    data = _series(date(2025, 3, 1), date(2025, 3, 31))["audit_chain"]
    assert data["state"] == "verified"
    assert data["last_verification"]["at"] == T0
    assert data["checkpoints"] == 1 and data["series"][0]["checkpoints"] == 1

    _alert("open", T0, kind="audit_chain_failed")
    data = _series(date(2025, 3, 1), date(2025, 3, 31))["audit_chain"]
    assert data["state"] == "failed"
    assert data["series"][0]["failed_verifications"] == 1


def test_the_series_take_the_same_few_queries_for_three_or_fifty_two_periods() -> None:
    _trace_world()

    def queries(start: date, end: date, granularity: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            _series(start, end, granularity)
        return len(ctx.captured_queries)

    few = queries(date(2025, 3, 1), date(2025, 3, 16), "week")
    many = queries(date(2024, 4, 1), date(2025, 3, 30), "week")

    assert few == many
    assert many <= 25


def test_parties_other_than_ours_are_what_counts_as_out_of_our_hands() -> None:
    # The maker's own identifiers (our_ids) are the reference: a unit it holds is not away.
    w, _units = _trace_world()
    assert Party.objects.filter(pk=w.maker.pk, role="manufacturer").exists()
    gaps = {
        u["serial"]
        for u in kpi_trace.incomplete_units(period_from(date(2025, 3, 1), date(2025, 3, 31)))
    }
    assert "B" not in gaps and "C" not in gaps and "E" not in gaps
