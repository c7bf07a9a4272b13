"""EPCIS 2.0 / CBV 2.0 validation and normalisation (pure Python, no Django).

``parse_document`` checks a JSON/JSON-LD capture document against the EPCIS 2.0 structure, the
CBV 2.0 vocabularies and the namespace rule for extensions, and returns normalised events for
the ledger; every problem found is reported as an Issue in one EpcisValidationError.
``iter_events`` does the same for a large document read from a stream (needs ijson).
"""

from medtrace.lib.epcis.document import parse_document, parse_event
from medtrace.lib.epcis.errors import EpcisValidationError, Issue
from medtrace.lib.epcis.model import EpcisDocument, ErrorDeclaration, Event, QuantityElement
from medtrace.lib.epcis.stream import EventStream, iter_events

__all__ = [
    "EpcisDocument",
    "EpcisValidationError",
    "ErrorDeclaration",
    "Event",
    "EventStream",
    "Issue",
    "QuantityElement",
    "iter_events",
    "parse_document",
    "parse_event",
]
