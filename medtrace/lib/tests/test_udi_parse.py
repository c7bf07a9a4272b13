"""parse(): every input form a scanner, a person or another system gives us, and its errors."""

from __future__ import annotations

from datetime import date

import pytest

from medtrace.lib.udi import (
    UdiError,
    gcp_length_for,
    hibc_check_char,
    issuing_agency,
    normalize_gtin,
    parse,
    validate_gln,
    validate_sscc,
)

UDI = "010084458800328817141120107654321D\x1d2110987654321"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
UDI_AIS = (
    ("01", "00844588003288"),
    ("17", "141120"),
    ("10", "7654321D"),
    ("21", "10987654321"),
)


def _hibc(data: str) -> str:
    """HIBC data completed with its mod-43 check character."""
    return data + hibc_check_char(data)


# --- GS1 scan data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scan",
    [
        "]d2" + UDI,
        "]C1" + UDI,
        "]Q3" + UDI,
        "]e0" + UDI,
        "]d2\x1d" + UDI,  # FNC1 in first position transmitted as GS
        UDI,  # keyboard wedge that drops the symbology identifier
        "\x1d" + UDI,
        UDI + "\r\n",  # scanner suffix
        "  " + UDI,
    ],
    ids=["d2", "C1", "Q3", "e0", "d2-leading-gs", "no-aim", "no-aim-leading-gs", "crlf", "spaces"],
)
def test_the_same_udi_reads_the_same_from_every_gs1_carrier_and_scanner_setting(
    scan: str,
) -> None:
    identity = parse(scan)
    assert identity.ais == UDI_AIS
    assert identity.scheme == "gs1"
    assert identity.symbology == (scan[:3] if scan.startswith("]") else None)


def test_a_variable_length_value_that_runs_past_its_maximum_is_reported_not_cut() -> None:
    # Given a lot of 21 characters with no GS after it (biip would cut it at 20 and go on)
    with pytest.raises(UdiError, match=r"AI \(10\) value too long: format X\.\.20, got 21"):
        parse("]d20100844588003288" + "10" + "A" * 21)


def test_a_separator_inside_a_fixed_length_value_is_reported_as_too_short() -> None:
    with pytest.raises(UdiError, match=r"AI \(17\) value too short"):
        parse("]d20100844588003288171411\x1d10A")


def test_unknown_ai_in_scan_data_names_the_position() -> None:
    with pytest.raises(UdiError, match="no known GS1 AI at position 17"):
        parse("]d20100844588003288" + "2399")


def test_repeated_ai_with_different_values_is_rejected_but_an_identical_repeat_is_allowed() -> None:
    with pytest.raises(UdiError, match=r"AI \(10\) appears more than once"):
        parse("(01)00844588003288(10)A(10)B")
    assert parse("(01)00844588003288(10)A(10)A").lot == "A"


# --- EAN/UPC primary data ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scan", "gtin"),
    [
        ("]E04006381333931", "04006381333931"),  # EAN-13
        ("]E0036000291452", "00036000291452"),  # UPC-A sent as 12 digits
        ("]E004252614", "00042100005264"),  # UPC-E, expanded with biip
        ("]E496385074", "00000096385074"),  # EAN-8
        ("]I110012345678902", "10012345678902"),  # ITF-14
        ("4006381333931", "04006381333931"),  # typed GTIN-13
        ("036000291452", "00036000291452"),  # typed UPC-A
        ("96385074", "00000096385074"),  # typed GTIN-8
        ("10012345678902", "10012345678902"),  # typed GTIN-14
    ],
)
def test_ean_upc_itf_and_bare_gtins_become_a_14_digit_gtin(scan: str, gtin: str) -> None:
    identity = parse(scan)
    assert identity.gtin == gtin == identity.di
    assert identity.ais == (("01", gtin),)


def test_a_bare_gtin_with_a_wrong_check_digit_is_rejected_not_read_as_ai_data() -> None:
    # Given an Austrian-style GTIN-13 whose digits would also form a lone (90) internal AI
    with pytest.raises(UdiError, match="GTIN check digit should be 6, got 1"):
        parse("9001234567891")
    assert parse("9001234567896").gtin == "09001234567896"


def test_ean_add_on_symbols_are_refused() -> None:
    with pytest.raises(UdiError, match="add-on"):
        parse("]E312")


# --- non-GS1 symbols -----------------------------------------------------------------------


def test_gs1_data_in_a_symbol_that_is_not_in_gs1_mode_is_refused() -> None:
    # Given a plain Data Matrix (]d1) that carries AI data without FNC1
    with pytest.raises(UdiError, match=r"Data Matrix \(\]d1\) is not a GS1-mode symbol") as err:
        parse("]d1" + UDI)
    assert err.value.field == "symbology"


