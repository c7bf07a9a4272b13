"""Station readings: the event written, excursions, nonconformances and holds, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.conditions import services
from medtrace.conditions.models import ConditionRecord, ExcursionTarget
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.quality.models import Hold, Nonconformance
from medtrace.trace.tests import factories as f

from . import factories as cf

pytestmark = pytest.mark.django_db

T1 = "2026-03-05T10:00:00+08:00"
T2 = "2026-03-05T10:15:00+08:00"


def _record(w: f.World, user: Any, targets: list[str], *readings: dict[str, Any], **kw: Any):
    kw.setdefault("phase", "storage")
    kw.setdefault("device", "ST-01")
    kw.setdefault("location", w.warehouse.sgln)
    return services.readings_record(targets=targets, readings=list(readings), user=user, **kw)


def _counts() -> tuple[int, int, int, int, int]:
    return (
        ConditionRecord.objects.count(),
        Event.objects.count(),
        AuditEntry.objects.count(),
        Nonconformance.objects.count(),
        Hold.objects.count(),
    )


def test_readings_within_the_limits_are_recorded_without_an_excursion(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "A1", "A2")
    cf.profile(w.device, "storage", temperature_min=2, temperature_max=8, humidity_max=60)

    done = _record(
        w, warehouse_clerk, units,
        cf.reading(T1, "temperature", 5.1), cf.reading(T1, "humidity", 45),
        cf.reading(T2, "temperature", 7.9),
    )  # fmt: skip

    record = done.record
    assert record.number.startswith("COND-")
    assert (record.reading_count, record.unit_count, record.source) == (3, 2, "station")
    assert record.recorded_by == warehouse_clerk
    assert done.excursions == [] and done.nonconformances == []
    assert Nonconformance.objects.count() == 0 and Hold.objects.count() == 0
    doc = done.event.document
    assert doc["type"] == "ObjectEvent" and doc["action"] == "OBSERVE"
    assert doc["epcList"] == units and doc["bizStep"] == "storing"
    assert doc["readPoint"] == {"id": w.warehouse.sgln}
    assert "bizLocation" not in doc and "disposition" not in doc  # a reading moves nothing
    assert AuditEntry.objects.filter(object_type="conditions.conditionrecord").count() == 1


def test_the_event_carries_one_sensor_element_per_reading_time_after_a_series_summary(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "B1")

    done = _record(
        w, warehouse_clerk, units,
        cf.reading(T1, "temperature", 5), cf.reading(T1, "humidity", 45.5),
        cf.reading(T2, "temperature", 41, uom="FAH"),
    )  # fmt: skip

    elements = done.event.document["sensorElementList"]
    device = "urn:medtrace:device:ST-01"
    assert elements[0] == {
        "sensorMetadata": {
            "startTime": "2026-03-05T10:00:00.000+08:00",
            "endTime": "2026-03-05T10:15:00.000+08:00",
            "deviceID": device,
        },
        "sensorReport": [
            {"type": "Temperature", "minValue": 5, "maxValue": 5, "meanValue": 5, "uom": "CEL"},
            {"type": "RelativeHumidity", "minValue": 45.5, "maxValue": 45.5, "meanValue": 45.5,
             "uom": "P1"},
        ],
    }  # fmt: skip
    assert elements[1:] == [
        {
            "sensorMetadata": {"time": "2026-03-05T10:00:00.000+08:00", "deviceID": device},
            "sensorReport": [
                {"type": "Temperature", "value": 5, "uom": "CEL"},
                {"type": "RelativeHumidity", "value": 45.5, "uom": "P1"},
            ],
        },
        {
            "sensorMetadata": {"time": "2026-03-05T10:15:00.000+08:00", "deviceID": device},
            # 41 °F is written as 5 °C: the ledger and the limits speak one unit
            "sensorReport": [{"type": "Temperature", "value": 5, "uom": "CEL"}],
        },
    ]
    assert done.event.event_time.isoformat() == "2026-03-05T02:15:00+00:00"


def test_a_reading_above_the_limit_raises_a_nonconformance_and_holds_the_units(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "C1", "C2")
    cf.profile(w.device, "storage", temperature_min=2, temperature_max=8)

    done = _record(w, warehouse_clerk, units, cf.reading(T1, "temperature", 9.2))

    [excursion] = done.excursions
    assert (excursion.measurement, excursion.bound) == ("temperature", "max")
    assert (float(excursion.limit), float(excursion.value), excursion.readings) == (8, 9.2, 1)
    nc = Nonconformance.objects.get()
    assert done.nonconformances == [nc.number] and excursion.nonconformance == nc.number
    assert nc.source == done.record.number and nc.category == "product"
    assert nc.opened_by is None  # raised by the system on the recorded readings
    # The description names the reading, the limit, the time and the location.
    assert "Temperature 9.2 °C at 2026-03-05 10:00:00 +0800" in nc.description
    assert "above the maximum 8 °C of the storage limits 2–8 °C" in nc.description
    assert f"{w.warehouse.name} ({w.warehouse.sgln})" in nc.description
    assert "warehouse_clerk" in nc.description and done.record.number in nc.description
    held = Hold.objects.filter(lifted_at__isnull=True, source=nc.number)
    assert sorted(held.values_list("target", flat=True)) == sorted(units)
    assert sorted(nc.items.values_list("target", flat=True)) == sorted(units)
    assert sorted(ExcursionTarget.objects.values_list("epc", flat=True)) == sorted(units)


def test_humidity_below_the_minimum_is_an_excursion_too(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "D1")
    cf.profile(w.device, "production", humidity_min=45, humidity_max=65)

    done = _record(w, warehouse_clerk, units, cf.reading(T1, "humidity", 38.5), phase="production")

    [excursion] = done.excursions
    assert (excursion.measurement, excursion.bound, float(excursion.value)) == (
        "humidity", "min", 38.5,
    )  # fmt: skip
    assert done.event.document["bizStep"] == "assembling"
    assert "Relative humidity 38.5 %RH" in Nonconformance.objects.get().description


def test_only_profiles_of_the_phase_or_of_all_phases_apply(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "E1")
    cf.profile(w.device, "transport", temperature_max=5)  # not this phase
    cf.profile(w.device, "all", temperature_max=40)
    inactive = cf.profile(w.device, "storage", temperature_max=6)
    services.profile_update(profile=inactive, data={"active": False}, user=None, reason="retired")

    done = _record(w, warehouse_clerk, units, cf.reading(T1, "temperature", 20))

    assert done.excursions == []


def test_a_case_is_evaluated_by_its_units_and_only_the_product_whose_limit_broke_is_held(
    w: f.World, warehouse_clerk: Any
) -> None:
    pumps = cf.commission(w, "F1", "F2")
    boards = cf.commission(w, "FB1", product=w.board)
    case = cf.pack(w, w.sscc(501), [*pumps, *boards])
    cf.profile(w.device, "storage", temperature_max=30)
    cf.profile(w.board, "storage", temperature_max=50)

    done = _record(w, warehouse_clerk, [case], cf.reading(T1, "temperature", 35))

    assert done.event.document["epcList"] == [case]  # what was scanned
    assert done.record.unit_count == 3
    [excursion] = done.excursions
    assert excursion.product == w.device
    targets = dict(
        ExcursionTarget.objects.filter(excursion=excursion).values_list("epc", "container")
    )
    assert targets == {pumps[0]: False, pumps[1]: False, case: True}
    nc = Nonconformance.objects.get()
    assert sorted(nc.items.values_list("target", flat=True)) == sorted(pumps)


def test_a_lot_is_evaluated_against_its_products_limits(w: f.World, warehouse_clerk: Any) -> None:
    lot = cf.lot(w, "L2603")
    cf.profile(w.device, "storage", humidity_max=80)

    done = _record(w, warehouse_clerk, [lot], cf.reading(T1, "humidity", 85))

    assert done.event.document["epcList"] == []
    assert done.event.document["quantityList"] == [{"epcClass": lot}]
    [excursion] = done.excursions
    assert list(excursion.targets.values_list("epc", flat=True)) == [lot]
    assert list(Nonconformance.objects.get().items.values_list("target", flat=True)) == [lot]


def test_a_scanned_udi_in_any_form_is_accepted(w: f.World, warehouse_clerk: Any) -> None:
    [unit] = cf.commission(w, "G1")
    scan = f"(01){w.gtin(w.device)}(21)G1"

    done = _record(w, warehouse_clerk, [scan], cf.reading(T1, "temperature", 4))

    assert done.event.document["epcList"] == [unit]


def test_every_problem_of_the_input_is_listed_and_nothing_is_stored(
    w: f.World, warehouse_clerk: Any
) -> None:
    before = _counts()

    with pytest.raises(ValidationFailed) as refused:
        _record(
            w, warehouse_clerk, [], {"time": "yesterday", "type": "pressure", "value": 1},
            {"time": T1, "type": "humidity", "value": 140},
            phase="shipping", device="", location="NOWHERE",
        )  # fmt: skip

    fields = [d["field"] for d in refused.value.details]
    assert fields == [
        "phase", "device", "location", "readings[0].type", "readings[0].time",
        "readings[1].value", "targets",
    ]  # fmt: skip
    messages = {d["field"]: d["message"] for d in refused.value.details}
    assert (
        "'shipping' is not a phase; expected one of production, storage, transport"
        in (messages["phase"])
    )
    assert messages["readings[1].value"] == (
        "140 %RH is not a relative humidity (expected 0 to 100)"
    )
    assert "no active location is known as 'NOWHERE'" in messages["location"]
    assert _counts() == before


def test_an_unknown_unit_is_refused_naming_it(w: f.World, warehouse_clerk: Any) -> None:
    before = _counts()
    unknown = w.device_sn("NEVER")

    with pytest.raises(Exception) as refused:
        _record(w, warehouse_clerk, [unknown], cf.reading(T1, "temperature", 4))

    assert refused.value.field == "targets[0]"  # type: ignore[attr-defined]
    assert f"No event in the ledger names {unknown}" in refused.value.message  # type: ignore[attr-defined]
    assert _counts() == before


def test_a_reading_in_the_future_is_refused(w: f.World, warehouse_clerk: Any) -> None:
    units = cf.commission(w, "H1")

    with pytest.raises(ValidationFailed) as refused:
        _record(w, warehouse_clerk, units, cf.reading("2099-01-01T00:00:00Z", "temperature", 4))

    assert refused.value.field == "readings[0].time"
    assert "is in the future; check the logger's clock and time zone" in refused.value.message


def test_a_scrapped_unit_takes_no_readings(w: f.World, warehouse_clerk: Any) -> None:
    [unit] = cf.commission(w, "SC1")
    f.capture(f.obj([unit], "2026-03-02T09:00:00+08:00", biz_step="decommissioning",
                    disposition="destroyed"))  # fmt: skip

    with pytest.raises(ValidationFailed) as refused:
        _record(w, warehouse_clerk, [unit], cf.reading(T1, "temperature", 4))

    assert refused.value.field == "targets"
    assert "SC1 was scrapped" in refused.value.message
    assert ConditionRecord.objects.count() == 0


def test_the_same_readings_twice_are_a_conflict_not_a_second_record(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "I1")
    _record(w, warehouse_clerk, units, cf.reading(T1, "temperature", 4))

    with pytest.raises(Exception) as again:
        _record(w, warehouse_clerk, units, cf.reading(T1, "temperature", 4))

    assert again.value.status == 409  # type: ignore[attr-defined]
    assert ConditionRecord.objects.count() == 1


def test_recording_needs_the_permission(w: f.World, sales_user: Any, hospital_a: Any) -> None:
    units = cf.commission(w, "J1")

    for user in (sales_user, hospital_a):
        with pytest.raises(PermissionDenied) as refused:
            _record(w, user, units, cf.reading(T1, "temperature", 4))
        assert "conditions.add_conditionrecord" in refused.value.message
    assert ConditionRecord.objects.count() == 0


def test_transport_readings_need_no_location_and_name_no_business_location(
    w: f.World, warehouse_clerk: Any
) -> None:
    units = cf.commission(w, "K1")

    done = _record(
        w, warehouse_clerk, units, cf.reading(T1, "temperature", 4),
        phase="transport", location=None, device="urn:epc:id:giai:6901234.LOG7",
    )  # fmt: skip

    doc = done.event.document
    assert doc["bizStep"] == "transporting"
    assert "bizLocation" not in doc and "readPoint" not in doc
    assert doc["sensorElementList"][0]["sensorMetadata"]["deviceID"] == (
        "urn:epc:id:giai:6901234.LOG7"
    )


def test_a_reading_does_not_move_the_goods_or_change_their_holder(
    w: f.World, warehouse_clerk: Any
) -> None:
    from medtrace.ledger.models import UnitState

    [unit] = cf.commission(w, "L1")
    cf.profile(w.device, "storage", temperature_max=8)
    before = UnitState.objects.values("possessing_party", "biz_location", "disposition").get(
        epc=unit
    )

    _record(w, warehouse_clerk, [unit], cf.reading(T1, "temperature", 12), location=w.plant.sgln)

    after = UnitState.objects.values("possessing_party", "biz_location", "disposition").get(
        epc=unit
    )
    # the hold the excursion placed changes the disposition, nothing else
    assert after == {**before, "disposition": "sellable_not_accessible"}
