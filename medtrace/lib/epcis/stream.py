"""Streaming read of large capture documents (100 MB and more) with flat memory.

Two passes over a seekable binary stream: the first reads everything but the events (the
@context may come after epcisBody, so the namespaces are only known at the end), the second
yields the events one at a time. ijson's C backend does the tokenising; it is imported here
only, so ``medtrace.lib.epcis`` works without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from medtrace.lib.epcis.document import read_head
from medtrace.lib.epcis.errors import EpcisValidationError, Issue
from medtrace.lib.epcis.events import read_event
from medtrace.lib.epcis.model import EpcisDocument, Event
from medtrace.lib.epcis.values import Sink

__all__ = ["EventStream", "iter_events"]

_EVENTS = "epcisBody.eventList.item"
_Token = tuple[str, str, Any]


class EventStream(Iterator[Event]):
    """The events of a capture document, validated one by one as they are read.

    ``document`` is the document without its events (context, header, namespaces). Invalid events
    are not yielded; their issues are gathered, and EpcisValidationError listing all of them is
    raised when the stream is exhausted. A caller that writes while it reads must therefore
    write in a transaction and roll back on that error (all-or-nothing capture).
    """

    def __init__(self, document: EpcisDocument, events: Iterator[Event]) -> None:
        self.document = document
        self._events = events

    def __next__(self) -> Event:
        return next(self._events)


def iter_events(stream: BinaryIO) -> EventStream:
    """Validate a capture document from a seekable binary stream, yielding its events.

    Document-level issues are raised at once (after the events have been checked too, so that
    every issue is reported).
    """
    import ijson  # optional dependency, see the module docstring

    start = stream.tell()
    issues: list[Issue] = []
    sink = Sink(issues, None)
    try:
        skeleton = _skeleton(ijson.parse(stream, use_float=True))
    except ijson.JSONError as exc:
        raise EpcisValidationError(
            [Issue(None, "", f"the document is not valid JSON: {exc}")]
        ) from None
    if type(skeleton) is not dict:
        raise EpcisValidationError([Issue(None, "", "expected an EPCISDocument object")])
    if skeleton.get("type") == "EPCISQueryDocument":
        sink.add("type", "the streaming reader takes capture documents (EPCISDocument) only")
    head = read_head(skeleton, sink)
    head_failed = bool(issues)

    def events() -> Iterator[Event]:
        if head.event_list is not None:
            stream.seek(start)
            try:
                for index, raw in enumerate(ijson.items(stream, _EVENTS, use_float=True)):
                    event = read_event(raw, index, head.scope, issues)
                    if event is not None and not head_failed:
                        yield event
            except ijson.JSONError as exc:
                issues.append(Issue(None, "", f"the document is not valid JSON: {exc}"))
        if issues:
            raise EpcisValidationError(issues)

    if head_failed:
        for _ in events():
            pass  # raises with every issue, the events' included
    return EventStream(head.document([]), events())


def _skeleton(tokens: Iterator[_Token]) -> Any:
    """The document with each event list replaced by an empty list, read from parse tokens."""
    first = next(tokens)
    if first[1] != "start_map":
        return _value(first, tokens)
    document: dict[str, Any] = {}
    for _prefix, event, value in tokens:
        if event == "end_map":
            break
        # event == "map_key" at the top level
        token = next(tokens)
        document[value] = _body(token, tokens) if value == "epcisBody" else _value(token, tokens)
    return document


def _body(first: _Token, tokens: Iterator[_Token]) -> Any:
    if first[1] != "start_map":
        return _value(first, tokens)
    body: dict[str, Any] = {}
    for _prefix, event, value in tokens:
        if event == "end_map":
            break
        token = next(tokens)
        if value == "eventList" and token[1] == "start_array":
            _skip(tokens)
            body[value] = []  # the events are read in the second pass
        else:
            body[value] = _value(token, tokens)
    return body


def _skip(tokens: Iterator[_Token]) -> None:
    """Skip the rest of an array or object whose start token has been read."""
    depth = 1
    for _prefix, event, _ in tokens:
        if event == "start_map" or event == "start_array":
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth == 0:
                return


def _value(first: _Token, tokens: Iterator[_Token]) -> Any:
    """Build one JSON value whose first token has been read."""
    from ijson.common import ObjectBuilder

    builder = ObjectBuilder()
    _prefix, event, value = first
    builder.event(event, value)
    if event != "start_map" and event != "start_array":
        return builder.value
    depth = 1
    for _prefix, event, value in tokens:
        builder.event(event, value)
        if event == "start_map" or event == "start_array":
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if depth == 0:
                break
    return builder.value