@pytest.mark.parametrize("aim", ["]Q1", "]d1", "]z0"])
def test_a_digital_link_uri_is_read_from_a_plain_2d_symbol(aim: str) -> None:
    identity = parse(aim + "https://example.com/01/00844588003288/21/S1")
    assert identity.ais == (("01", "00844588003288"), ("21", "S1"))
    assert identity.symbology == aim


@pytest.mark.parametrize("aim", ["]A0", "]C0", "]d1", "]Q1"])
def test_hibc_is_read_from_code_39_code_128_data_matrix_and_qr(aim: str) -> None:
    identity = parse(aim + "+A123BJC5D6E71G")
    assert identity.hibc is not None and identity.di == "A123BJC5D6E71"
    assert identity.symbology == aim


@pytest.mark.parametrize("bad", ["]", "]d", "]!12", "]d2", "]d2\x1d", "]Q1"])
def test_broken_or_empty_symbology_identifiers_are_rejected(bad: str) -> None:
    with pytest.raises(UdiError):
        parse(bad)


# --- HIBC forms ----------------------------------------------------------------------------


def test_the_code_39_caption_of_an_hibc_symbol_is_accepted() -> None:
    assert parse("*+A123BJC5D6E71G*").di == "A123BJC5D6E71"


def test_an_underscore_in_the_caption_stands_for_a_space_check_character() -> None:
    # Given primary data whose mod-43 check character is a space
    primaries = (f"+A123P{a}{b}0" for a in ALNUM for b in ALNUM)
    data = next(p for p in primaries if hibc_check_char(p) == " ")

    # When its Code 39 caption is typed, then the underscore is read as the space
    hibc = parse(f"*{data}_*").hibc
    assert hibc is not None and hibc.check_char == " "
    assert parse(data + " ").di == data[1:]


@pytest.mark.parametrize(
    ("secondary", "field", "value"),
    [
        ("$LOT1", "lot", "LOT1"),
        ("$+SER1", "serial", "SER1"),
        ("$$+3300115SER1", "serial", "SER1"),
        ("$$2011530LOT1", "expiry", date(2030, 1, 15)),
        ("$$530015LOT1", "expiry", date(2030, 1, 15)),
        ("$$63001523LOT1", "expiry_hour", 23),
        ("$$7LOT1", "lot", "LOT1"),
        ("$$805LOT1", "quantity", 5),
        ("$$8053311231LOT1", "expiry", date(2031, 12, 31)),
        ("$$9001003311231LOT1", "quantity", 100),
        ("$$+7SER1", "serial", "SER1"),
        ("$LOT1/14D20301231", "expiry", date(2030, 12, 31)),
        ("$LOT1/Q12", "quantity", 12),
        ("$LOT1/16D20240229", "manufactured", date(2024, 2, 29)),
        ("16D20240229", "manufactured", date(2024, 2, 29)),
    ],
)
def test_every_hibc_secondary_form_is_read(secondary: str, field: str, value: object) -> None:
    identity = parse(_hibc(f"+A123BJC5D6E71/{secondary}"))
    assert getattr(identity.hibc, field) == value


@pytest.mark.parametrize(
    ("secondary", "message"),
    [
        ("$$3301315LOT1", "month 13"),
        ("$$3300230LOT1", "day 30 is not valid in 2030-02"),
        ("$$530366LOT1", "day of year 366"),
        ("$$43001152XLOT", "expiry hour"),
        ("$$A", "date flag"),
        ("$LOT1/S1/S2", "serial number twice"),
        ("$$3300115L/14D20300115", "expiry date twice"),
        ("$LOT1/XYZ", "unknown HIBC supplemental data"),
        ("$LOT1//S1", "empty '/' field"),
        ("ABC", "must start with"),
        ("$" + "L" * 19, "limited to 18"),
    ],
)
def test_bad_hibc_secondary_data_is_rejected_with_the_reason(secondary: str, message: str) -> None:
    with pytest.raises(UdiError, match=message):
        parse(_hibc(f"+A123BJC5D6E71/{secondary}"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_hibc("+1123BJC5D6E71"), "LIC must start with a letter"),
        (_hibc("+A123BJC5D6E7X"), "unit of measure must be a digit"),
        (_hibc("+A123" + "P" * 19 + "1"), "limited to 18"),
        ("+a123BJC5D6E71G", "not allowed in HIBC data"),
        ("+A123BJC5D6E71H", "primary check character should be 'G', got 'H'"),
        ("+A123BJC5D6E71G+X", "secondary data is too short"),
        ("+A123BJC5D6E71GX", "primary check character should be"),
        ("+$$52001510X3GD", "secondary data without its primary"),
        ("+-123BJC5D6E71G", "LIC must start with a letter"),
    ],
)
def test_bad_hibc_primary_data_is_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(UdiError, match=message):
        parse(text)


