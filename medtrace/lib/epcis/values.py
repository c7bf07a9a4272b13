"""Checks of single JSON values: URIs, RFC 3339 timestamps, offsets, numbers, CBV terms.

Each check takes the value, the field path for messages and the issue sink, and returns the
parsed value, or None after recording an issue. They are plain functions over plain JSON so that
a 10,000-event capture stays fast (no model objects are built per event).
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from medtrace.lib.epcis import cbv
from medtrace.lib.epcis.errors import Issue

__all__ = [
    "Sink",
    "check_date_time",
    "check_number",
    "check_offset",
    "check_uri",
    "check_vocabulary",
    "describe",
    "is_uri",
]


class Sink:
    """Collects issues for one event (or the document, index None)."""

    __slots__ = ("index", "issues")

    def __init__(self, issues: list[Issue], index: int | None) -> None:
        self.issues = issues
        self.index = index

    def add(self, field: str, message: str) -> None:
        self.issues.append(Issue(self.index, field, message))


def describe(value: Any) -> str:
    """A short rendering of a JSON value for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)


# RFC 3986 §3: a URI is a scheme, ':' and characters from the unreserved, reserved and
# percent-encoded sets only (no spaces, no quotes, no non-ASCII: those make it an IRI).
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*\Z")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_uri(value: str) -> bool:
    if _URI.match(value) is None:
        return False
    return "%" not in value or _BAD_PERCENT.search(value) is None


def check_uri(value: Any, field: str, sink: Sink, what: str = "a URI") -> str | None:
    if type(value) is str and is_uri(value):
        return value
    if type(value) is not str:
        sink.add(field, f"expected {what} as a string, got {describe(value)}")
    else:
        sink.add(
            field,
            f"{describe(value)} is not a URI; expected {what}, with a scheme and no spaces "
            "(e.g. 'urn:epc:id:sgtin:0614141.107346.2017' or 'https://id.gs1.org/01/...')",
        )
    return None


# RFC 3339 §5.6 date-time (as JSON Schema "date-time" reads it): full date, 'T', full time with
# optional fraction, and a mandatory offset.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z"
)
_EXAMPLE_TIME = "2024-05-01T09:30:00.000+08:00"


def check_date_time(value: Any, field: str, sink: Sink) -> datetime | None:
    """An RFC 3339 date-time with offset, returned timezone-aware in UTC."""
    if type(value) is str:
        match = _DATE_TIME.match(value)
        if match is not None:
            parsed = _parse_date_time(value, match)
            if parsed is not None:
                return parsed
    sink.add(
        field,
        f"{describe(value)} is not an RFC 3339 date-time; expected date, 'T', time and UTC "
        f"offset, e.g. {_EXAMPLE_TIME!r}",
    )
    return None


def _parse_date_time(value: str, match: re.Match[str]) -> datetime | None:
    text = value
    leap = match.group(6) == "60"
    if leap:
        # RFC 3339 allows a leap second; datetime cannot hold one, so read :59 and add a second.
        text = text[: match.start(6)] + "59" + text[match.end(6) :]
    if match.group(8) in "Zz" or "t" in text:
        text = text.upper()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if leap:
        parsed += timedelta(seconds=1)
    if parsed.utcoffset():
        parsed = parsed.astimezone(UTC)
    elif parsed.tzinfo is not UTC:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# EPCIS 2.0 JSON Schema, eventTimeZoneOffset.
_OFFSET = re.compile(r"[+-]((0[0-9]|1[0-3]):([0-5][0-9])|14:00)\Z")


def check_offset(value: Any, field: str, sink: Sink) -> str | None:
    if type(value) is str and _OFFSET.match(value) is not None:
        return value
    sink.add(
        field,
        f"{describe(value)} is not a time zone offset; expected '+hh:mm' or '-hh:mm' between "
        "-14:00 and +14:00, e.g. '+08:00'",
    )
    return None


def check_number(value: Any, field: str, sink: Sink) -> Decimal | None:
    """A JSON number (not a string, not a boolean), returned exactly as written."""
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            sink.add(field, f"{describe(value)} is not a finite number")
            return None
        # repr gives the shortest decimal that reads back as this float: what the JSON said.
        return Decimal(repr(value))
    if kind is Decimal:
        return value
    sink.add(field, f"{describe(value)} is not a number; expected a JSON number such as 20 or 2.5")
    return None


_VOCAB_HUMAN = {
    "bizStep": "business step",
    "disposition": "disposition",
    "bizTransactionType": "business transaction type",
    "sourceDestType": "source/destination type",
    "errorReason": "error reason",
    "component": "sensor component",
}
_WEB_CLASS = {
    "bizStep": "BizStep-",
    "disposition": "Disp-",
    "bizTransactionType": "BTT-",
    "sourceDestType": "SDT-",
    "errorReason": "ER-",
    "component": "Comp-",
}
_TERMS: dict[str, frozenset[str]] = {**cbv.VOCABULARIES, "component": cbv.COMPONENTS}


def check_vocabulary(kind: str, value: Any, field: str, sink: Sink) -> str | None:
    """A CBV-governed value (bizStep, disposition, ...), returned in cbv.normalize form.

    EPCIS 2.0 JSON writes a CBV term bare ("shipping"); anything else must be a URI. Like the
    GS1 JSON Schema we refuse the EPCIS 1.x URN spelling (urn:epcglobal:cbv:...) here: that form
    belongs to XML. A Web URI or cbv: CURIE in the CBV namespace must name a real CBV term.
    """
    terms = _TERMS[kind]
    if value in terms:
        return value
    human = _VOCAB_HUMAN[kind]
    if type(value) is not str:
        sink.add(field, f"expected a CBV {human} or a URI as a string, got {describe(value)}")
        return None
    if not cbv.is_uri(value):
        sink.add(field, _not_a_term(kind, value, terms))
        return None
    lowered = value.lower()
    if lowered.startswith("urn:epcglobal:cbv"):
        bare = cbv.to_bare(kind, value)
        hint = f"write the bare term {bare!r}" if bare else f"use a CBV 2.0 {human} or a URI"
        sink.add(
            field,
            f"{describe(value)} is an EPCIS 1.x CBV URN, which EPCIS 2.0 JSON does not use; {hint}",
        )
        return None
    if lowered.startswith(("http://ns.gs1.org/cbv/", "https://ns.gs1.org/cbv/")):
        sink.add(
            field,
            f"{describe(value)} is not a CBV 2.0 URI; CBV 2.0 terms live under "
            f"{cbv.WEB_URI_BASE} or are written bare",
        )
        return None
    bare = cbv.to_bare(kind, value)
    if bare is not None:
        return bare
    web_class = _WEB_CLASS[kind]
    for prefix in (cbv.WEB_URI_BASE + web_class, "cbv:" + web_class):
        if value.startswith(prefix):
            sink.add(field, _not_a_term(kind, value[len(prefix) :], terms, spelled=value))
            return None
    if not is_uri(value):
        sink.add(
            field,
            f"{describe(value)} is not a valid URI (it has spaces or characters a URI cannot hold)",
        )
        return None
    return value


def _not_a_term(kind: str, term: str, terms: frozenset[str], spelled: str | None = None) -> str:
    if spelled is None:
        message = cbv.not_a_term_message(kind, term)
    else:
        message = (
            f"{kind} {spelled!r} is in the CBV namespace but {term!r} is not a CBV 2.0 "
            f"{_VOCAB_HUMAN[kind]}"
        )
    close = difflib.get_close_matches(term.lower(), sorted(terms), n=1)
    if close and repr(close[0]) not in message:
        message += f" (did you mean {close[0]!r}?)"
    return message
