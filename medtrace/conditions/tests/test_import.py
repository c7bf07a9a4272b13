"""Logger files: CSV and XLSX, dry run, per-row errors, all or nothing, one NC per unit set."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.conditions import services
from medtrace.conditions.models import ConditionRecord, Excursion
from medtrace.conditions.sensors import raw_data_uri
from medtrace.errors import ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_read
from medtrace.quality.models import Hold, Nonconformance
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _series(rows: int, *, hot: set[int] = frozenset(), start_minute: int = 0) -> bytes:  # type: ignore[assignment]
    lines = ["time,temperature,humidity"]
    for n in range(rows):
        minute = start_minute + n * 5
        value = 9.5 if n in hot else 5.0
        lines.append(f"2026-03-10 {8 + minute // 60:02d}:{minute % 60:02d},{value},55")
    return _csv(*lines)


def _import(w: f.World, user: Any, content: bytes, name: str = "logger.csv", **kw: Any):
    kw.setdefault("phase", "storage")
    kw.setdefault("device", "LOG-0042")
    kw.setdefault("location", w.warehouse.code)
    return services.readings_import(name=name, content=content, user=user, **kw)


def _stored() -> tuple[int, int, int, int, int, int]:
    return (
        ConditionRecord.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
        Nonconformance.objects.count(),
        Hold.objects.count(),
        Attachment.objects.count(),
    )


def test_a_logger_file_breaching_30_times_raises_one_nonconformance(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "M1", "M2")
    cf.profile(w.device, "storage", temperature_min=2, temperature_max=8)
    content = _series(40, hot=set(range(5, 35)))

    result = _import(w, warehouse_clerk, content, targets=units)

    assert result.ok and not result.dry_run and result.rows == 40
    [done] = result.recorded
    assert done.record.source == "import" and done.record.reading_count == 80
    [excursion] = done.excursions
    assert (excursion.readings, float(excursion.value), excursion.bound) == (30, 9.5, "max")
    assert (excursion.first_at, excursion.last_at) == (
        datetime(2026, 3, 10, 0, 25, tzinfo=UTC), datetime(2026, 3, 10, 2, 50, tzinfo=UTC),
    )  # fmt: skip
    nc = Nonconformance.objects.get()
    assert "(30 readings outside the limit from 2026-03-10 08:25:00 +0800 to " in nc.description
    assert Hold.objects.filter(source=nc.number).count() == 2
    # The file is kept, and the event names it by its SHA-256.
    sha = hashlib.sha256(content).hexdigest()
    assert done.record.attachment is not None and done.record.attachment.sha256 == sha
    assert attachment_read(done.record.attachment) == content
    elements = done.event.document["sensorElementList"]
    assert len(elements) == 1 + 40
    assert elements[0]["sensorMetadata"] == {
        "startTime": "2026-03-10T08:00:00.000+08:00",
        "endTime": "2026-03-10T11:15:00.000+08:00",
        "deviceID": "urn:medtrace:device:LOG-0042",
        "rawData": raw_data_uri(sha),
    }
    assert elements[0]["sensorReport"][0] == {
        "type": "Temperature", "minValue": 5, "maxValue": 9.5, "meanValue": 8.38, "uom": "CEL",
    }  # fmt: skip


def test_a_dry_run_reports_every_problem_by_row_and_field_and_stores_nothing(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "N1")
    before = _stored()
    content = _csv(
        "time,temperature,humidity",
        "2026-03-10 08:00,5.0,55",
        "2026-13-10 08:05,5.0,55",
        "2026-03-10 08:10,warm,55",
        "",
        "2026-03-10 08:15,,",
        "2026-03-10 08:20,5.0,120",
    )

    result = _import(w, warehouse_clerk, content, targets=units, dry_run=True)

    assert result.dry_run and not result.ok
    assert [(p.row, p.field) for p in result.problems] == [
        (3, "time"), (4, "temperature"), (6, "temperature"), (7, "humidity"),
    ]  # fmt: skip
    assert "'2026-13-10 08:05' is not a date and time" in result.problems[0].message
    assert result.problems[1].message == "'warm' is not a number"
    assert result.problems[2].message == (
        "no reading: the temperature and humidity cells are both empty"
    )
    assert result.blank_rows == [5]  # reported, not silently dropped
    assert _stored() == before


def test_a_file_with_one_bad_row_is_refused_whole(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "O1")
    before = _stored()
    content = _csv("time,temperature", "2026-03-10 08:00,5", "2026-03-10 08:05,x")

    with pytest.raises(ValidationFailed) as refused:
        _import(w, warehouse_clerk, content, targets=units)

    assert refused.value.field == "file"
    assert refused.value.message.startswith("Nothing was imported. row 3, temperature: ")
    assert refused.value.details == [
        {"field": "temperature", "message": "'x' is not a number", "row": 3, "value": "x"}
    ]
    assert _stored() == before


def test_a_dry_run_of_a_good_file_previews_the_excursions(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "P1")
    cf.profile(w.device, "storage", temperature_max=8)
    before = _stored()

    result = _import(w, warehouse_clerk, _series(4, hot={2}), targets=units, dry_run=True)

    assert result.ok and result.reading_count == 8
    [group] = result.groups
    [breach] = group.breaches
    assert (breach.readings, float(breach.value), breach.targets) == (1, 9.5, units)
    assert _stored() == before


def test_targets_and_locations_per_row_make_one_event_per_group(
    w: f.World, warehouse_clerk: Any
) -> None:
    [a] = cf.commission(w, "Q1")
    [b] = cf.commission(w, "Q2")
    content = _csv(
        "time,temperature,target,location",
        f"2026-03-10 08:00,5,{a},{w.warehouse.code}",
        f"2026-03-10 08:05,6,{a},{w.warehouse.code}",
        f"2026-03-10 08:00,4,{b},{w.plant.sgln}",
    )

    result = _import(w, warehouse_clerk, content, location=None)

    assert [(r.record.targets, r.record.location, r.record.reading_count) for r in
            result.recorded] == [([a], w.warehouse, 2), ([b], w.plant, 1)]  # fmt: skip
    assert len({r.record.attachment_id for r in result.recorded}) == 1


def test_a_row_without_a_target_or_location_is_named(w: f.World, warehouse_clerk: Any) -> None:
    [a] = cf.commission(w, "R1")
    content = _csv(
        "time,temperature,target",
        f"2026-03-10 08:00,5,{a}",
        "2026-03-10 08:05,6,",
        f"2026-03-10 08:10,6,{w.device_sn('NOPE')}",
    )

    result = _import(w, warehouse_clerk, content, dry_run=True)

    assert [(p.row, p.field) for p in result.problems] == [(3, "target")]
    result = _import(w, warehouse_clerk, content, dry_run=True, targets=[a])
    assert [(p.row, p.field) for p in result.problems] == [(4, "target")]
    assert "No event in the ledger names" in result.problems[0].message


def test_an_xlsx_logger_export_with_chinese_headers_is_read(
    w: f.World, warehouse_clerk: Any
) -> None:
    from openpyxl import Workbook

    units = cf.commission(w, "S1")
    book = Workbook()
    sheet = book.active
    sheet.append(["时间", "温度(℃)", "湿度(%RH)"])
    sheet.append([datetime(2026, 3, 10, 8, 0), 5.5, 50])
    sheet.append([datetime(2026, 3, 10, 8, 5), 6, None])
    buffer = io.BytesIO()
    book.save(buffer)

    result = _import(w, warehouse_clerk, buffer.getvalue(), name="记录仪.xlsx", targets=units)

    [done] = result.recorded
    assert done.record.reading_count == 3
    assert done.record.first_reading_at == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert done.record.attachment is not None
    assert done.record.attachment.name == "记录仪.xlsx"


def test_a_gb18030_csv_with_chinese_headers_is_read(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "T1")
    content = "时间,温度(℃),湿度(%RH)\n2026/03/10 08:00:00,5.5,50\n".encode("gb18030")

    result = _import(w, warehouse_clerk, content, targets=units, dry_run=True)

    assert result.ok and result.reading_count == 2


def test_a_file_without_a_time_column_is_refused_at_its_header(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "U1")

    result = _import(w, warehouse_clerk, _csv("when,temp", "x,5"), targets=units, dry_run=True)

    [problem] = result.problems
    assert (problem.row, problem.field) == (1, "header")
    assert problem.message.startswith("no time column; the first row must name the columns")


def test_the_same_file_is_not_imported_twice(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "V1")
    content = _series(3)
    first = _import(w, warehouse_clerk, content, targets=units)

    with pytest.raises(ValidationFailed) as again:
        _import(w, warehouse_clerk, content, targets=units)

    assert again.value.field == "file"
    assert f"was already imported as {first.recorded[0].record.number}" in again.value.message
    assert ConditionRecord.objects.count() == 1


def test_two_products_breaching_different_limits_get_one_nc_per_unit_set(
    w: f.World, warehouse_clerk: Any
) -> None:
    pumps = cf.commission(w, "W1")
    boards = cf.commission(w, "WB1", product=w.board)
    cf.profile(w.device, "storage", temperature_max=8, humidity_max=60)
    cf.profile(w.board, "storage", humidity_max=50)
    content = _csv("time,temperature,humidity", "2026-03-10 08:00,9,55", "2026-03-10 08:05,5,65")

    [done] = _import(w, warehouse_clerk, content, targets=[*pumps, *boards]).recorded

    by_nc: dict[str, set[tuple[str, str]]] = {}
    for excursion in Excursion.objects.select_related("product"):
        by_nc.setdefault(excursion.nonconformance, set()).add(
            (excursion.product.model, excursion.measurement)
        )
    assert sorted(by_nc.values(), key=len) == [
        {("CB-2", "humidity")},
        {("IP-9", "temperature"), ("IP-9", "humidity")},
    ]
    assert len(done.nonconformances) == 2


def test_a_pallet_unpacked_before_the_import_is_evaluated_by_what_it_held_then(
    w: f.World, warehouse_clerk: Any
) -> None:
    from medtrace.lifecycle import events as ev

    units = cf.commission(w, "Y1", "Y2")
    pallet = cf.pack(w, w.sscc(701), units)  # packed on 2026-03-02
    ev.emit(
        [ev.aggregation_event(action="DELETE", parent=pallet, children=units,
                              biz_step="unpacking", at=cf.f_time(12))],
        user=None,
    )  # fmt: skip
    cf.profile(w.device, "transport", temperature_max=25)

    [done] = _import(
        w, warehouse_clerk, _csv("time,temperature", "2026-03-10 08:00,31"),
        targets=[pallet], phase="transport", location=None,
    ).recorded  # fmt: skip

    assert done.record.unit_count == 2
    assert sorted(done.excursions[0].targets.filter(container=False)
                  .values_list("epc", flat=True)) == sorted(units)  # fmt: skip
