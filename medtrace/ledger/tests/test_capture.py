from __future__ import annotations

import copy

import pytest

from medtrace.ledger import services
from medtrace.ledger.models import Event, EventEpc, EventRetraction, UnitState

from . import builders as b

pytestmark = pytest.mark.django_db


def test_a_valid_document_is_stored_with_its_index_rows() -> None:
    doc = b.document(b.commission([b.sgtin("1"), b.sgtin("2")]))

    job = services.capture_document(data=doc, user=None)

    assert job.success and not job.running and job.captured_count == 1
    event = Event.objects.get()
    assert event.biz_step == "commissioning"
    assert event.event_id.startswith("ni:///sha-256;")
    assert set(EventEpc.objects.values_list("epc", flat=True)) == {b.sgtin("1"), b.sgtin("2")}
    assert UnitState.objects.get(epc=b.sgtin("1")).disposition == "active"


def test_capturing_the_same_event_twice_stores_it_once() -> None:
    doc = b.document(
        b.commission([b.sgtin("1")], eventID="urn:uuid:0f0e0d0c-aaaa-4bbb-8ccc-000000000001")
    )

    services.capture_document(data=doc, user=None)
    again = services.capture_document(data=copy.deepcopy(doc), user=None)

    assert again.success
    assert Event.objects.count() == 1


def test_an_event_without_id_is_idempotent_through_its_event_hash() -> None:
    doc = b.document(b.commission([b.sgtin("7")]))

    services.capture_document(data=doc, user=None)
    services.capture_document(data=copy.deepcopy(doc), user=None)

    assert Event.objects.count() == 1


def test_reusing_an_event_id_for_different_content_rejects_the_whole_document() -> None:
    eid = "urn:uuid:0f0e0d0c-aaaa-4bbb-8ccc-000000000002"
    services.capture_document(data=b.document(b.commission([b.sgtin("1")], eventID=eid)), user=None)
    other = b.document(b.commission([b.sgtin("3")]), b.commission([b.sgtin("2")], eventID=eid))

    with pytest.raises(services.CaptureRejected) as err:
        services.capture_document(data=other, user=None)

    assert err.value.problems[0].index == 1
    assert err.value.problems[0].field == "eventID"
    assert Event.objects.count() == 1


def test_an_invalid_event_rejects_the_document_and_names_index_and_field() -> None:
    bad = b.commission([b.sgtin("2")])
    bad["action"] = "MAYBE"
    doc = b.document(b.commission([b.sgtin("1")]), bad)

    with pytest.raises(services.CaptureRejected) as err:
        services.capture_document(data=doc, user=None)

    problem = err.value.problems[0]
    assert (problem.index, problem.field) == (1, "action")
    assert Event.objects.count() == 0
    assert UnitState.objects.count() == 0


def test_proceed_stores_the_valid_events_and_reports_the_invalid_ones() -> None:
    bad = b.commission([b.sgtin("2")])
    bad["bizStep"] = "not_a_cbv_step"
    doc = b.document(b.commission([b.sgtin("1")]), bad)

    job = services.capture_document(data=doc, user=None, behaviour=services.PROCEED)

    assert not job.success
    assert job.captured_count == 1
    assert job.errors[0]["eventIndex"] == 1 and job.errors[0]["field"] == "bizStep"
    assert list(EventEpc.objects.values_list("epc", flat=True)) == [b.sgtin("1")]


def test_a_digital_link_epc_is_indexed_under_its_epc_urn() -> None:
    from medtrace.masterdata.tests import factories

    factories.party(prefix="6901234")
    dl = "https://id.gs1.org/01/06901234100013/21/SN1"

    services.capture_document(data=b.document(b.commission([dl])), user=None)

    assert EventEpc.objects.get().epc == "urn:epc:id:sgtin:6901234.010001.SN1"
    assert Event.objects.get().document["epcList"] == [dl]


