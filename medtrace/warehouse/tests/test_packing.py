"""Packing and unpacking cases and pallets: the AggregationEvents, what the ledger says a
container holds (lifecycle.selectors.contents), the refusals, and the logistic label."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from medtrace.audit.models import AuditEntry
from medtrace.errors import Conflict, SequenceViolation, ValidationFailed
from medtrace.ledger.models import Event, UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.selectors import contents
from medtrace.warehouse import selectors, services
from medtrace.warehouse.models import Container

from .factories import Site, in_days, make, site, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def s() -> Site:
    return site()


def _event(event_id: str) -> Event:
    return Event.objects.get(event_id=event_id)


def test_packing_units_into_a_case_is_an_aggregation_event_and_the_case_holds_them(
    s: Site, warehouse_clerk: Any
) -> None:
    units = make(s, "P1", "P2", "P3")
    case = services.container_create(user=warehouse_clerk)

    result = services.container_pack(
        container=case, children=["P1", units[1]], user=warehouse_clerk, location=s.a01
    )

    event = _event(result.event_id)
    assert event.event_type == "AggregationEvent" and event.action == "ADD"
    assert event.biz_step == "packing" and event.disposition == "in_progress"
    assert event.document["parentID"] == case.epc
    assert event.document["childEPCs"] == units[:2]
    assert event.biz_location == event.read_point == s.a01.sgln
    assert contents([case.epc]) == {case.epc: units[:2]}
    assert UnitState.objects.get(epc=units[0]).container == case.epc
    case.refresh_from_db()
    assert case.status == "open" and case.location == s.a01
    entry = AuditEntry.objects.filter(object_type="warehouse.container").order_by("seq").last()
    assert entry is not None and entry.changes["packed"] == [None, units[:2]]


def test_closing_with_the_packing_marks_the_case_container_closed(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "P1")
    case = services.container_create(user=warehouse_clerk)

    result = services.container_pack(
        container=case, children=["P1"], user=warehouse_clerk, close=True
    )

    assert _event(result.event_id).disposition == "container_closed"
    case.refresh_from_db()
    assert case.status == "closed" and case.closed_at is not None
    with pytest.raises(Conflict) as exc:
        services.container_pack(container=case, children=["P1"], user=warehouse_clerk)
    assert f"SSCC {case.sscc} is closed" in exc.value.message


def test_a_pallet_aggregates_cases_and_holds_their_units_at_every_depth(
    s: Site, warehouse_clerk: Any
) -> None:
    units = make(s, "P1", "P2", "P3", "P4")
    one = services.container_create(user=warehouse_clerk)
    two = services.container_create(user=warehouse_clerk)
    services.container_pack(container=one, children=units[:2], user=warehouse_clerk, close=True)
    services.container_pack(container=two, children=units[2:], user=warehouse_clerk, close=True)
    pallet = services.container_create(level="pallet", user=warehouse_clerk)

    result = services.container_pack(
        container=pallet, children=[one.sscc, f"(00){two.sscc}"], user=warehouse_clerk
    )

    assert result.epcs == [one.epc, two.epc]
    inside = contents([pallet.epc])[pallet.epc]
    assert inside[:2] == [one.epc, two.epc] and sorted(inside[2:]) == sorted(units)
    view = selectors.container_view(pallet)
    assert view.unit_count == 4 and [c.epc for c in view.children] == [one.epc, two.epc]


def test_unpacking_is_an_aggregation_delete_and_the_units_are_loose_again(
    s: Site, warehouse_clerk: Any
) -> None:
    units = make(s, "P1", "P2", "P3")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=units, user=warehouse_clerk, close=True)

    one = services.container_unpack(container=case, children=["P2"], user=warehouse_clerk)

    event = _event(one.event_id)
    assert event.event_type == "AggregationEvent" and event.action == "DELETE"
    assert event.biz_step == "unpacking" and event.document["childEPCs"] == [units[1]]
    assert contents([case.epc])[case.epc] == [units[0], units[2]]
    assert UnitState.objects.get(epc=units[1]).container is None
    case.refresh_from_db()
    assert case.status == "open"  # reopened

    rest = services.container_unpack(container=case, user=warehouse_clerk)
    assert rest.epcs == [units[0], units[2]]
    assert contents([case.epc])[case.epc] == []
    with pytest.raises(ValidationFailed) as exc:
        services.container_unpack(container=case, user=warehouse_clerk)
    assert "is empty" in exc.value.message


def _refused(call: Any) -> SequenceViolation:
    events, entries = Event.objects.count(), AuditEntry.objects.count()
    with pytest.raises(SequenceViolation) as exc:
        call()
    assert Event.objects.count() == events and AuditEntry.objects.count() == entries
    return exc.value


def test_a_unit_already_in_another_case_is_refused_naming_the_unit_and_its_case(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "P1")
    first = services.container_create(user=warehouse_clerk)
    services.container_pack(container=first, children=["P1"], user=warehouse_clerk)
    second = services.container_create(user=warehouse_clerk)

    exc = _refused(
        lambda: services.container_pack(container=second, children=["P1"], user=warehouse_clerk)
    )

    assert exc.message == (
        f"Cannot pack P1 into SSCC {second.sscc}: it is already packed in SSCC {first.sscc}; "
        "unpack it from there first"
    )
    assert exc.field == "children" and exc.details[0]["reasons"][0]["code"] == "in_other_container"
    again = _refused(
        lambda: services.container_pack(container=first, children=["P1"], user=warehouse_clerk)
    )
    assert again.message == f"P1 is already packed in SSCC {first.sscc}"


def test_a_container_into_itself_or_into_its_own_content_is_refused(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "P1")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=["P1"], user=warehouse_clerk)
    pallet = services.container_create(level="pallet", user=warehouse_clerk)
    services.container_pack(container=pallet, children=[case.sscc], user=warehouse_clerk)

    itself = _refused(
        lambda: services.container_pack(
            container=pallet, children=[pallet.sscc], user=warehouse_clerk
        )
    )
    assert itself.message == f"Cannot pack SSCC {pallet.sscc} into itself"
    own = _refused(
        lambda: services.container_pack(container=case, children=[pallet.epc], user=warehouse_clerk)
    )
    assert own.message == (
        f"Cannot pack SSCC {pallet.sscc} into SSCC {case.sscc}: SSCC {case.sscc} is inside "
        f"SSCC {pallet.sscc}"
    )


def test_levels_a_case_holds_units_and_a_pallet_holds_cases(s: Site, warehouse_clerk: Any) -> None:
    make(s, "P1", "P2")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=["P1"], user=warehouse_clerk)
    other = services.container_create(user=warehouse_clerk)
    pallet = services.container_create(level="pallet", user=warehouse_clerk)
    empty = services.container_create(user=warehouse_clerk)

    on_case = _refused(
        lambda: services.container_pack(container=other, children=[case.sscc], user=warehouse_clerk)
    )
    assert "a case holds units; put cases on a pallet" in on_case.message
    on_pallet = _refused(
        lambda: services.container_pack(container=pallet, children=["P2"], user=warehouse_clerk)
    )
    assert on_pallet.message.startswith(f"Cannot put unit P2 onto SSCC {pallet.sscc}")
    with pytest.raises(ValidationFailed) as exc:
        services.container_pack(container=pallet, children=[empty.sscc], user=warehouse_clerk)
    assert "the container is empty" in exc.value.message


def test_the_state_machine_refuses_to_pack_a_unit_in_transit_or_scrapped(
    s: Site, warehouse_clerk: Any, qa_manager: Any
) -> None:
    gone, scrapped = stock(s, qa_manager, "T1", "X1")
    ev.emit(
        [
            ev.object_event(epcs=[gone], biz_step="shipping", disposition="in_transit"),
            ev.object_event(epcs=[scrapped], biz_step="destroying", disposition="destroyed"),
        ],
        user=None,
    )
    case = services.container_create(user=warehouse_clerk)

    transit = _refused(
        lambda: services.container_pack(container=case, children=["T1"], user=warehouse_clerk)
    )
    assert transit.message == "Cannot pack T1: it is in transit; receive it first"
    dead = _refused(
        lambda: services.container_pack(container=case, children=["X1"], user=warehouse_clerk)
    )
    assert dead.message.startswith("Cannot pack X1: it was scrapped (destroyed)")
    assert not contents([case.epc])[case.epc]


def test_an_unknown_unit_or_a_lot_is_refused_with_its_position(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "P1")
    case = services.container_create(user=warehouse_clerk)
    with pytest.raises(ValidationFailed) as exc:
        services.container_pack(container=case, children=["P1", s.sn("NOPE")], user=warehouse_clerk)
    assert exc.value.message == f"children[1]: {s.sn('NOPE')}: the ledger has no record of it"
    with pytest.raises(ValidationFailed) as exc:
        services.container_pack(
            container=case, children=[ev.lot_class(s.w.device, "L1")], user=warehouse_clerk
        )
    assert "names a lot; scan units or cases and pallets" in exc.value.message


def test_packing_needs_the_warehouse_permission(
    s: Site, qa_manager: Any, warehouse_clerk: Any
) -> None:
    from medtrace.errors import PermissionDenied

    make(s, "P1")
    with pytest.raises(PermissionDenied):
        services.container_create(user=qa_manager)
    case = services.container_create(user=warehouse_clerk)
    with pytest.raises(PermissionDenied):
        services.container_pack(container=case, children=["P1"], user=qa_manager)


def test_the_logistic_label_carries_the_sscc_as_gs1_128_and_gs1_datamatrix(
    s: Site, warehouse_clerk: Any
) -> None:
    make(s, "P1", "P2", expiry=in_days(200), lot="L7")
    case = services.container_create(user=warehouse_clerk)
    services.container_pack(container=case, children=["P1", "P2"], user=warehouse_clerk)

    png, media_type = selectors.container_label(case, "png")

    assert media_type == "image/png"
    read = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert sorted((r.symbology_identifier, r.text) for r in read) == [
        ("]C1", f"(00){case.sscc}"),
        ("]d2", f"(00){case.sscc}"),
    ]
    pdf, media_type = selectors.container_label(case, "pdf")
    assert media_type == "application/pdf" and pdf.startswith(b"%PDF")
    with pytest.raises(ValidationFailed):
        selectors.container_label(case, "gif")


def test_a_container_is_found_by_its_sscc_in_any_form(s: Site, warehouse_clerk: Any) -> None:
    case = services.container_create(user=warehouse_clerk)
    for form in (
        case.sscc,
        f"(00){case.sscc}",
        case.epc,
        f"https://id.gs1.org/00/{case.sscc}",
        f"]C100{case.sscc}",
    ):
        assert services.container_get(form) == case
    assert Container.objects.count() == 1
