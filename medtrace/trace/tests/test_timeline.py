"""The unit timeline (DESIGN §7), captured through the real capture path."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.trace import selectors
from medtrace.trace.schemas import TimelineOut

from . import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def w() -> f.World:
    return f.world()


def timeline(ident: str) -> dict[str, Any]:
    data = selectors.unit_timeline(id=ident, user=None)
    TimelineOut.model_validate(data)
    return data


def steps(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["bizStep"], e["via"]) for e in data["events"]]


def test_container_events_count_only_while_the_unit_is_inside(w: f.World) -> None:
    unit, other = w.device_sn("T-1"), w.device_sn("T-2")
    case = w.sscc(21)
    f.capture(
        f.commission([unit, other], f.t(1)),
        f.obj([case], f.t(2), biz_step="storing"),  # before the unit went in
        f.aggregate(case, [unit, other], f.t(3)),
        f.obj([case], f.t(4), biz_step="staging_outbound"),  # inside
        f.aggregate(case, [unit], f.t(5), action="DELETE"),
        f.obj([case], f.t(6), biz_step="shipping"),  # after it came out
    )

    data = timeline(unit)

    assert steps(data) == [
        ("commissioning", "self"),
        ("packing", "self"),
        ("staging_outbound", f"container:{case}"),
        ("unpacking", "self"),
    ]
    # The unit that stayed in the case was shipped with it.
    assert ("shipping", f"container:{case}") in steps(timeline(other))


def test_nested_containers_count_only_for_the_time_both_held_the_unit(w: f.World) -> None:
    unit = w.device_sn("T-N")
    case, pallet = w.sscc(31), w.sscc(32)
    f.capture(
        f.commission([unit], f.t(1)),
        f.aggregate(pallet, [case], f.t(2)),
        f.obj([pallet], f.t(3), biz_step="storing"),  # the unit is not in the case yet
        f.aggregate(case, [unit], f.t(4)),
        f.obj([pallet], f.t(5), biz_step="shipping", disposition="in_transit"),
        f.aggregate(pallet, [case], f.t(6), action="DELETE"),
        f.obj([pallet], f.t(7), biz_step="receiving"),  # the case has left the pallet
    )

    data = timeline(unit)

    assert steps(data) == [
        ("commissioning", "self"),
        ("packing", "self"),
        ("shipping", f"container:{pallet}"),
        ("unpacking", f"container:{case}"),
    ]
    assert data["unit"]["disposition"] == "in_transit"


def test_component_events_count_while_installed_and_the_host_carries_the_component(
    w: f.World,
) -> None:
    unit, pump = w.device_sn("T-H"), w.pump_sn("T-P")
    f.capture(
        f.commission([pump], f.t(1)),
        f.obj([pump], f.t(2), biz_step="inspecting", disposition="conformant"),
        f.commission([unit], f.t(3)),
        f.associate(unit, [pump], f.t(4)),
        f.obj([pump], f.t(5), biz_step="sampling"),
        f.obj([unit], f.t(6), biz_step="shipping"),
        f.associate(unit, [pump], f.t(7), action="DELETE"),
        f.obj([pump], f.t(8), biz_step="inspecting", disposition="non_conformant"),
    )

    assert steps(timeline(unit)) == [
        ("inspecting", f"origin:{pump}"),  # the part's incoming inspection, before it went in
        ("commissioning", "self"),
        ("assembling", "self"),
        ("sampling", f"component:{pump}"),
        ("shipping", "self"),
        ("repairing", "self"),
    ]
    # Seen from the pump, the device it sat in is a container while it was inside.
    assert steps(timeline(pump)) == [
        ("commissioning", "self"),
        ("inspecting", "self"),
        ("assembling", "self"),
        ("sampling", "self"),
        ("shipping", f"container:{unit}"),
        ("repairing", "self"),
        ("inspecting", "self"),
    ]


def test_every_event_carries_its_lifecycle_phase(w: f.World) -> None:
    unit, lot = w.device_sn("T-PH"), w.resin_lot("T-L")
    maker, dist, hospital = w.pgln(w.maker), w.pgln(w.distributor), w.pgln(w.hospital)
    f.capture(
        f.obj_lots([(lot, 5)], f.t(1), biz_step="receiving",
                   sources=[("owning_party", w.pgln(w.supplier))]),
        f.transform(f.t(2), input_lots=[(lot, 1)], outputs=[unit]),
        f.obj([unit], f.t(3), biz_step="inspecting", disposition="conformant"),
        f.obj([unit], f.t(4), biz_step="storing", location=w.warehouse.sgln),
        f.obj([unit], f.t(5), biz_step="shipping", disposition="in_transit",
              sources=[("possessing_party", maker)], destinations=[("possessing_party", dist)]),
        f.obj([unit], f.t(6), biz_step="receiving", location=w.dist_site.sgln,
              sources=[("possessing_party", maker)], destinations=[("possessing_party", dist)]),
        f.obj([unit], f.t(7), biz_step="installing", location=w.ward.sgln,
              destinations=[("possessing_party", hospital)]),
        f.obj([unit], f.t(8), biz_step="urn:medtrace:bizstep:maintaining"),
        f.obj([unit], f.t(9), biz_step="receiving", disposition="returned",
              sources=[("possessing_party", hospital)]),
        f.obj([unit], f.t(10), action="DELETE", biz_step="decommissioning",
              disposition="destroyed"),
    )  # fmt: skip

    unit_phases = [(e["bizStep"], e["phase"]) for e in timeline(unit)["events"]]
    lot_phases = [(e["bizStep"], e["phase"]) for e in timeline(lot)["events"]]

    assert unit_phases == [
        ("receiving", "procurement"),  # its resin lot's receipt, before it went in
        ("commissioning", "production"),
        ("inspecting", "quality"),
        ("storing", "warehouse"),
        ("shipping", "distribution"),
        ("receiving", "distribution"),
        ("installing", "use"),
        ("urn:medtrace:bizstep:maintaining", "service"),
        ("receiving", "service"),
        ("decommissioning", "end-of-life"),
    ]
    assert lot_phases == [("receiving", "procurement"), ("commissioning", "production")]


def test_a_retracted_event_is_shown_as_retracted_and_its_correction_flagged(
    w: f.World,
) -> None:
    unit, pump, right = w.device_sn("T-R"), w.pump_sn("T-RP"), w.device_sn("T-R2")
    mistaken = f.associate(unit, [pump], f.t(3))
    f.capture(f.commission([unit, pump, right], f.t(1)), mistaken)
    corrective = f.associate(right, [pump], f.t(3, 10))

    f.capture(f.retract(mistaken, f.t(4), corrective=[corrective["eventID"]]), corrective)

    events = {e["eventID"]: e for e in timeline(pump)["events"]}
    wrong = events[mistaken["eventID"]]
    fixed = events[corrective["eventID"]]
    assert wrong["retracted"] is True
    assert wrong["errorDeclaration"] == {
        "declarationTime": "2025-03-04T01:00:00Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": [corrective["eventID"]],
    }
    assert (wrong["corrected"], fixed["retracted"]) == (False, False)
    assert fixed["corrected"] is True
    assert fixed["corrects"] == [mistaken["eventID"]]
    # The retracted link no longer makes the device a container of the pump.
    assert all(not e["via"].startswith("container:") for e in events.values())


def test_transaction_events_of_the_same_business_document_are_linked(w: f.World) -> None:
    unit, other = w.device_sn("T-BT"), w.device_sn("T-BT2")
    desadv = "urn:epcglobal:cbv:bt:6901234000009:DA-1"
    f.capture(
        f.commission([unit, other], f.t(1)),
        f.obj([unit], f.t(2), biz_step="shipping", btt=[("desadv", desadv)]),
        f.transaction([other], f.t(2, 10), btt=[("desadv", desadv), ("inv", "urn:inv:9")]),
        # Another unit's ordinary event in the same document is not this unit's history.
        f.obj([other], f.t(2, 11), biz_step="shipping", btt=[("desadv", desadv)]),
    )

    data = timeline(unit)

    assert steps(data) == [
        ("commissioning", "self"),
        ("shipping", "self"),
        (None, f"bizTransaction:{desadv}"),
    ]
    linked = data["events"][2]
    assert linked["eventType"] == "TransactionEvent"
    assert linked["phase"] == "distribution"
    assert linked["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": desadv},
        {"type": "inv", "bizTransaction": "urn:inv:9"},
    ]


def test_each_item_carries_the_epcis_fields(w: f.World) -> None:
    unit = w.device_sn("T-F")
    maker, dist = w.pgln(w.maker), w.pgln(w.distributor)
    f.capture(
        f.commission([unit], f.t(1)),
        f.obj([unit], f.t(2), biz_step="shipping", disposition="in_transit",
              read_point=w.warehouse.sgln, btt=[("po", "urn:po:77")],
              sources=[("owning_party", maker)], destinations=[("owning_party", dist)]),
    )  # fmt: skip

    shipping = timeline(unit)["events"][1]

    assert shipping == {
        "eventID": shipping["eventID"], "eventType": "ObjectEvent", "action": "OBSERVE",
        "eventTime": "2025-03-02T01:00:00Z", "eventTimeZoneOffset": "+08:00",
        "recordTime": shipping["recordTime"], "bizStep": "shipping",
        "disposition": "in_transit", "readPoint": w.warehouse.sgln, "bizLocation": None,
        "phase": "distribution", "via": "self", "retracted": False, "errorDeclaration": None,
        "corrected": False, "corrects": [],
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:po:77"}],
        "sourceList": [{"type": "owning_party", "source": maker}],
        "destinationList": [{"type": "owning_party", "destination": dist}],
        "conditions": [], "excursions": [],
    }  # fmt: skip


def test_the_timeline_header_names_the_product_and_its_holder(w: f.World) -> None:
    unit = w.device_sn("T-HD")
    f.capture(
        f.commission([unit], f.t(1), location=w.warehouse.sgln),
    )

    unit_header = timeline(f"(01){w.gtin(w.device)}(21)T-HD")["unit"]

    assert unit_header["product"]["model"] == "IP-9"
    assert unit_header["holder"] == {
        "id": w.warehouse.sgln, "gln": w.maker.gln, "name": w.maker.name, "role": "manufacturer",
    }  # fmt: skip


def test_the_timeline_takes_a_constant_number_of_queries(
    w: f.World, django_assert_max_num_queries: Any
) -> None:
    unit = w.device_sn("T-Q")
    pallet, case = w.sscc(41), w.sscc(42)
    pumps = [w.pump_sn(f"TQ-{n}") for n in range(20)]
    f.capture(
        f.commission([unit, *pumps], f.t(1)),
        f.associate(unit, pumps, f.t(2)),
        *[f.obj([p], f.t(3), biz_step="inspecting") for p in pumps],
        f.aggregate(case, [unit], f.t(4)),
        f.aggregate(pallet, [case], f.t(4, 10)),
        f.obj([pallet], f.t(5), biz_step="shipping", btt=[("desadv", "urn:da:1")]),
        f.transaction([pallet], f.t(5, 10), btt=[("desadv", "urn:da:1")]),
        f.obj([pallet], f.t(6), biz_step="receiving",
              sources=[("possessing_party", w.pgln(w.maker))]),
    )  # fmt: skip

    with django_assert_max_num_queries(7):
        data = selectors.unit_timeline(id=unit, user=None)

    # commissioning, assembling, 20 pump inspections, two packings, shipping, the despatch
    # advice TransactionEvent, receiving
    assert data["count"] == 27
