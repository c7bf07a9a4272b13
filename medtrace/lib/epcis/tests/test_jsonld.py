"""@context handling and the namespace rule for extension fields."""

from __future__ import annotations

import pytest

from medtrace.lib.epcis import EpcisValidationError, Issue, parse_document
from medtrace.lib.epcis.jsonld import (
    KNOWN_CONTEXTS,
    SIMPLE_CONTEXT_PREFIXES,
    STANDARD_CONTEXT_PREFIXES,
)
from medtrace.lib.epcis.tests import factories
from medtrace.lib.epcis.tests.conftest import EPCIS_DIR, load_json


def _prefixes(file_name: str) -> dict[str, str]:
    context = load_json(EPCIS_DIR / "context" / file_name)["@context"]
    return {
        term: iri
        for term, iri in context.items()
        if isinstance(iri, str)
        and not term.startswith("@")
        and not iri.startswith("@")
        and iri.endswith(("/", "#", ":"))
    }


def _issues(document: dict) -> list[Issue]:
    with pytest.raises(EpcisValidationError) as caught:
        parse_document(document)
    return caught.value.issues


def test_our_standard_context_prefixes_equal_the_gs1_context_file() -> None:
    assert _prefixes("epcis-context.jsonld") == STANDARD_CONTEXT_PREFIXES


def test_our_simple_context_prefixes_equal_the_gs1_simple_context_file() -> None:
    assert _prefixes("epcis-context-simple.jsonld") == SIMPLE_CONTEXT_PREFIXES


def test_the_standard_context_urls_the_examples_use_are_known() -> None:
    assert KNOWN_CONTEXTS[factories.STANDARD_CONTEXT] is STANDARD_CONTEXT_PREFIXES
    assert (
        KNOWN_CONTEXTS["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
        is STANDARD_CONTEXT_PREFIXES
    )


def test_document_namespaces_combine_the_standard_and_the_local_prefixes() -> None:
    parsed = parse_document(factories.document(factories.object_event()))
    assert parsed.namespaces["example"] == factories.EXAMPLE_NAMESPACE
    assert parsed.namespaces["gs1"] == "https://gs1.org/voc/"
    assert parsed.namespaces["cbv"] == "https://ref.gs1.org/cbv/"


def test_an_extension_field_without_a_namespace_is_refused_with_how_to_fix_it() -> None:
    issues = _issues(factories.document(factories.object_event(ilmd={"lotNumber": "L1"})))
    assert [(issue.index, issue.field) for issue in issues] == [(0, "ilmd.lotNumber")]
    assert issues[0].message == (
        "extension field without a namespace; declare a prefix in @context "
        '(e.g. "example": "https://ns.example.com/epcis/") and write example:lotNumber'
    )


def test_an_extension_field_with_an_undeclared_prefix_is_refused() -> None:
    issues = _issues(factories.document(factories.object_event(**{"acme:lot": "L1"})))
    assert [(issue.index, issue.field) for issue in issues] == [(0, "acme:lot")]
    assert "prefix 'acme', which no @context in scope declares" in issues[0].message


@pytest.mark.parametrize(
    "name", ["https://ns.acme.example/epcis/lot", "urn:acme:epcis:lot", "gs1:lotNumber"]
)
def test_a_full_iri_or_a_standard_prefix_names_an_extension(name: str) -> None:
    parsed = parse_document(factories.document(factories.object_event(**{name: "L1"})))
    assert parsed.events[0].raw[name] == "L1"


def test_names_nested_inside_an_extension_value_are_the_extension_owners_business() -> None:
    raw = factories.object_event(**{"example:sterilisation": {"cycle": 4, "load": ["a"]}})
    assert len(parse_document(factories.document(raw)).events) == 1


def test_an_event_level_context_declares_prefixes_for_that_event_only() -> None:
    # given two events using prefix ext2, which only the first declares
    declared = factories.object_event(
        **{"@context": [{"ext2": "http://www.ext2.net/"}], "ext2:address": "Cologne"}
    )
    undeclared = factories.object_event(**{"ext2:address": "Bonn"})
    # then only the second is refused
    issues = _issues(factories.document(declared, undeclared))
    assert [(issue.index, issue.field) for issue in issues] == [(1, "ext2:address")]


def test_a_remote_context_we_do_not_know_may_declare_prefixes_we_cannot_see() -> None:
    # given a document that references a context we cannot fetch
    document = factories.document(
        factories.object_event(**{"acme:lot": "L1"}),
        context=[factories.STANDARD_CONTEXT, "https://acme.example/epcis-context.jsonld"],
    )
    # then its prefixed names are accepted (we never fetch contexts)...
    assert len(parse_document(document).events) == 1
    # ... but a name without any prefix is still refused
    document["epcisBody"]["eventList"][0]["lot"] = "L1"
    assert [(i.index, i.field) for i in _issues(document)] == [(0, "lot")]


def test_a_context_array_that_repeats_an_entry_is_refused() -> None:
    document = factories.document(
        factories.object_event(), context=[factories.STANDARD_CONTEXT, factories.STANDARD_CONTEXT]
    )
    assert [(i.index, i.field) for i in _issues(document)] == [(None, "@context[1]")]


def test_a_context_entry_that_is_neither_url_nor_object_is_refused() -> None:
    document = factories.document(factories.object_event(), context=[factories.STANDARD_CONTEXT, 7])
    assert [(i.index, i.field) for i in _issues(document)] == [(None, "@context[1]")]


def test_unknown_top_level_document_and_body_fields_need_a_namespace() -> None:
    document = factories.document(factories.object_event(), comment="hello")
    document["epcisBody"]["example:batch"] = "B1"
    document["epcisBody"]["batch"] = "B1"
    assert {(i.index, i.field) for i in _issues(document)} == {
        (None, "comment"),
        (None, "epcisBody.batch"),
    }
