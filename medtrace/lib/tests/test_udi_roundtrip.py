"""Round trips: what medtrace builds, parse reads back; EPC URIs match the EPC TDS examples."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medtrace.lib.udi import (
    UdiError,
    build_element_string,
    build_hibc,
    gs1_check_digit,
    hibc_check_char,
    hibc_lot_urn,
    hibc_urn,
    lgtin_urn,
    parse,
    sgln_urn,
    sgtin_pattern_urn,
    sgtin_urn,
    sscc_urn,
)
from medtrace.lib.udi.checkdigit import CSET82, HIBC_CHARSET
from medtrace.lib.udi.dates import gs1_full_year

# --- EPC Tag Data Standard examples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("built", "urn"),
    [
        (lambda: sgtin_urn("80614141123458", "6789", 7), "urn:epc:id:sgtin:0614141.812345.6789"),
        (
            lambda: lgtin_urn("04012345123456", "998877", 7),
            "urn:epc:class:lgtin:4012345.012345.998877",
        ),
        (lambda: sscc_urn("106141412345678908", 7), "urn:epc:id:sscc:0614141.1234567890"),
        (lambda: sgln_urn("0614141123452", "5678", 7), "urn:epc:id:sgln:0614141.12345.5678"),
        (lambda: sgln_urn("0614141123452", None, 7), "urn:epc:id:sgln:0614141.12345.0"),
        (lambda: sgtin_pattern_urn("80614141123458", 7), "urn:epc:idpat:sgtin:0614141.812345.*"),
    ],
    ids=["sgtin", "lgtin", "sscc", "sgln-extension", "sgln-no-extension", "sgtin-class"],
)
def test_epc_builders_give_the_epc_tds_examples(built, urn) -> None:
    # Given the keys of an EPC TDS example, when the URN is built, then it is the published one
    assert built() == urn


@pytest.mark.parametrize(
    ("text", "urn"),
    [
        ("(01)80614141123458(21)6789", "urn:epc:id:sgtin:0614141.812345.6789"),
        ("(01)04012345123456(10)998877", "urn:epc:class:lgtin:4012345.012345.998877"),
        ("(00)106141412345678908", "urn:epc:id:sscc:0614141.1234567890"),
        ("(414)0614141123452(254)5678", "urn:epc:id:sgln:0614141.12345.5678"),
        ("(414)0614141123452", "urn:epc:id:sgln:0614141.12345.0"),
        ("(01)80614141123458", "urn:epc:idpat:sgtin:0614141.812345.*"),
    ],
)
def test_identity_epc_is_the_canonical_urn_once_the_company_prefix_length_is_known(
    text: str, urn: str
) -> None:
    # Given a parsed GS1 identifier without a company-prefix length
    identity = parse(text)
    assert identity.epc is None

    # When the length is supplied, then the EPC URN is formed
    assert identity.with_gcp_length(7).epc == urn
    assert parse(text, gcp_length=7).epc == urn
    asked: list[str] = []

    def company_prefix_length(key: str) -> int:
        asked.append(key)
        return 7

    assert parse(text, gcp_length=company_prefix_length).epc == urn
    assert asked == [identity.epc_key]


@pytest.mark.parametrize(
    "urn",
    [
        "urn:epc:id:sgtin:0614141.812345.6789",
        "urn:epc:class:lgtin:4012345.012345.998877",
        "urn:epc:id:sscc:0614141.1234567890",
        "urn:epc:id:sgln:0614141.12345.5678",
        "urn:epc:id:sgln:0614141.12345.0",
        "urn:epc:idpat:sgtin:0614141.812345.*",
        "urn:epc:id:sgtin:0614141.812345.A%2FB%25",
        "urn:medtrace:hibc:A123.BJC5D6E71:XYZ456",
        "urn:medtrace:hibc-lot:A123.BJC5D6E71:10X3",
    ],
)
def test_an_epc_urn_parses_to_an_identity_whose_epc_is_the_same_urn(urn: str) -> None:
    # Given a canonical URN, when it is parsed, then the identity gives it back unchanged
    identity = parse(urn)
    assert identity.scheme == "epc"
    assert identity.epc == urn


def test_an_sgtin_urn_fills_the_gs1_fields_and_the_ais() -> None:
    # Given the TDS SGTIN with an escaped serial
    identity = parse("urn:epc:id:sgtin:0614141.812345.A%2FB")

    # Then the GTIN is rebuilt with its check digit and the serial is unescaped
    assert identity.gtin == "80614141123458"
    assert identity.serial == "A/B"
    assert identity.gcp_length == 7
    assert identity.ais == (("01", "80614141123458"), ("21", "A/B"))
    assert identity.element_string() == "(01)80614141123458(21)A/B"


def test_an_sgln_urn_carries_its_extension_as_ai_254_and_the_gln() -> None:
    identity = parse("urn:epc:id:sgln:0614141.12345.5678")
    assert identity.gln == "0614141123452"
    assert identity.gln_extension == "5678"


def test_epc_serials_escape_exactly_the_characters_the_tds_requires() -> None:
    # Given a serial using every CSET 82 character
    serial = "!\"%&'()*+,-./:;<=>?_"

    # When it becomes an SGTIN URN
    urn = sgtin_urn("80614141123458", serial, 7)

    # Then only " % & / < > ? are escaped, and parsing restores the serial
    assert urn.endswith(".!%22%25%26'()*+,-.%2F:;%3C=%3E%3F_")
    assert parse(urn).serial == serial


def test_hibc_urns_keep_the_unit_of_measure_with_the_product_number() -> None:
    # Given an HIBC UDI-DI, with or without a dot after the LIC
    # Then the URN puts the LIC before the dot and PCN + unit of measure after it
    assert hibc_urn("A123BJC5D6E71", "S 1") == "urn:medtrace:hibc:A123.BJC5D6E71:S%201"
    assert hibc_urn("A123.BJC5D6E71", "S1") == "urn:medtrace:hibc:A123.BJC5D6E71:S1"
    assert hibc_lot_urn("A123BJC5D6E71", "10X3") == "urn:medtrace:hibc-lot:A123.BJC5D6E71:10X3"
    identity = parse("urn:medtrace:hibc:A123.BJC5D6E71:S%201")
    assert identity.hibc is not None and identity.hibc.di == "A123BJC5D6E71"
    assert identity.serial == "S 1"


def test_a_scanned_hibc_unit_has_the_private_urn_as_its_epc() -> None:
    identity = parse(
        "+A123ABCDEFGHI1234567891/$$420020216LOT123456789012345/SXYZ456789012345678/16D20130202$"
    )
    assert identity.epc == "urn:medtrace:hibc:A123.ABCDEFGHI1234567891:XYZ456789012345678"
    lot_only = parse("+A123BJC5D6E71G+$$52001510X3GD")
    assert lot_only.epc == "urn:medtrace:hibc-lot:A123.BJC5D6E71:10X3"
    assert parse("+A123BJC5D6E71G").epc is None


@pytest.mark.parametrize(
    "bad",
    [
        lambda: sgtin_urn("80614141123458", "6789", None),
        lambda: sgtin_urn("80614141123458", "6789", 5),
        lambda: sgtin_urn("80614141123458", "6789", 13),
        lambda: sgtin_urn("80614141123459", "6789", 7),
        lambda: sgtin_urn("80614141123458", "x" * 21, 7),
        lambda: sscc_urn("106141412345678909", 7),
        lambda: sgln_urn("0614141123453", None, 7),
        lambda: hibc_urn("1123BJC5D6E71", "S1"),
    ],
)
def test_epc_builders_refuse_bad_keys_and_unknown_company_prefix_lengths(bad) -> None:
    with pytest.raises(UdiError):
        bad()


# --- element strings, scan data, human-readable text --------------------------------------


def test_build_element_string_orders_fixed_dates_before_lot_and_serial_last() -> None:
    # Given the UDI parts in any order of arguments
    text = build_element_string(
        serial="10987654321",
        lot="7654321D",
        expiry=date(2014, 11, 20),
        manufactured=date(2014, 1, 2),
        gtin="844588003288",
    )

    # Then (01) comes first, then (11) and (17), then (10), and (21) last
    assert text == "(01)00844588003288(11)140102(17)141120(10)7654321D(21)10987654321"
    identity = parse(text)
    assert (identity.gtin, identity.lot, identity.serial) == (
        "00844588003288",
        "7654321D",
        "10987654321",
    )
    assert (identity.expiry, identity.manufactured) == (date(2014, 11, 20), date(2014, 1, 2))


def test_build_element_string_accepts_a_day_00_expiry_and_rejects_bad_parts() -> None:
    assert parse(build_element_string(gtin="00844588003288", expiry="141100")).expiry == date(
        2014, 11, 30
    )
    with pytest.raises(UdiError, match=r"AI \(17\): month 13 is not valid"):
        build_element_string(gtin="00844588003288", expiry="141320")
    with pytest.raises(UdiError, match=r"AI \(10\) value too long"):
        build_element_string(gtin="00844588003288", lot="L" * 21)
    with pytest.raises(UdiError, match="GTIN check digit should be 8, got 9"):
        build_element_string(gtin="00844588003289")


def test_hri_shows_dates_as_iso_while_element_string_and_scan_data_keep_yymmdd() -> None:
    # Given a UDI with a day-00 expiry
    identity = parse("]d2010084458800328817141100107654321D\x1d2110987654321")

    # Then people see YYYY-MM-DD (end of month resolved), encoders get the GS1 form
    assert identity.hri() == "(01)00844588003288(17)2014-11-30(10)7654321D(21)10987654321"
    assert identity.element_string() == "(01)00844588003288(17)141100(10)7654321D(21)10987654321"
    assert identity.scan_data() == "010084458800328817141100107654321D\x1d2110987654321"


def test_a_bracket_in_data_is_escaped_in_the_element_string_and_read_back() -> None:
    text = build_element_string(gtin="00844588003288", lot="A(1)")
    assert text == "(01)00844588003288(10)A\\(1)"
    assert parse(text).lot == "A(1)"


def test_hibc_hri_is_the_hibc_string_itself_and_gs1_only_forms_refuse_hibc() -> None:
    identity = parse("+J123AQ3451/$$3231231BC34567/S4012R")
    assert identity.hri() == "+J123AQ3451/$$3231231BC34567/S4012R"
    with pytest.raises(UdiError, match="only for GS1"):
        identity.element_string()
    with pytest.raises(UdiError, match="only for GS1"):
        identity.scan_data()
    assert identity.digital_link is None


# --- Digital Link ------------------------------------------------------------------------


def test_digital_link_is_canonical_with_qualifiers_in_dlpkey_order_and_attributes_in_input_order():
    # Given an element string with the dates before the lot and serial
    identity = parse("(01)06901234567892(17)150707(11)141231(10)A213B1(21)1234")

    # Then the URI has the qualifiers in the path, the dates as attributes in input order
    assert identity.digital_link == (
        "https://id.gs1.org/01/06901234567892/10/A213B1/21/1234?17=150707&11=141231"
    )
    assert identity.digital_link_uri("https://example.com/stem/") == (
        "https://example.com/stem/01/06901234567892/10/A213B1/21/1234?17=150707&11=141231"
    )
    assert parse(identity.digital_link or "").ais == (
        ("01", "06901234567892"),
        ("10", "A213B1"),
        ("21", "1234"),
        ("17", "150707"),
        ("11", "141231"),
    )


def test_digital_link_percent_encodes_reserved_characters_in_values() -> None:
    identity = parse("(01)12312312312333(10)A/B+C(21)X%Y")
    assert identity.digital_link == "https://id.gs1.org/01/12312312312333/10/A%2FB%2BC/21/X%25Y"
    assert parse(identity.digital_link or "").ais == identity.ais


def test_an_identity_without_a_digital_link_key_or_with_an_unlinkable_ai_has_none() -> None:
    assert parse("(01)12345678901231(235)ABC(10)L1").digital_link is None
    with pytest.raises(UdiError, match=r"AI \(235\) cannot be carried"):
        parse("(01)12345678901231(235)ABC(10)L1").digital_link_uri()
    with pytest.raises(UdiError, match="http"):
        parse("(01)12345678901231").digital_link_uri("ftp://example.com")


# --- property tests ----------------------------------------------------------------------

gtin_bodies = st.text(alphabet=string.digits, min_size=13, max_size=13)
cset82_values = st.text(alphabet=CSET82, min_size=1, max_size=20)
hibc_values = st.text(alphabet=HIBC_CHARSET.replace("/", ""), min_size=1, max_size=18)
windowed_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2070, 12, 31)).filter(
    lambda d: gs1_full_year(d.year % 100) == d.year
)


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(gtin_bodies)
def test_any_gtin_body_with_its_computed_check_digit_parses(body: str) -> None:
    gtin = body + gs1_check_digit(body)
    assert parse(f"(01){gtin}").gtin == gtin
    assert parse(gtin).gtin == gtin
    assert parse(f"]d201{gtin}").gtin == gtin


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(gtin_bodies, st.integers(min_value=0, max_value=13), st.integers(1, 9))
def test_changing_any_single_digit_of_a_valid_gtin_is_rejected(
    body: str, position: int, delta: int
) -> None:
    gtin = body + gs1_check_digit(body)
    changed = gtin[:position] + str((int(gtin[position]) + delta) % 10) + gtin[position + 1 :]
    with pytest.raises(UdiError, match="check digit"):
        parse(f"(01){changed}")


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(gtin_bodies, cset82_values, cset82_values, windowed_dates)
def test_built_element_strings_parse_back_in_every_form(
    body: str, lot: str, serial: str, expiry: date
) -> None:
    gtin = body + gs1_check_digit(body)
    identity = parse(build_element_string(gtin=gtin, lot=lot, serial=serial, expiry=expiry))
    assert (identity.gtin, identity.lot, identity.serial, identity.expiry) == (
        gtin,
        lot,
        serial,
        expiry,
    )
    assert parse("]d2" + identity.scan_data()).ais == identity.ais
    assert parse(identity.digital_link or "").ais == (
        ("01", gtin),
        ("10", lot),
        ("21", serial),
        ("17", identity.get("17")),
    )
    assert parse(identity.with_gcp_length(7).epc or "").serial == serial


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(
    st.sampled_from(["A123", "H123", "J999", "ZZZZ"]),
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=18),
    st.integers(0, 9),
    st.none() | hibc_values,
    st.none() | hibc_values,
    st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)),
    st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)),
)
def test_built_hibc_strings_parse_back_with_a_valid_check_character(
    lic: str,
    pcn: str,
    uom: int,
    lot: str | None,
    serial: str | None,
    expiry: date | None,
    manufactured: date | None,
) -> None:
    text = build_hibc(
        lic=lic, pcn=pcn, uom=uom, lot=lot, serial=serial, expiry=expiry, manufactured=manufactured
    )
    identity = parse(text)
    hibc = identity.hibc
    assert hibc is not None
    assert (hibc.lic, hibc.pcn, hibc.unit_of_measure) == (lic, pcn, uom)
    assert (hibc.lot, hibc.serial, hibc.expiry, hibc.manufactured) == (
        lot,
        serial,
        expiry,
        manufactured,
    )
    assert identity.hri() == text


def test_build_hibc_refuses_what_hibc_cannot_carry() -> None:
    with pytest.raises(UdiError, match="LIC"):
        build_hibc(lic="1234", pcn="X", uom=1)
    with pytest.raises(UdiError, match="product/catalog number"):
        build_hibc(lic="A123", pcn="abc", uom=1)
    with pytest.raises(UdiError, match="unit of measure"):
        build_hibc(lic="A123", pcn="ABC", uom=10)
    with pytest.raises(UdiError, match="lot number"):
        build_hibc(lic="A123", pcn="ABC", uom=1, lot="A/B")
    with pytest.raises(UdiError, match="serial number"):
        build_hibc(lic="A123", pcn="ABC", uom=1, serial="S" * 19)


@settings(deadline=None)  # timing varies on shared CI machines; correctness does not
@given(
    st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=18),
    st.integers(0, 9),
    hibc_values.filter(lambda v: v[0] not in "$+"),  # "$+" and "$$" open other fields
)
def test_primary_and_secondary_symbols_read_back_to_back_link_up_whatever_the_check_chars(
    pcn: str, uom: int, lot: str
) -> None:
    # Given two linear HIBC symbols, the secondary carrying the primary's check as link char
    primary = f"+A123{pcn}{uom}"
    primary += hibc_check_char(primary)
    secondary = f"+${lot}{primary[-1]}"
    secondary += hibc_check_char(secondary)

    # When they are read one after the other
    identity = parse(primary + secondary)

    # Then the two parts are found, linked and checked, whatever characters the checks are
    assert identity.hibc is not None
    assert (identity.hibc.pcn, identity.hibc.unit_of_measure) == (pcn, uom)
    assert identity.lot == lot
    assert identity.hibc.link_char == primary[-1]
    assert identity.hibc.check_char == secondary[-1]
