"""Every GS1 and OpenEPCIS example document goes in through POST /epcis/capture and comes back
out of the query interface as it was sent; every invalid one is refused and stores nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from medtrace.ledger.models import Event
from medtrace.lib.epcis.jsonld import KNOWN_CONTEXTS

from . import builders as b
from .test_epcis_query_support import (
    CONFORMANCE,
    capture,
    epcis_client,
    event_url,
    events_of,
    problem_of,
)

EXAMPLES = sorted((CONFORMANCE / "examples" / "json-ld").rglob("*.jsonld"))
OPENEPCIS = CONFORMANCE / "openepcis-test-resources" / "2.0" / "EPCIS" / "JSON" / "Capture"
DOCUMENTS = EXAMPLES + sorted((OPENEPCIS / "Documents").glob("*.json"))
INVALID = sorted((OPENEPCIS / "Invalid").glob("*.json"))
SCHEMA = CONFORMANCE / "json-schema" / "EPCIS-JSON-Schema.json"


def _name(path: Path) -> str:
    return str(path.relative_to(CONFORMANCE))


def _sent_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    if "eventList" in body:
        return body["eventList"]
    return body["queryResults"]["resultsBody"]["eventList"]


def _context_terms(*contexts: Any) -> dict[str, Any]:
    """Prefix definitions in effect after applying ``contexts`` in order (JSON-LD rules)."""
    terms: dict[str, Any] = {}
    for context in contexts:
        items = context if isinstance(context, list) else [context]
        for item in items:
            if isinstance(item, str):
                terms.update(KNOWN_CONTEXTS.get(item, {}))
            elif isinstance(item, dict):
                terms.update(item)
    return terms


def _prefixes_used(value: Any) -> set[str]:
    """Namespace prefixes of every member name in an event (extension fields)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if ":" in key and not key.startswith(("http:", "https:", "urn:", "@")):
                found.add(key.split(":", 1)[0])
            found |= _prefixes_used(item)
    elif isinstance(value, list):
        for item in value:
            found |= _prefixes_used(item)
    return found


def _content(event: dict[str, Any], *, sent: dict[str, Any]) -> dict[str, Any]:
    """The event without what capture adds (recordTime, a computed eventID) or moves (@context)."""
    drop = {"@context", "recordTime"}
    if "eventID" not in sent:
        drop.add("eventID")
    return {k: v for k, v in event.items() if k not in drop}


def _expected(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the repository holds: an errorDeclaration supersedes the event with its eventID."""
    declared = {e["eventID"] for e in events if "errorDeclaration" in e and "eventID" in e}
    out = []
    for event in events:
        if event.get("eventID") in declared and "errorDeclaration" not in event:
            continue
        if event not in out:  # an idempotent re-send is stored once
            out.append(event)
    return out


def _by_id(client: Any, event_id: str) -> tuple[dict[str, Any], Any]:
    response = client.get(event_url(event_id))
    events = events_of(response)
    assert len(events) == 1
    return events[0], response.json()["@context"]


def _read_back(client: Any, sent: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The stored event (and its document's @context) by eventID; an event sent without one is
    found by eventTime first, then read alone by the eventID the repository gave it."""
    if "eventID" in sent:
        return _by_id(client, sent["eventID"])
    moment = datetime.fromisoformat(sent["eventTime"])
    response = client.get(
        "/epcis/events",
        {
            "eventType": sent["type"],
            "GE_eventTime": moment.isoformat(),
            "LT_eventTime": (moment + timedelta(milliseconds=1)).isoformat(),
            "perPage": 1000,
        },
    )
    matches = [
        e for e in events_of(response) if _content(e, sent=sent) == _content(sent, sent=sent)
    ]
    assert matches, f"no stored event equals {sent}"
    assert matches[0]["eventID"].startswith("ni:///sha-256;")
    return _by_id(client, matches[0]["eventID"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_a_conformance_document_captured_over_rest_reads_back_as_sent(path: Path, qa_manager):
    # Given a GS1 / OpenEPCIS example document (a fresh database per document: some examples
    # reuse each other's eventIDs for different events, which is a conflict by design)
    raw = path.read_bytes()
    document = json.loads(raw)
    client = epcis_client(qa_manager)

    # When it is captured over the REST binding
    response = client.post("/epcis/capture", raw, content_type="application/ld+json")

    # Then the capture job is accepted and succeeds
    assert response.status_code == 202, response.content
    job = client.get(response["Location"]).json()
    assert job["success"] is True and job["running"] is False, job
    # And every event reads back as it was sent, its namespaces still defined
    sent_context = document.get("@context")
    for sent in _expected(_sent_events(document)):
        stored, returned_context = _read_back(client, sent)
        assert _content(stored, sent=sent) == _content(sent, sent=sent)
        assert stored["recordTime"]
        before = _context_terms(sent_context, sent.get("@context", []))
        after = _context_terms(returned_context, stored.get("@context", []))
        for prefix in _prefixes_used(sent):
            if prefix in before:
                assert after.get(prefix) == before[prefix], (prefix, after)


@pytest.fixture(scope="module")
def schema() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_the_query_document_for_a_conformance_document_adds_no_schema_error(
    path: Path, qa_manager, schema
):
    # Given a GS1 / OpenEPCIS example document, captured (a few hold what the JSON Schema
    # refuses but EPCIS 2.0 allows, e.g. persistentDisposition on an AggregationEvent)
    raw = path.read_bytes()
    sent = {e.message for e in schema.iter_errors(json.loads(raw))}
    client = epcis_client(qa_manager)
    assert client.post("/epcis/capture", raw, content_type="application/ld+json").status_code == 202
    # When all its events are queried
    body = client.get("/epcis/events", {"perPage": 1000}).json()
    # Then the EPCISQueryDocument breaks no EPCIS 2.0 JSON Schema rule the input did not
    added = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in schema.iter_errors(body)
        if e.message not in sent
    ]
    assert not added, added[:5]


@pytest.mark.django_db
@pytest.mark.parametrize("path", INVALID, ids=_name)
def test_an_invalid_conformance_document_is_refused_and_nothing_is_stored(path: Path, qa_manager):
    # Given a repository that already holds an event
    capture(b.commission([b.sgtin("1")]), user=qa_manager)
    before = Event.objects.count()
    client = epcis_client(qa_manager)

    # When an invalid OpenEPCIS document is captured
    response = client.post("/epcis/capture", path.read_bytes(), content_type="application/json")

    # Then it is refused with a problem that names each problem and where it is
    body = problem_of(response, 400, "epcisException:ValidationException")
    assert body["title"]
    assert body["errors"], body
    for error in body["errors"]:
        assert error["detail"]
        assert error["field"] or error["eventIndex"] is None
    # And nothing was stored
    assert Event.objects.count() == before
