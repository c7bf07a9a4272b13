"""Every vector of ../shared/conformance/gs1-barcodes/vectors.json, read by medtrace.lib.udi.

Valid vectors must give the expected AIs in order and the expected dates, UDI and HIBC fields;
invalid ones must raise UdiError whose message states the key fact. Two valid vectors are
refused by documented policy: ISBT 128 and China MA (see medtrace.lib.udi.parser).
"""

from __future__ import annotations

from typing import Any

import biip
import pytest
from biip.gs1_messages import GS1Message

from medtrace.lib.tests.conftest import gs1_vectors
from medtrace.lib.udi import Identity, UdiError, issuing_agency, parse
from medtrace.lib.udi.ai_table import AI_RULES
from medtrace.lib.udi.gs1 import GS

VECTORS = gs1_vectors()

# The key facts each rejection message must state (compared case-insensitively).
REJECTION_FACTS: dict[str, list[str]] = {
    "gs1-es-03": ["(235)", "too long", "x..28", "29"],
    "gs1-es-04": ["(10)", "empty"],
    "gs1-es-05": ["(01)", "too long", "n14", "15"],
    "gs1-es-06": ["(01)", "gtin check digit", "should be 1", "got 4"],
    "gs1-es-07": ["(01)", "too short", "n14"],
    "gs1-es-09": ["(00)", "sscc check digit", "should be 5", "got 0"],
    "gs1-es-10": ["(11)", "month 13"],
    "gs1-es-12": ["(21)", "requires", "(01), (03) or (8006)"],
    "gs1-es-14": ["(01)", "(02)", "mutually exclusive"],
    "gs1-es-15": ["(250)", "requires", "(21)"],
    "gs1-es-16": ["(21)", "(235)", "mutually exclusive"],
    "gs1-es-17": ["(10)", "'^'", "cset 82"],
    "gs1-scan-05": ["]e0", "check digit", "should be 0", "got 1"],
    "gs1-scan-06": ["]d2", "no data"],
    "gs1-scan-07": ["(01)", "'^'", "not a digit"],
    "gs1-dl-06": ["(10)", "key qualifier", "path"],
    "gs1-dl-07": ["(10)", "more than once"],
    "gs1-dl-08": ["scheme 'http'", "not a gs1 digital link scheme"],
    "gs1-dl-09": ["must not end with '/'"],
    "gs1-dl-10": ["(01)", "14 digits", "got 13", "zero-suppressed"],
    "gs1-dl-11": ["unknown ai (89)"],
    "udi-gs1-06": ["(01)", "gtin check digit", "should be 8", "got 9"],
    "udi-gs1-07": ["(17)", "month 13"],
    "udi-hibc-04": ["check character", "should be 'h'", "got 'c'"],
    "udi-hibc-08": ["check character", "should be '7'", "got '/'"],
    "udi-hibc-09": ["link character", "'+'", "'g'"],
}

# Valid in the file (issuer detection only) but refused by policy, with the agency named.
REFUSED_BY_POLICY: dict[str, tuple[str, list[str]]] = {
    "udi-iccbba-01": ("ICCBBA", ["isbt 128", "not supported"]),
    "udi-cn-ma-01": ("MA", ["china ma", "not supported"]),
}


def _expiry_as_in_vectors(identity: Identity) -> str:
    hibc = identity.hibc
    assert hibc is not None and hibc.expiry is not None
    if hibc.expiry_precision == "month":
        return hibc.expiry.strftime("%Y-%m")
    if hibc.expiry_precision == "hour":
        return f"{hibc.expiry.isoformat()}T{hibc.expiry_hour:02d}"
    return hibc.expiry.isoformat()


def _check_gs1_expectations(identity: Identity, expected: dict[str, Any]) -> None:
    if "ais" in expected:
        assert identity.ais == tuple(tuple(pair) for pair in expected["ais"])
    if "unbracketed" in expected:
        assert "^" + identity.scan_data().replace(GS, "^") == expected["unbracketed"]
    for ai, iso in expected.get("dates", {}).items():
        resolved = identity.date_for(ai)
        assert resolved is not None and resolved.isoformat() == iso
    for ai, text in expected.get("measures", {}).items():
        amount, unit = text.split()[:2]
        assert str(identity.measure(ai)) == amount
        assert f"({unit})" in AI_RULES[ai].title
    if "symbology" in expected:
        assert identity.symbology is not None and identity.symbology_name is not None
        assert f"({identity.symbology})" in expected["symbology"]
        assert expected["symbology"].startswith(identity.symbology_name.split(" / ")[0])
    if "gtin14" in expected:
        assert identity.gtin == expected["gtin14"]
        assert identity.gtin.endswith(expected["data"])


def _check_udi_expectations(identity: Identity, udi: dict[str, str]) -> None:
    assert identity.di == udi["di"]
    assert identity.lot == udi.get("lot")
    assert identity.serial == udi.get("serial")
    expiry = identity.expiry.isoformat() if identity.expiry else None
    assert expiry == udi.get("expiry_date")
    manufactured = identity.manufactured.isoformat() if identity.manufactured else None
    assert manufactured == udi.get("manufacture_date")


