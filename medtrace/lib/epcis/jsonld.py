"""JSON-LD @context handling: which namespace prefixes are in scope, and the extension-name rule.

We never fetch a context over the network. The prefixes of the standard EPCIS 2.0 contexts are
written here from the GS1 context files (a test proves they agree); any other remote context is
opaque to us, so a document that references one may use prefixes we cannot see (see Scope).

EPCIS 2.0 user extensions: a property that the standard does not define must be a namespaced
name: ``prefix:name`` with the prefix declared in an in-scope @context, or a full IRI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medtrace.lib.epcis.values import Sink, describe, is_uri

__all__ = [
    "KNOWN_CONTEXTS",
    "SIMPLE_CONTEXT_PREFIXES",
    "STANDARD_CONTEXT_PREFIXES",
    "Scope",
    "check_extension",
    "read_context",
]

# The prefixes defined by https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld.
STANDARD_CONTEXT_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# The prefixes of the "simple" context used by GS1's simple-context examples.
SIMPLE_CONTEXT_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "gs1": "https://gs1.org/voc/",
    "vtype": "urn:epcglobal:epcis:vtype:",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# Context URLs we know without fetching them: the normative URL, its unversioned alias, and the
# drafting-repository copies that GS1's examples reference.
KNOWN_CONTEXTS: dict[str, dict[str, str]] = {
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld": STANDARD_CONTEXT_PREFIXES,
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": STANDARD_CONTEXT_PREFIXES,
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": STANDARD_CONTEXT_PREFIXES,
    "https://gs1.github.io/EPCIS/epcis-context-simple.jsonld": SIMPLE_CONTEXT_PREFIXES,
}

_EXAMPLE_NAMESPACE = '"example": "https://ns.example.com/epcis/"'


class Scope:
    """The namespace prefixes in scope at one level of a document.

    ``opaque`` is True when an in-scope @context references a remote context we do not know: it
    may declare prefixes we cannot see, so an undeclared prefix is not held against the sender
    (a bare name without any prefix still is).
    """

    __slots__ = ("namespaces", "opaque")

    def __init__(self, namespaces: dict[str, str], opaque: bool = False) -> None:
        self.namespaces = namespaces
        self.opaque = opaque


EMPTY_SCOPE = Scope({})


def read_context(context: Any, field: str, sink: Sink, outer: Scope) -> Scope:
    """Check a @context value (string, object or array of those) and return the scope it makes.

    Definitions in ``context`` are added to (and may override) those of ``outer``.
    """
    items: list[Any]
    if isinstance(context, list):
        items = context
        _check_unique(items, field, sink)
    else:
        items = [context]
    namespaces = dict(outer.namespaces)
    opaque = outer.opaque
    for position, item in enumerate(items):
        where = f"{field}[{position}]" if isinstance(context, list) else field
        if isinstance(item, str):
            known = KNOWN_CONTEXTS.get(item)
            if known is not None:
                namespaces.update(known)
            elif is_uri(item):
                opaque = True
            else:
                sink.add(
                    where, f"{describe(item)} is not a context URL; expected a URI or an object"
                )
        elif isinstance(item, dict):
            _read_definitions(item, namespaces)
        else:
            sink.add(
                where,
                f"expected a context URL or an object of term definitions, got {describe(item)}",
            )
    return Scope(namespaces, opaque)


def _read_definitions(definitions: Mapping[str, Any], namespaces: dict[str, str]) -> None:
    for term, definition in definitions.items():
        if term.startswith("@") or ":" in term:
            continue
        if isinstance(definition, str):
            if not definition.startswith("@"):
                namespaces[term] = definition
        elif isinstance(definition, dict) and definition.get("@prefix") is True:
            iri = definition.get("@id")
            if isinstance(iri, str):
                namespaces[term] = iri


def _check_unique(items: list[Any], field: str, sink: Sink) -> None:
    seen: list[Any] = []
    for position, item in enumerate(items):
        if item in seen:
            sink.add(f"{field}[{position}]", "the same context appears twice in the array")
        else:
            seen.append(item)


def name_problem(name: str, scope: Scope) -> str | None:
    """Why ``name`` is not an acceptable extension name, or None if it is."""
    colon = name.find(":")
    if colon <= 0:
        return (
            "extension field without a namespace; declare a prefix in @context "
            f"(e.g. {_EXAMPLE_NAMESPACE}) and write example:{name}"
        )
    prefix = name[:colon]
    if prefix in scope.namespaces:
        return None
    if name.startswith("//", colon + 1) or prefix.lower() == "urn":
        # A full IRI (https://..., urn:...) names the property without any prefix.
        if is_uri(name):
            return None
        return f"extension field {name!r} is not a valid IRI"
    if scope.opaque:
        return None
    return (
        f"extension field {name!r} uses the prefix {prefix!r}, which no @context in scope "
        f'declares; add "{prefix}": "<namespace IRI>" to @context'
    )


def check_extension(name: str, field: str, scope: Scope, sink: Sink) -> None:
    """Record an issue if ``name``, a property EPCIS does not define here, is not namespaced.

    Only the extension's own name is held to the rule. Names nested inside its value belong to
    the extension's owner: valid OpenEPCIS capture documents nest plain names there
    ("example:extension": {"moreExtensions": ...}), and the JSON Schema does not look inside.
    """
    problem = name_problem(name, scope)
    if problem is not None:
        sink.add(field, problem)