def test_an_error_declaration_retracts_the_event_and_its_projection() -> None:
    eid = "urn:uuid:0f0e0d0c-aaaa-4bbb-8ccc-000000000003"
    pack = b.aggregate(b.sscc("1"), [b.sgtin("1")], "2025-01-02T08:00:00+08:00", eventID=eid)
    services.capture_document(data=b.document(b.commission([b.sgtin("1")]), pack), user=None)
    assert UnitState.objects.get(epc=b.sgtin("1")).container == b.sscc("1")
    declared = copy.deepcopy(pack)
    declared["errorDeclaration"] = {
        "declarationTime": "2025-01-03T08:00:00+08:00",
        "reason": "incorrect_data",
    }

    services.capture_document(data=b.document(declared), user=None)

    retraction = EventRetraction.objects.get()
    assert retraction.event.event_id == eid and retraction.reason == "incorrect_data"
    assert UnitState.objects.get(epc=b.sgtin("1")).container is None
    assert Event.objects.count() == 2  # nothing deleted: the declaration is a row of its own


def test_rebuilding_the_projections_gives_identical_results() -> None:
    services.capture_document(
        data=b.document(
            b.commission([b.sgtin(str(n)) for n in range(1, 5)]),
            b.aggregate(b.sscc("1"), [b.sgtin("1"), b.sgtin("2")], "2025-01-02T08:00:00+08:00"),
            b.aggregate(b.sscc("2"), [b.sscc("1")], "2025-01-02T09:00:00+08:00"),
            b.associate(b.sgtin("3"), [b.sgtin("4")], "2025-01-02T10:00:00+08:00"),
            b.observe(
                [b.sscc("2")],
                "2025-01-03T08:00:00+08:00",
                bizStep="shipping",
                disposition="in_transit",
            ),
        ),
        user=None,
    )
    before_states = sorted(
        UnitState.objects.values_list(
            "epc", "disposition", "biz_location", "container", "installed_in", "last_event_id"
        )
    )
    from medtrace.ledger.models import GenealogyEdge

    before_edges = sorted(
        GenealogyEdge.objects.values_list(
            "parent", "child", "kind", "event_id", "valid_from", "valid_to"
        )
    )

    services.rebuild()

    assert (
        sorted(
            UnitState.objects.values_list(
                "epc", "disposition", "biz_location", "container", "installed_in", "last_event_id"
            )
        )
        == before_states
    )
    assert (
        sorted(
            GenealogyEdge.objects.values_list(
                "parent", "child", "kind", "event_id", "valid_from", "valid_to"
            )
        )
        == before_edges
    )
    assert UnitState.objects.get(epc=b.sgtin("1")).disposition == "in_transit"


def test_shipping_a_pallet_moves_everything_inside_it() -> None:
    services.capture_document(
        data=b.document(
            b.commission([b.sgtin("1")]),
            b.aggregate(b.sscc("1"), [b.sgtin("1")], "2025-01-02T08:00:00+08:00"),
            b.aggregate(b.sscc("2"), [b.sscc("1")], "2025-01-02T09:00:00+08:00"),
        ),
        user=None,
    )

    services.capture_document(
        data=b.document(
            b.observe(
                [b.sscc("2")],
                "2025-01-03T08:00:00+08:00",
                bizStep="receiving",
                disposition="in_progress",
                bizLocation={"id": b.sgln("9")},
            ),
        ),
        user=None,
    )

    unit = UnitState.objects.get(epc=b.sgtin("1"))
    assert unit.biz_location == b.sgln("9")
    assert unit.disposition == "in_progress"
    assert unit.container == b.sscc("1")


