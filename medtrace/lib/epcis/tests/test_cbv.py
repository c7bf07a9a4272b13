"""CBV 2.0 vocabularies: our own lists agree with the GS1 ontology and the JSON-LD contexts."""

from __future__ import annotations

import re

import pytest

from medtrace.lib.epcis import cbv
from medtrace.lib.epcis.tests.conftest import EPCIS_DIR, load_json

CONTEXT_DIR = EPCIS_DIR / "context" / "modular"
CBV_TTL = EPCIS_DIR / "ontology" / "CBV.ttl"

# kind -> (our frozenset, modular context file, ontology class)
VOCABULARY_SOURCES = {
    "bizStep": (cbv.BIZ_STEPS, "cbv-context-bizstep.jsonld", "BizStep"),
    "disposition": (cbv.DISPOSITIONS, "cbv-context-disposition.jsonld", "Disp"),
    "bizTransactionType": (
        cbv.BIZ_TRANSACTION_TYPES,
        "cbv-context-biztransaction-type.jsonld",
        "BTT",
    ),
    "sourceDestType": (cbv.SOURCE_DEST_TYPES, "cbv-context-sourcedest-type.jsonld", "SDT"),
    "errorReason": (cbv.ERROR_REASONS, "cbv-context-error-reason.jsonld", "ER"),
    "component": (cbv.COMPONENTS, "cbv-context-component.jsonld", "Comp"),
}


def _context_terms(file_name: str) -> dict[str, str]:
    context = load_json(CONTEXT_DIR / file_name)["@context"]
    return {k: v for k, v in context.items() if not k.startswith("@") and k not in {"cbv", "gs1"}}


def _ontology_individuals() -> dict[str, dict[str, str]]:
    """class -> {term: 1.x URN} for every `cbv:<Class>-<term> a cbv:<Class>` in CBV.ttl."""
    text = CBV_TTL.read_text(encoding="utf-8")
    found: dict[str, dict[str, str]] = {}
    blocks = re.split(r"\n(?=cbv:)", text)
    for block in blocks:
        head = re.match(r"cbv:([A-Za-z]+)-(\w+)\s+a\s+cbv:(\w+)\s*;", block)
        if head is None:
            continue
        klass, term, declared = head.groups()
        assert klass == declared, block[:80]
        same_as = re.search(r"owl:sameAs\s+<([^>]+)>", block)
        assert same_as is not None, block[:80]
        found.setdefault(klass, {})[term] = same_as.group(1)
    return found


@pytest.mark.parametrize("kind", list(VOCABULARY_SOURCES))
def test_our_term_list_equals_the_cbv_sub_context(kind: str) -> None:
    # given the GS1 modular JSON-LD sub-context for this vocabulary
    ours, file_name, klass = VOCABULARY_SOURCES[kind]
    terms = _context_terms(file_name)
    # then it defines exactly our terms, each mapped to its cbv: Web URI
    assert set(terms) == set(ours)
    for term, iri in terms.items():
        assert iri == f"cbv:{klass}-{term}"


@pytest.mark.parametrize("kind", list(VOCABULARY_SOURCES))
def test_our_term_list_equals_the_cbv_ontology(kind: str) -> None:
    # given the individuals of the CBV ontology class for this vocabulary
    ours, _, klass = VOCABULARY_SOURCES[kind]
    individuals = _ontology_individuals()[klass]
    # then they are exactly our terms
    assert set(individuals) == set(ours)


@pytest.mark.parametrize("kind", list(VOCABULARY_SOURCES))
def test_every_spelling_in_the_ontology_reads_back_as_the_bare_term(kind: str) -> None:
    # given each term's Web URI and its owl:sameAs 1.x URN from the ontology
    _, _, klass = VOCABULARY_SOURCES[kind]
    for term, urn in _ontology_individuals()[klass].items():
        web_uri = f"https://ref.gs1.org/cbv/{klass}-{term}"
        # when read in any spelling, then it is the bare term, and to_uri gives the Web URI
        for spelling in (term, web_uri, urn, f"cbv:{klass}-{term}"):
            assert cbv.to_bare(kind, spelling) == term
            assert cbv.to_uri(kind, spelling) == web_uri


def test_the_ontology_has_no_cbv_class_we_do_not_cover() -> None:
    # given every class with individuals in CBV.ttl
    classes = set(_ontology_individuals())
    # then we have a term list for each of them
    assert classes == {klass for _, _, klass in VOCABULARY_SOURCES.values()}


def test_sensor_alert_types_equal_the_gs1_sub_context() -> None:
    terms = _context_terms("gs1-context-sensor-alert-type.jsonld")
    assert set(terms) == cbv.SENSOR_ALERT_TYPES
    assert all(iri == f"gs1:{term}" for term, iri in terms.items())


def test_the_five_epcis_vocabularies_are_keyed_by_their_field_kind() -> None:
    assert set(cbv.VOCABULARIES) == {
        "bizStep",
        "disposition",
        "bizTransactionType",
        "sourceDestType",
        "errorReason",
    }


@pytest.mark.parametrize(
    ("kind", "value", "uri"),
    [
        ("bizStep", "shipping", "https://ref.gs1.org/cbv/BizStep-shipping"),
        (
            "bizStep",
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
        ),
        ("disposition", "in_transit", "https://ref.gs1.org/cbv/Disp-in_transit"),
        ("bizTransactionType", "po", "https://ref.gs1.org/cbv/BTT-po"),
        ("sourceDestType", "owning_party", "https://ref.gs1.org/cbv/SDT-owning_party"),
        ("errorReason", "incorrect_data", "https://ref.gs1.org/cbv/ER-incorrect_data"),
    ],
)
def test_to_uri_gives_the_gs1_web_uri(kind: str, value: str, uri: str) -> None:
    assert cbv.to_uri(kind, value) == uri


def test_a_non_cbv_uri_is_kept_unchanged() -> None:
    # given a private business step URI and a cbv: CURIE that is not a CBV term
    private = "https://example.com/bizStep/inspecting"
    # then both normalise and convert to themselves, and have no bare form
    assert cbv.normalize("bizStep", private) == private
    assert cbv.to_uri("bizStep", private) == private
    assert cbv.to_bare("bizStep", private) is None
    assert cbv.normalize("sourceDestType", "cbv:my_own_party") == "cbv:my_own_party"


def test_a_cbv_term_of_another_vocabulary_is_not_taken_as_this_one() -> None:
    # "shipping" is a business step, not a disposition
    assert cbv.to_bare("disposition", "shipping") is None
    assert cbv.to_bare("disposition", "https://ref.gs1.org/cbv/BizStep-shipping") is None


def test_normalize_stores_the_bare_term_for_any_spelling() -> None:
    for spelling in (
        "in_progress",
        "urn:epcglobal:cbv:disp:in_progress",
        "https://ref.gs1.org/cbv/Disp-in_progress",
    ):
        assert cbv.normalize("disposition", spelling) == "in_progress"


def test_a_bare_word_that_is_not_a_cbv_term_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError) as caught:
        cbv.normalize("bizStep", "foo")
    assert str(caught.value) == (
        "bizStep 'foo' is not a CBV 2.0 business step; use a CBV term such as 'shipping' or a URI"
    )
    with pytest.raises(ValueError, match=r"not a CBV 2\.0 disposition"):
        cbv.to_uri("disposition", "in transit")


def test_an_unknown_vocabulary_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown CBV vocabulary"):
        cbv.to_bare("colour", "red")