def _check_hibc_expectations(identity: Identity, expected: dict[str, Any]) -> None:
    hibc = identity.hibc
    assert hibc is not None and identity.scheme == "hibcc"
    assert hibc.lic == expected["lic"]
    assert hibc.pcn == expected["pcn"]
    assert hibc.unit_of_measure == expected["unit_of_measure"]
    assert identity.di == expected["lic"] + expected["pcn"] + str(expected["unit_of_measure"])
    assert hibc.check_char == expected["check_char"]
    assert hibc.link_char == expected.get("link_char")
    assert hibc.lot == expected.get("lot") == identity.lot
    assert hibc.serial == expected.get("serial") == identity.serial
    if "expiry_date" in expected:
        assert _expiry_as_in_vectors(identity) == expected["expiry_date"]
        if "expiry_format" in expected:
            assert expected["expiry_format"].split(" ")[0] == hibc.expiry_format
    else:
        assert hibc.expiry is None
    manufactured = hibc.manufactured.isoformat() if hibc.manufactured else None
    assert manufactured == expected.get("manufacture_date")


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["id"] for vector in VECTORS])
def test_each_conformance_vector_is_read_as_documented(vector: dict[str, Any]) -> None:
    # Given one vector of the shared conformance file
    text = vector["input"]

    if vector["id"] in REFUSED_BY_POLICY:
        agency, facts = REFUSED_BY_POLICY[vector["id"]]
        # When it is parsed, then its issuer is recognised and the UDI is refused by policy
        assert issuing_agency(text) == agency
        with pytest.raises(UdiError) as refused:
            parse(text)
        assert refused.value.field == "issuer"
        assert all(fact in str(refused.value).lower() for fact in facts), str(refused.value)
    elif vector["valid"]:
        # When it is parsed, then the identity carries what the vector expects
        identity = parse(text)
        expected = vector["expected"]
        if "hibc" in expected:
            _check_hibc_expectations(identity, expected["hibc"])
        else:
            assert identity.scheme == "gs1"
            _check_gs1_expectations(identity, expected)
        if "udi" in expected:
            _check_udi_expectations(identity, expected["udi"])
    else:
        # When it is parsed, then it is rejected and the message states the key fact
        with pytest.raises(UdiError) as rejected:
            parse(text)
        message = str(rejected.value).lower()
        assert all(fact in message for fact in REJECTION_FACTS[vector["id"]]), message


def test_every_rejected_vector_has_its_key_facts_listed() -> None:
    # Given the vectors the file marks invalid
    invalid = {v["id"] for v in VECTORS if not v["valid"]}

    # Then each has the facts its rejection must state, and no stale entries remain
    assert invalid == set(REJECTION_FACTS)
    assert {v["id"] for v in VECTORS if v["category"] in ("udi-iccbba", "udi-china-ma")} == set(
        REFUSED_BY_POLICY
    )


def test_the_strict_hibc_policy_still_reads_the_fields_of_the_fda_example_correctly() -> None:
    # Given the FDA/HL7 HIBC example with its printed check character replaced by the computed one
    vector = next(v for v in VECTORS if v["id"] == "udi-hibc-04")
    corrected = vector["input"][:-1] + "H"

    # When it is parsed
    identity = parse(corrected)

    # Then every field matches the vector: only the check character was wrong
    expected = vector["expected"]["hibc"]
    _check_hibc_expectations(identity, {**expected, "check_char": "H"})


def _biip_pairs(vector: dict[str, Any]) -> list[tuple[str, str]]:
    text = vector["input"]
    if vector["category"] in ("gs1-element-string", "udi-gs1") and text.startswith("("):
        strings = GS1Message.parse_hri(text).element_strings
    else:
        result = biip.parse(text)
        if result.gs1_message is not None:
            strings = result.gs1_message.element_strings
        else:
            assert result.gs1_digital_link_uri is not None
            strings = result.gs1_digital_link_uri.element_strings
    return [(element.ai.ai, element.value) for element in strings]


BIIP_AGREES = [
    v
    for v in VECTORS
    if v["valid"]
    and "ais" in v.get("expected", {})
    and any("biip" in tool and result.endswith("ok") for tool, result in v["checked_with"].items())
]


@pytest.mark.parametrize("vector", BIIP_AGREES, ids=[v["id"] for v in BIIP_AGREES])
def test_biip_splits_every_valid_gs1_vector_into_the_same_ais_as_we_do(
    vector: dict[str, Any],
) -> None:
    # Given a valid GS1 vector that biip also accepts
    # When both parsers read it
    ours = list(parse(vector["input"]).ais)

    # Then they agree on every AI and value (biip is our second opinion on the split)
    assert _biip_pairs(vector) == ours