def test_a_document_larger_than_djangos_form_limit_is_captured_over_http() -> None:
    import json

    from django.conf import settings
    from django.test import Client

    from medtrace.accounts.models import User
    from medtrace.accounts.services import token_create

    user = User.objects.create_user(username="mes", password="x" * 12)
    _token, raw = token_create(user=user, scopes=["epcis:capture"])
    events = [
        b.commission([b.sgtin(f"BIG{n:06d}")], time=f"2025-01-01T08:{n % 60:02d}:00+08:00")
        for n in range(12000)
    ]
    body = json.dumps(b.document(*events))
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = Client().post(
        "/epcis/capture",
        data=body,
        content_type="application/ld+json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 202, response.content[:500]
    assert UnitState.objects.count() == 12000


def test_a_streamed_capture_stores_every_chunk() -> None:
    import io
    import json

    events = [
        b.commission([b.sgtin(f"S{n:05d}")], time=f"2025-01-01T08:{n % 60:02d}:00+08:00")
        for n in range(12)
    ]
    stream = io.BytesIO(json.dumps(b.document(*events)).encode())

    job = _with_chunk(5, lambda: services.capture_stream(stream=stream, user=None))

    assert job.success and job.captured_count == 12 and job.event_count == 12
    assert UnitState.objects.count() == 12


def test_a_streamed_capture_rolls_back_every_chunk_when_a_late_event_is_invalid() -> None:
    import io
    import json

    events = [b.commission([b.sgtin(f"S{n:05d}")]) for n in range(12)]
    events[11]["action"] = "SOMETIMES"
    stream = io.BytesIO(json.dumps(b.document(*events)).encode())

    with pytest.raises(services.CaptureRejected) as err:
        _with_chunk(5, lambda: services.capture_stream(stream=stream, user=None))

    assert (err.value.problems[0].index, err.value.problems[0].field) == (11, "action")
    assert Event.objects.count() == 0 and UnitState.objects.count() == 0


def test_a_streamed_capture_with_proceed_keeps_the_valid_events() -> None:
    import io
    import json

    events = [b.commission([b.sgtin(f"S{n:05d}")]) for n in range(7)]
    events[3]["bizStep"] = "wandering"
    stream = io.BytesIO(json.dumps(b.document(*events)).encode())

    job = _with_chunk(
        5, lambda: services.capture_stream(stream=stream, user=None, behaviour=services.PROCEED)
    )

    assert not job.success and job.captured_count == 6 and job.event_count == 7
    assert job.errors[0]["eventIndex"] == 3


def _with_chunk(size: int, run):
    original = services.STREAM_CHUNK
    services.STREAM_CHUNK = size
    try:
        return run()
    finally:
        services.STREAM_CHUNK = original


def test_a_large_http_capture_is_spooled_and_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from django.test import Client

    from medtrace.accounts.models import User
    from medtrace.accounts.services import token_create

    monkeypatch.setattr(services, "STREAM_THRESHOLD", 1000)
    user = User.objects.create_user(username="wms", password="x" * 12)
    _token, raw = token_create(user=user, scopes=["epcis:capture"])
    body = json.dumps(b.document(*[b.commission([b.sgtin(f"H{n}")]) for n in range(20)]))

    response = Client().post(
        "/epcis/capture",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 202
    assert response.json()["capturedCount"] == 20
    assert UnitState.objects.count() == 20


def test_the_ledger_command_captures_a_file(tmp_path) -> None:
    import io
    import json

    from django.core.management import call_command

    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps(b.document(b.commission([b.sgtin("F1"), b.sgtin("F2")]))))
    out = io.StringIO()

    call_command("ledger", "capture", str(path), stdout=out)

    assert "1 of 1 events stored, success=True" in out.getvalue()
    assert UnitState.objects.count() == 2


def test_an_event_and_its_declaration_in_one_document_leave_no_trace_in_the_projections() -> None:
    eid = "urn:uuid:0f0e0d0c-aaaa-4bbb-8ccc-000000000009"
    pack = b.aggregate(b.sscc("3"), [b.sgtin("1")], "2025-01-02T08:00:00+08:00", eventID=eid)
    declared = copy.deepcopy(pack)
    declared["errorDeclaration"] = {"declarationTime": "2025-01-03T08:00:00+08:00"}

    services.capture_document(
        data=b.document(b.commission([b.sgtin("1")]), pack, declared), user=None
    )

    assert EventRetraction.objects.get().event.event_id == eid
    assert UnitState.objects.get(epc=b.sgtin("1")).container is None
    assert not UnitState.objects.filter(epc=b.sscc("3")).exists()


def test_sending_the_same_declaration_twice_stores_it_once() -> None:
    eid = "urn:uuid:0f0e0d0c-aaaa-4bbb-8ccc-000000000010"
    event = b.commission([b.sgtin("5")], eventID=eid)
    services.capture_document(data=b.document(event), user=None)
    declared = copy.deepcopy(event)
    declared["errorDeclaration"] = {"declarationTime": "2025-01-03T08:00:00+08:00"}

    services.capture_document(data=b.document(declared), user=None)
    services.capture_document(data=b.document(copy.deepcopy(declared)), user=None)

    assert EventRetraction.objects.count() == 1
    assert not UnitState.objects.filter(epc=b.sgtin("5")).exists()