# --- Digital Link details ------------------------------------------------------------------


def test_digital_link_ignores_non_ai_parameters_and_fragments_and_accepts_upper_case() -> None:
    identity = parse("HTTPS://EXAMPLE.COM/a/b/01/00844588003288?linkType=gs1:pip&17=141120#x")
    assert identity.ais == (("01", "00844588003288"), ("17", "141120"))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com/01/00844588003288?8200=x", r"AI \(8200\) is not allowed as a Dig"),
        ("https://example.com/01/00844588003288?9999=1", r"unknown AI \(9999\)"),
        ("https://example.com/01/00844588003288/10/A%2", "malformed percent-encoding"),
        ("https://example.com/01/00844588003288/10/%FF", "not valid UTF-8"),
        ("https:///01/00844588003288", "no domain"),
        ("https://example.com/gtin/00844588003288", "no GS1 Digital Link primary key"),
        ("https://example.com/01/00844588003288?17=141320", r"AI \(17\): month 13"),
        ("https://example.com/8006/008445880032880102/21/X?10=A", r"\(10\) is a key qualifier"),
        ("ftp://example.com/01/00844588003288", "not a GS1 Digital Link scheme"),
    ],
)
def test_digital_link_errors_say_what_is_wrong(uri: str, message: str) -> None:
    with pytest.raises(UdiError, match=message):
        parse(uri)


# --- other agencies, junk, helpers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "agency"),
    [
        ("]d2" + UDI, "GS1"),
        ("(01)00844588003288", "GS1"),
        ("https://id.gs1.org/01/00844588003288", "GS1"),
        ("+A123BJC5D6E71G", "HIBCC"),
        ("]C0+A123BJC5D6E71G", "HIBCC"),
        ("=A99971312345600", "ICCBBA"),
        ("MA.156.M0.100761.21234561", "MA"),
        ("hello", None),
    ],
)
def test_issuing_agency_is_recognised_without_parsing(text: str, agency: str | None) -> None:
    assert issuing_agency(text) == agency


@pytest.mark.parametrize("junk", ["", "   ", "hello", "urn:isbn:0451450523", "(XY)123"])
def test_unrecognised_input_is_rejected_with_a_udierror(junk: str) -> None:
    with pytest.raises(UdiError):
        parse(junk)


def test_non_text_input_is_rejected() -> None:
    with pytest.raises(UdiError, match="text"):
        parse(12345)  # type: ignore[arg-type]


def test_udierror_is_a_valueerror_with_message_and_field() -> None:
    with pytest.raises(ValueError) as err:
        parse("(01)00844588003288(17)141320")
    assert isinstance(err.value, UdiError)
    assert err.value.message == "AI (17): month 13 is not valid"
    assert err.value.field == "17"


def test_company_prefix_lengths_come_from_the_bundled_gs1_table_or_from_the_caller() -> None:
    # Given GS1 US and GS1 China keys whose prefix lengths GS1 publishes
    assert gcp_length_for("80614141123458") == 7
    assert gcp_length_for("0614141123452") == 7
    assert gcp_length_for("106141412345678908") == 7
    assert gcp_length_for("06901234567892") == 7
    assert gcp_length_for("96385074") is None
    # When parse is given the lookup, then the EPC is formed from it
    identity = parse("(01)06901234567892(21)1234", gcp_length=gcp_length_for)
    assert identity.epc == "urn:epc:id:sgtin:6901234.056789.1234"
    # And a caller's own answer of None leaves the EPC unknown
    assert parse("(01)06901234567892(21)1234", gcp_length=lambda key: None).epc is None
    with pytest.raises(UdiError, match="6 to 12"):
        parse("(01)06901234567892(21)1234", gcp_length=5)


def test_key_validators_return_normalised_keys_or_say_what_is_wrong() -> None:
    assert normalize_gtin(" 4006381333931 ") == "04006381333931"
    assert validate_gln("0614141123452") == "0614141123452"
    assert validate_sscc("106141412345678908") == "106141412345678908"
    for call, message in [
        (lambda: normalize_gtin("400638133393"), "check digit"),
        (lambda: normalize_gtin("12345"), "8, 12, 13 or 14 digits"),
        (lambda: normalize_gtin("40063813339A"), "only digits"),
        (lambda: validate_gln("061414112345"), "13 digits"),
        (lambda: validate_gln("0614141123453"), "GLN check digit should be 2, got 3"),
        (lambda: validate_sscc("106141412345678909"), "SSCC check digit"),
    ]:
        with pytest.raises(UdiError, match=message):
            call()
