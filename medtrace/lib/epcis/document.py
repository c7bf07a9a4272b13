"""Capture documents: parse_document and parse_event, the public entry points."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medtrace.lib.epcis.errors import EpcisValidationError, Issue
from medtrace.lib.epcis.events import read_event
from medtrace.lib.epcis.jsonld import EMPTY_SCOPE, Scope, check_extension, read_context
from medtrace.lib.epcis.model import EpcisDocument, Event
from medtrace.lib.epcis.values import Sink, check_date_time, check_uri, describe

__all__ = ["parse_document", "parse_event"]

_DOCUMENT_FIELDS = frozenset(
    {
        "@context",
        "id",
        "type",
        "schemaVersion",
        "creationDate",
        "instanceIdentifier",
        "sender",
        "receiver",
        "epcisHeader",
        "epcisBody",
    }
)
_QUERY_FIELDS = frozenset({"@context", "id", "type", "schemaVersion", "creationDate", "epcisBody"})
_VERSION = re.compile(r"\d+(\.\d+)*\Z")
_STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _load(data: bytes | str | Mapping[str, Any], issues: list[Issue]) -> Any:
    if isinstance(data, Mapping):
        return data if isinstance(data, dict) else dict(data)
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        issues.append(Issue(None, "", f"the document is not UTF-8 text: {exc.reason}"))
    except json.JSONDecodeError as exc:
        issues.append(
            Issue(
                None,
                "",
                f"the document is not valid JSON: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}",
            )
        )
    return None


def parse_document(data: bytes | str | Mapping[str, Any]) -> EpcisDocument:
    """Validate an EPCIS 2.0 JSON/JSON-LD document and return its normalised events.

    An EPCISDocument (capture) is the usual input; an EPCISQueryDocument (a query result from
    another repository) is read too, and ``EpcisDocument.type`` says which one it was, so that
    the capture interface can refuse it. Raises EpcisValidationError listing every issue found.
    A Mapping is used as given (not copied): each Event.raw is the caller's own event object.
    """
    issues: list[Issue] = []
    document = _load(data, issues)
    if issues:
        raise EpcisValidationError(issues)
    sink = Sink(issues, None)
    if type(document) is not dict:
        sink.add("", f"expected an EPCISDocument object, got {describe(document)}")
        raise EpcisValidationError(issues)

    head = read_head(document, sink)
    events: list[Event] = []
    if head.event_list is not None:
        append = events.append
        scope = head.scope
        for index, raw in enumerate(head.event_list):
            event = read_event(raw, index, scope, issues)
            if event is not None:
                append(event)

    if issues:
        raise EpcisValidationError(issues)
    return head.document(events)


@dataclass(frozen=True, slots=True)
class Head:
    """Everything in a document but its events: read once, shared by parse_document and the
    streaming reader."""

    context: object
    scope: Scope
    type: str
    schema_version: str | None
    creation_date: datetime | None
    header: dict[str, Any] | None
    event_list: list[Any] | None

    def document(self, events: list[Event]) -> EpcisDocument:
        return EpcisDocument(
            context=self.context,
            schema_version=self.schema_version,
            creation_date=self.creation_date,
            header=self.header,
            events=events,
            namespaces=dict(self.scope.namespaces),
            type=self.type,
        )


def read_head(document: dict[str, Any], sink: Sink) -> Head:
    """Check the document-level fields; ``event_list`` is the events array (None if unusable)."""
    document_type = _check_document_type(document, sink)
    query = document_type == "EPCISQueryDocument"

    scope = EMPTY_SCOPE
    if "@context" in document:
        scope = read_context(document["@context"], "@context", sink, EMPTY_SCOPE)
    else:
        sink.add(
            "@context",
            "@context is required: a JSON-LD document names its vocabulary, e.g. "
            f'["{_STANDARD_CONTEXT}"]',
        )

    schema_version = document.get("schemaVersion")
    if "schemaVersion" not in document:
        if not query:
            sink.add("schemaVersion", 'schemaVersion is required, e.g. "2.0"')
    elif type(schema_version) is not str or _VERSION.match(schema_version) is None:
        sink.add(
            "schemaVersion",
            f'{describe(schema_version)} is not a version; expected a string such as "2.0"',
        )
        schema_version = None

    creation_date = None
    if "creationDate" in document:
        creation_date = check_date_time(document["creationDate"], "creationDate", sink)
    elif not query:
        sink.add("creationDate", "creationDate is required: when the document was created")

    _check_document_fields(document, _QUERY_FIELDS if query else _DOCUMENT_FIELDS, scope, sink)
    header = None
    if "epcisHeader" in document and not query:
        header = _check_header(document["epcisHeader"], scope, sink)

    if query:
        event_list = _query_event_list(document.get("epcisBody"), document, scope, sink)
    else:
        event_list = _capture_event_list(document.get("epcisBody"), document, scope, sink)
    return Head(
        context=document.get("@context"),
        scope=scope,
        type=document_type,
        schema_version=schema_version,
        creation_date=creation_date,
        header=header,
        event_list=event_list,
    )


def _capture_event_list(
    body: Any, document: dict[str, Any], scope: Scope, sink: Sink
) -> list[Any] | None:
    """epcisBody.eventList of an EPCISDocument."""
    path = "epcisBody.eventList"
    if type(body) is not dict:
        _missing_object(body, "epcisBody", document, "it holds the eventList", sink)
        return None
    for key in body:
        if key != "eventList":
            check_extension(key, f"epcisBody.{key}", scope, sink)
    return _event_list(body, path, sink)


def _query_event_list(
    body: Any, document: dict[str, Any], scope: Scope, sink: Sink
) -> list[Any] | None:
    """epcisBody.queryResults.resultsBody.eventList of an EPCISQueryDocument."""
    path = "epcisBody.queryResults.resultsBody.eventList"
    if type(body) is not dict:
        _missing_object(body, "epcisBody", document, "it holds the queryResults", sink)
        return None
    for key in body:
        if key != "queryResults":
            check_extension(key, f"epcisBody.{key}", scope, sink)
    results = body.get("queryResults")
    if type(results) is not dict:
        _missing_object(results, "epcisBody.queryResults", body, "it holds the results", sink)
        return None
    for key, value in results.items():
        if key in ("queryName", "subscriptionID"):
            if type(value) is not str:
                sink.add(
                    f"epcisBody.queryResults.{key}", f"expected a string, got {describe(value)}"
                )
        elif key != "resultsBody":
            check_extension(key, f"epcisBody.queryResults.{key}", scope, sink)
    if "queryName" not in results:
        sink.add("epcisBody.queryResults.queryName", "queryName is required")
    results_body = results.get("resultsBody")
    where = "epcisBody.queryResults.resultsBody"
    if type(results_body) is not dict:
        _missing_object(results_body, where, results, "it holds the eventList", sink)
        return None
    for key in results_body:
        if key not in ("eventList", "vocabularyList"):
            check_extension(key, f"{where}.{key}", scope, sink)
    if "vocabularyList" in results_body:
        _check_vocabulary_list(results_body["vocabularyList"], f"{where}.vocabularyList", sink)
    return _event_list(results_body, path, sink)


def _missing_object(value: Any, field: str, parent: dict[str, Any], role: str, sink: Sink) -> None:
    name = field.rsplit(".", 1)[-1]
    if name not in parent:
        sink.add(field, f"{name} is required: {role}")
    else:
        sink.add(field, f"{name} must be an object, got {describe(value)}")


def _event_list(holder: dict[str, Any], path: str, sink: Sink) -> list[Any] | None:
    event_list = holder.get("eventList")
    if type(event_list) is list:
        return event_list
    if "eventList" not in holder:
        sink.add(path, "eventList is required: an array of events")
    else:
        sink.add(path, f"expected an array of events, got {describe(event_list)}")
    return None


def parse_event(
    data: Mapping[str, Any], *, index: int = 0, namespaces: Mapping[str, str] | None = None
) -> Event:
    """Validate one event (``POST /events``) and return it normalised.

    With ``namespaces`` None the event stands alone and, like the JSON Schema says, must carry its
    own @context; otherwise ``namespaces`` are the prefixes already in scope (the document's).
    """
    issues: list[Issue] = []
    raw = data if isinstance(data, dict) or not isinstance(data, Mapping) else dict(data)
    outer = EMPTY_SCOPE if namespaces is None else Scope(dict(namespaces))
    event = read_event(raw, index, outer, issues, require_context=namespaces is None)
    if event is None:
        raise EpcisValidationError(issues)
    return event


def _check_document_type(document: dict[str, Any], sink: Sink) -> str:
    if "type" in document:
        document_type = document["type"]
        if document_type in ("EPCISDocument", "EPCISQueryDocument"):
            return str(document_type)
        sink.add(
            "type",
            f'{describe(document_type)} is not an EPCIS document type; expected "EPCISDocument"',
        )
        return "EPCISDocument"
    body = document.get("epcisBody")
    if not (type(body) is dict and type(body.get("eventList")) is list):
        # A document without type is tolerated when its epcisBody.eventList says what it is:
        # some producers omit it, and nothing else could be meant.
        sink.add("type", 'type is required: "EPCISDocument"')
    return "EPCISDocument"


def _check_document_fields(
    document: dict[str, Any], known: frozenset[str], scope: Scope, sink: Sink
) -> None:
    for key in document:
        if key not in known:
            check_extension(key, key, scope, sink)
    if "id" in document:
        ident = document["id"]
        # A JSON-LD blank node ("_:document1") is how GS1's examples name the document.
        if not (type(ident) is str and ident.startswith("_:") and len(ident) > 2):
            check_uri(ident, "id", sink, "a document URI")
    for key in ("instanceIdentifier", "sender", "receiver"):
        if key in document and type(document[key]) is not str:
            sink.add(key, f"expected a string, got {describe(document[key])}")


def _check_header(header: Any, scope: Scope, sink: Sink) -> dict[str, Any] | None:
    """epcisHeader: master data (epcisMasterData.vocabularyList) plus namespaced extensions."""
    if type(header) is not dict:
        sink.add("epcisHeader", f"expected an object, got {describe(header)}")
        return None
    for key, value in header.items():
        if key == "epcisMasterData":
            _check_master_data(value, "epcisHeader.epcisMasterData", sink)
        else:
            check_extension(key, f"epcisHeader.{key}", scope, sink)
    return header


def _check_master_data(value: Any, field: str, sink: Sink) -> None:
    if type(value) is not dict:
        sink.add(field, f"expected an object, got {describe(value)}")
        return
    if "vocabularyList" in value:
        _check_vocabulary_list(value["vocabularyList"], f"{field}.vocabularyList", sink)


def _check_vocabulary_list(vocabularies: Any, field: str, sink: Sink) -> None:
    if type(vocabularies) is not list:
        sink.add(field, f"expected an array, got {describe(vocabularies)}")
        return
    for position, vocabulary in enumerate(vocabularies):
        where = f"{field}[{position}]"
        if type(vocabulary) is not dict:
            sink.add(where, f"expected a vocabulary object, got {describe(vocabulary)}")
            continue
        if "type" not in vocabulary:
            sink.add(f"{where}.type", "type is required: the vocabulary type URI")
        else:
            check_uri(vocabulary["type"], f"{where}.type", sink, "a vocabulary type URI")
        elements = vocabulary.get("vocabularyElementList")
        if elements is None:
            continue
        if type(elements) is not list:
            sink.add(
                f"{where}.vocabularyElementList", f"expected an array, got {describe(elements)}"
            )
            continue
        for number, element in enumerate(elements):
            _check_vocabulary_element(element, f"{where}.vocabularyElementList[{number}]", sink)


def _check_vocabulary_element(element: Any, where: str, sink: Sink) -> None:
    if type(element) is not dict:
        sink.add(where, f"expected a vocabulary element object, got {describe(element)}")
        return
    if "id" not in element:
        sink.add(f"{where}.id", "id is required: the URI the master data describes")
    else:
        check_uri(element["id"], f"{where}.id", sink, "a master-data element URI")
    attributes = element.get("attributes")
    if attributes is not None:
        if type(attributes) is not list:
            sink.add(f"{where}.attributes", f"expected an array, got {describe(attributes)}")
        else:
            for number, attribute in enumerate(attributes):
                path = f"{where}.attributes[{number}]"
                if type(attribute) is not dict:
                    sink.add(path, f"expected an attribute object, got {describe(attribute)}")
                    continue
                if "id" not in attribute:
                    sink.add(f"{path}.id", "id is required: the attribute's URI")
                else:
                    check_uri(attribute["id"], f"{path}.id", sink, "an attribute URI")
                if "attribute" in attribute and type(attribute["attribute"]) not in (
                    int,
                    float,
                    str,
                    dict,
                ):
                    sink.add(
                        f"{path}.attribute",
                        "expected a number, string or object, "
                        f"got {describe(attribute['attribute'])}",
                    )
    children = element.get("children")
    if children is not None:
        if type(children) is not list:
            sink.add(f"{where}.children", f"expected an array of URIs, got {describe(children)}")
        else:
            for number, child in enumerate(children):
                check_uri(child, f"{where}.children[{number}]", sink, "a child URI")
