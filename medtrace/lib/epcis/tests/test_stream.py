"""iter_events: the streaming reader agrees with parse_document and keeps memory flat."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from medtrace.lib.epcis import EpcisValidationError, Issue, parse_document
from medtrace.lib.epcis.stream import iter_events
from medtrace.lib.epcis.tests import factories
from medtrace.lib.epcis.tests.conftest import (
    CAPTURE_DOCUMENTS,
    INVALID_DOCUMENTS,
    JSON_LD_EXAMPLES,
    relative_id,
)

CAPTURES = [p for p in JSON_LD_EXAMPLES if p.name != "EPCISQueryDocument.jsonld"]


def _outcome(read: object) -> tuple[list[dict] | None, list[Issue] | None]:
    try:
        return [event.raw for event in read()], None  # type: ignore[operator]
    except EpcisValidationError as exc:
        return None, exc.issues


@pytest.mark.parametrize("path", CAPTURES + CAPTURE_DOCUMENTS + INVALID_DOCUMENTS, ids=relative_id)
def test_streaming_gives_the_same_events_and_issues_as_parse_document(path: Path) -> None:
    # given a conformance document
    data = path.read_bytes()
    # when read whole and streamed
    whole = _outcome(lambda: parse_document(data).events)
    streamed = _outcome(lambda: iter_events(io.BytesIO(data)))
    # then the events (raw JSON) and the issues are the same
    assert streamed == whole


def test_the_stream_exposes_the_document_without_its_events() -> None:
    # given a document whose @context comes after its events
    document = factories.document(factories.object_event(**{"example:lot": "L1"}))
    reordered = {key: document[key] for key in ("type", "epcisBody", "@context", "schemaVersion")}
    reordered["creationDate"] = document["creationDate"]
    # when streamed
    stream = iter_events(io.BytesIO(json.dumps(reordered).encode()))
    # then the namespaces declared at the end apply to the events
    assert stream.document.namespaces["example"] == factories.EXAMPLE_NAMESPACE
    assert stream.document.events == []
    assert [event.raw["example:lot"] for event in stream] == ["L1"]


def test_a_broken_event_is_reported_when_the_stream_ends_after_the_valid_ones() -> None:
    # given a valid event followed by one without eventTime
    broken = factories.without(factories.object_event(), "eventTime")
    data = json.dumps(factories.document(factories.object_event(), broken)).encode()
    # when streamed, then the valid event comes first and the error at the end names event 1
    stream = iter_events(io.BytesIO(data))
    assert next(stream).index == 0
    with pytest.raises(EpcisValidationError) as caught:
        next(stream)
    assert [(i.index, i.field) for i in caught.value.issues] == [(1, "eventTime")]


def test_a_document_level_problem_is_raised_at_once_with_the_events_problems() -> None:
    document = factories.document(factories.object_event(action="CREATE"))
    del document["creationDate"]
    with pytest.raises(EpcisValidationError) as caught:
        iter_events(io.BytesIO(json.dumps(document).encode()))
    assert [(i.index, i.field) for i in caught.value.issues] == [
        (None, "creationDate"),
        (0, "action"),
    ]


def test_truncated_json_is_reported() -> None:
    data = json.dumps(factories.document(factories.object_event())).encode()[:-20]
    with pytest.raises(EpcisValidationError) as caught:
        list(iter_events(io.BytesIO(data)))
    assert "not valid JSON" in caught.value.issues[0].message


def _streaming_peak(event_count: int) -> tuple[int, int]:
    """(peak traced memory while streaming, document size) for a document of event_count."""
    events = [
        factories.object_event(epcList=[f"urn:epc:id:sgtin:1.2.{n}"]) for n in range(event_count)
    ]
    data = json.dumps(factories.document(*events)).encode()
    del events
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_events(io.BytesIO(data)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == event_count
    return peak, len(data)


def test_streaming_memory_stays_flat_as_the_document_grows() -> None:
    # given captures of 5,000 and 20,000 events (about 1.4 and 5.4 MB)
    # when each is streamed through
    small_peak, _ = _streaming_peak(5000)
    large_peak, large_size = _streaming_peak(20000)
    # then the peak does not grow with the document, and stays well below its size
    assert large_peak < small_peak * 1.5
    assert large_peak < large_size // 4
