"""The scope of a recall: each way of naming it, the forward walk, freezing and recomputing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import ValidationFailed
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.recalls import scope, services
from medtrace.recalls.models import AffectedUnit, CampaignStatus, UnitSource, UnitStatus
from medtrace.service import services as service
from medtrace.trace.selectors import trace_forward

from .factories import R

pytestmark = pytest.mark.django_db


def frozen(campaign) -> dict[str, AffectedUnit]:
    return {u.serial: u for u in AffectedUnit.objects.filter(campaign=campaign)}


def lot_udi(r: R, lot: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(10){lot}"


# Each kind of scope ----------------------------------------------------------------------------


def test_a_lot_recall_freezes_every_unit_of_the_lot_with_who_holds_it(r: R) -> None:
    r.stock("S1", lot="LOT-A")
    r.at(r.w.hospital, "H1", "H2", lot="LOT-A")
    r.at(r.w.distributor, "D1", lot="LOT-A")
    r.stock("OTHER", lot="LOT-B")

    campaign = r.open(kind="lot", lot=lot_udi(r, "LOT-A"))

    units = frozen(campaign)
    assert set(units) == {"S1", "H1", "H2", "D1"}
    assert campaign.number.startswith("RC-") and campaign.status == CampaignStatus.OPEN
    assert campaign.affected_count == 4 and campaign.frozen_at is not None
    assert units["H1"].holder == r.w.hospital and units["H1"].holder_role == "hospital"
    assert units["H1"].holder_gln == r.w.hospital.gln and units["H1"].location == r.w.ward.sgln
    assert units["D1"].holder == r.w.distributor and not units["D1"].under_control
    assert units["S1"].holder == r.w.maker and units["S1"].under_control
    assert units["S1"].product == r.w.device and units["S1"].kind == "product"
    assert campaign.scope["resolved"]["lot"] == "LOT-A"
    assert all(
        u.source == UnitSource.TRACE and u.status == UnitStatus.PENDING for u in units.values()
    )


def test_a_lot_can_be_named_by_its_lgtin_or_by_product_and_lot_number(r: R) -> None:
    r.stock("S1", "S2", lot="LOT-A")
    gtin = r.w.gtin(r.w.device)

    by_urn = services.recall_scope_preview(
        kind="lot", params={"lot": udi.lgtin_urn(gtin, "LOT-A", 7)}, user=r.qa
    )
    by_number = services.recall_scope_preview(
        kind="lot", params={"lot": "LOT-A", "product_id": r.w.device.pk}, user=r.qa
    )

    assert by_urn["count"] == by_number["count"] == 2
    assert by_number["under_control"] == 2
    assert by_number["summary"][0]["name"] == r.w.maker.name


def test_a_serials_recall_takes_any_udi_form(r: R) -> None:
    epcs = r.stock("S1", "S2", "S3")

    campaign = r.open(kind="serials", serials=[f"(01){r.w.gtin(r.w.device)}(21)S1", epcs[1], "S3"])

    assert set(frozen(campaign)) == {"S1", "S2", "S3"}


def test_a_unit_in_transit_belongs_to_the_party_it_was_shipped_to(r: R) -> None:
    (epc,) = r.in_transit(r.hospital_b, "T1")

    campaign = r.open(serials=[epc])

    unit = frozen(campaign)["T1"]
    assert unit.holder == r.hospital_b and unit.disposition == "in_transit"
    assert not unit.under_control and unit.hold is None


def test_a_product_recall_over_a_period_takes_the_units_commissioned_in_it(r: R) -> None:
    old = r.w.device_sn("OLD-1")
    ev.emit(
        [ev.object_event(action="ADD", epcs=[old], biz_step="commissioning",
                         disposition="active", biz_location=r.w.warehouse.sgln,
                         at=timezone.now() - timedelta(days=40))],
        user=None,
    )  # fmt: skip
    r.stock("NEW-1", "NEW-2")
    today = timezone.localdate()

    campaign = r.open_scope(
        "product_range",
        {
            "product_id": r.w.device.pk,
            "from": (today - timedelta(days=7)).isoformat(),
            "to": today.isoformat(),
        },
    )

    assert set(frozen(campaign)) == {"NEW-1", "NEW-2"}


def test_a_supplier_lot_recall_follows_the_bad_parts_through_repairs(r: R) -> None:
    """The device that got a bad part in a repair is affected; the one whose bad part was
    swapped out is not; the removed bad part in our stock is (a component to hold)."""
    good_1, good_2 = r.parts("G1", "G2", lot="L-GOOD")
    bad_1, bad_2 = r.parts("B1", "B2", lot="L-BAD")
    got_bad, had_bad = r.stock("U1", "U2")
    r.fit(got_bad, good_1)
    r.fit(had_bad, bad_1)
    for unit, removed, installed in ((got_bad, good_1, bad_2), (had_bad, bad_1, good_2)):
        ticket = service.ticket_open(unit=unit, symptom="alarm fault", user=r.engineer)
        service.ticket_diagnose(ticket=ticket, diagnosis="pump worn", user=r.engineer)
        service.ticket_swap_part(
            ticket=ticket, removed=removed, installed=installed, user=r.engineer
        )

    campaign = r.open(kind="supplier_lot", material_id=r.w.pump.pk, lot="L-BAD")

    units = frozen(campaign)
    assert set(units) == {"U1", "B1"}
    assert units["U1"].kind == "product" and units["B1"].kind == "component"
    assert units["B1"].product is None and units["B1"].under_control
    assert set(campaign.scope["starts"]) == {bad_1, bad_2}


def test_the_recall_walk_agrees_with_trace_forward_start_by_start(r: R) -> None:
    bad = r.parts("B1", "B2", lot="L-BAD")
    devices = r.stock("U1", "U2", "U3")
    r.fit(devices[0], bad[0])
    r.fit(devices[1], bad[1])
    case = r.d.pack(7, devices[1:])

    for start in [*bad, case, *devices]:
        expected = {
            u["epc"]
            for u in trace_forward(id=start, user=None).units
            if u["current"] and u["part_of"] is None and u["kind"] != "container"
        }
        assert {u.epc for u in scope.walk([start]).units} == expected, start
    together = {u.epc for u in scope.walk([*bad, case]).units}
    assert together == set(devices)


def test_units_packed_in_a_recalled_case_are_recalled(r: R) -> None:
    devices = r.stock("C1", "C2")
    case = r.d.pack(8, devices)

    campaign = r.open(serials=[case])

    assert set(frozen(campaign)) == {"C1", "C2"}
    assert all(u.contained_in == case for u in frozen(campaign).values())


# Unknown or empty scopes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "field", "words"),
    [
        ("batch", {}, "kind", "not a scope"),
        ("lot", {}, "lot", "name the lot"),
        ("lot", {"lot": "(01){gtin}(10)NOPE"}, "lot", "no unit of lot NOPE"),
        ("lot", {"lot": "(01){gtin}(21)S1"}, "lot", "names one unit"),
        ("serials", {"serials": []}, "serials", "expected a list"),
        ("serials", {"serials": ["NOPE-1"]}, "serials[0]", "Nothing is known"),
        ("supplier_lot", {"lot": "X"}, "lot", "no supplier lot"),
        ("supplier_lot", {"material_id": 999999, "lot": "X"}, "material_id", "no material"),
        ("product_range", {"product_id": 999999}, "product_id", "no product"),
        ("work_order", {"work_order": "WO-2099-1"}, "work_order", "no work order"),
    ],
)
def test_an_unknown_or_empty_scope_is_refused_naming_the_field(
    r: R, kind: str, params: dict, field: str, words: str
) -> None:
    gtin = r.w.gtin(r.w.device)
    params = {k: v.format(gtin=gtin) if isinstance(v, str) else v for k, v in params.items()}
    with pytest.raises(ValidationFailed) as exc:
        r.open(kind=kind, **params)

    assert exc.value.field == field
    assert words in exc.value.message


def test_a_period_without_production_is_refused(r: R) -> None:
    with pytest.raises(ValidationFailed) as exc:
        r.open_scope(
            "product_range", {"product_id": r.w.device.pk, "from": "2020-01-01", "to": "2020-01-31"}
        )

    assert exc.value.field == "from" and "was commissioned" in exc.value.message


# Freeze, recompute, extend ---------------------------------------------------------------------


def test_the_frozen_set_stays_and_a_recompute_shows_how_the_world_moved(r: R) -> None:
    bad = r.parts("B1", "B2", lot="L-BAD")
    good = r.parts("G1", lot="L-GOOD")
    u1, u2, u3 = r.stock("U1", "U2", "U3")
    r.fit(u1, bad[0])
    r.fit(u2, bad[1])
    campaign = r.open(kind="supplier_lot", material_id=r.w.pump.pk, lot="L-BAD")
    assert set(frozen(campaign)) == {"U1", "U2"}

    # The ledger moves on: a repair, the removed bad part fitted into another unit, shipped.
    ticket = service.ticket_open(unit=u2, symptom="x", user=r.engineer)
    service.ticket_diagnose(ticket=ticket, diagnosis="x", user=r.engineer)
    service.ticket_swap_part(ticket=ticket, removed=bad[1], installed=good[0], user=r.engineer)
    r.fit(u3, bad[1])
    r.shipped([u3], r.w.hospital)
    diff = services.recall_scope_recompute(campaign=campaign, user=r.auditor)

    assert [a["epc"] for a in diff["added"]] == [u3]
    assert diff["added"][0]["holder_id"] == r.w.hospital.pk
    assert diff["removed"] == [{"epc": u2, "serial": "U2"}]
    assert diff["changed"] == []
    assert set(frozen(campaign)) == {"U1", "U2"}  # unchanged


def test_a_recompute_lists_holder_location_and_disposition_changes(r: R) -> None:
    epcs = r.stock("S1", "S2")
    campaign = r.open(serials=epcs, drill=True)  # a drill: the units stay shippable

    r.shipped(epcs[:1], r.w.hospital)
    diff = services.recall_scope_recompute(campaign=campaign, user=r.qa)

    changes = {(c["serial"], c["field"]): (c["frozen"], c["now"]) for c in diff["changed"]}
    assert changes[("S1", "holder")] == (r.w.maker.gln, r.w.hospital.gln)
    assert changes[("S1", "location")] == (r.w.warehouse.sgln, r.w.ward.sgln)
    assert ("S2", "holder") not in changes
    assert diff["added"] == [] and diff["removed"] == []


def test_extending_adds_new_units_holds_ours_and_is_audited(r: R) -> None:
    first = r.stock("S1")
    more = r.stock("S2", "S3")
    campaign = r.open(serials=first)

    added = services.recall_scope_extend(
        campaign=campaign, epcs=[*first, *more], user=r.qa, reason="same line, same week"
    )

    assert {u.serial for u in added} == {"S2", "S3"}
    assert all(u.source == UnitSource.EXTENSION and u.hold is not None for u in added)
    campaign.refresh_from_db()
    assert campaign.affected_count == 3
    assert campaign.scope["extensions"][0]["added"] == 2
    entry = AuditEntry.objects.filter(object_id=str(campaign.pk), reason="same line, same week")
    assert entry.exists()
    with pytest.raises(ValidationFailed) as exc:
        services.recall_scope_extend(campaign=campaign, epcs=more, user=r.qa)
    assert exc.value.field == "epcs" and "already" in exc.value.message


def test_the_walk_costs_the_same_few_queries_for_three_units_or_thirty(r: R) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    few = r.stock(*(f"F{n}" for n in range(3)), lot="LOT-F")
    many = r.stock(*(f"M{n}" for n in range(30)), lot="LOT-M")
    r.shipped(many[:10], r.w.hospital)

    counts = []
    for epcs in (few, many):
        with CaptureQueriesContext(connection) as queries:
            found = scope.walk(epcs)
        counts.append(len(queries))
        assert len(found.units) == len(epcs)

    assert counts[0] == counts[1] <= 6
