"""The GS1 syntax linters, check characters and the two-digit-year window, one by one."""

from __future__ import annotations

from datetime import date

import pytest

from medtrace.lib.udi import (
    UdiError,
    gs1_check_digit,
    hibc_check_char,
    is_valid_gs1_check_digit,
    parse,
)
from medtrace.lib.udi.checkdigit import gs1_check_pair
from medtrace.lib.udi.dates import gs1_full_year, resolve_yymmdd
from medtrace.lib.udi.linters import LINTERS

PASSES = [
    ("csum", "12345678901231"),
    ("csumalpha", "1987654Ad4X4bL5ttr2310c2K"),
    ("csumalpha", "12345678901234567890123NT"),
    ("csumalpha", "00000!HV"),
    ("gcppos1", "0614"),
    ("gcppos2", "90614"),
    ("hasnondigit", "123A"),
    ("nozeroprefix", "10"),
    ("nonzero", "0010"),
    ("zero", "0"),
    ("yesno", "1"),
    ("winding", "9"),
    ("hyphen", "-"),
    ("pieceoftotal", "0103"),
    ("pieceoftotal", "99"),
    ("posinseqslash", "9/10"),
    ("importeridx", "_"),
    ("pcenc", "a%2Fb"),
    ("yymmd0", "251100"),
    ("yymmdd", "240229"),
    ("yyyymmdd", "20240229"),
    ("yyyymmd0", "20241100"),
    ("yymmddhh", "25123123"),
    ("hh", "23"),
    ("mi", "59"),
    ("ss", "00"),
    ("hhmi", "2359"),
    ("iso3166", "156"),
    ("iso3166999", "999"),
    ("iso3166alpha2", "CN"),
    ("iso4217", "978"),
    ("iso5218", "9"),
    ("latitude", "1800000000"),
    ("longitude", "3600000000"),
    ("mediatype", "80"),
    ("iban", "GB82WEST12345698765432"),
]

FAILS = [
    ("csum", "12345678901234", "should be 1, got 4"),
    ("csumalpha", "1987654Ad4X4bL5ttr2310cXK", "should be 2K"),
    ("csumalpha", "1987654Ad4X4bL5ttr2310c1K", "CSET 32"),
    ("gcppos1", "061", "too short"),
    ("gcppos1", "06A4X", "GS1 Company Prefix"),
    ("hasnondigit", "1234", "non-digit"),
    ("nozeroprefix", "0", "must not start with 0"),
    ("nonzero", "0000", "zero"),
    ("zero", "1", "must be 0"),
    ("yesno", "2", "0 (no) or 1 (yes)"),
    ("winding", "2", "0, 1 or 9"),
    ("hyphen", "+", "'-'"),
    ("pieceoftotal", "0201", "exceeds"),
    ("pieceoftotal", "0001", "piece number must not be zero"),
    ("pieceoftotal", "010", "equal width"),
    ("posinseqslash", "01/2", "start with 0"),
    ("posinseqslash", "3/2", "exceeds"),
    ("posinseqslash", "12", "<position>/<end>"),
    ("importeridx", "*", "importer index"),
    ("pcenc", "a%2", "%XX"),
    ("yymmd0", "251300", "month 13 is not valid"),
    ("yymmd0", "250230", "day 30 is not valid in 2025-02"),
    ("yymmdd", "251100", "day 00"),
    ("yyyymmdd", "20230229", "day 29"),
    ("hh", "24", "hour"),
    ("mi", "60", "minute"),
    ("hhmi", "2460", "hour"),
    ("iso3166", "999", "ISO 3166"),
    ("iso3166alpha2", "XX", "alpha-2"),
    ("iso4217", "000", "ISO 4217"),
    ("iso5218", "3", "5218"),
    ("latitude", "1800000001", "latitude"),
    ("longitude", "3600000001", "longitude"),
    ("mediatype", "11", "AIDC media type"),
    ("iban", "GB82WEST12345698765433", "check digits"),
]


@pytest.mark.parametrize(("linter", "data"), PASSES)
def test_linter_accepts_valid_data(linter: str, data: str) -> None:
    assert LINTERS[linter](data) is None


@pytest.mark.parametrize(("linter", "data", "reason"), FAILS)
def test_linter_rejects_invalid_data_saying_why(linter: str, data: str, reason: str) -> None:
    problem = LINTERS[linter](data)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(01)06901234567892(422)999", r"AI \(422\): '999' is not an ISO 3166"),
        ("(8006)069012345678920302", r"AI \(8006\): piece number 3 exceeds the total 2"),
        ("(01)06901234567892(7003)2512312460", r"AI \(7003\): hour '24'"),
        ("(00)106141412345678908(4330)001234+", r"AI \(4330\): must be '-'"),
        ("(8013)1987654Ad4X4bL5ttr2310cXK", r"AI \(8013\): check character pair"),
        ("(8010)0614141ABC(8011)0123", r"AI \(8011\): must not start with 0"),
        ("(00)106141412345678908(4321)2", r"AI \(4321\): must be 0 \(no\) or 1"),
        ("(414)0614141123453", r"AI \(414\): GLN check digit should be 2, got 3"),
    ],
)
def test_linter_failures_inside_messages_name_the_ai(text: str, message: str) -> None:
    with pytest.raises(UdiError, match=message):
        parse(text)


def test_base64url_data_may_end_with_valid_padding_only() -> None:
    # Given a digital signature (8030) on an SSCC, padded as base64url allows
    assert parse("(00)106141412345678908(8030)ab_-1=").get("8030") == "ab_-1="
    assert parse("(00)106141412345678908(8030)abcd==").get("8030") == "abcd=="
    with pytest.raises(UdiError, match=r"AI \(8030\): '=' padding"):
        parse("(00)106141412345678908(8030)abc=")
    with pytest.raises(UdiError, match=r"AI \(8030\): character '\+'"):
        parse("(00)106141412345678908(8030)ab+c")


def test_valid_linted_ais_pass_inside_messages() -> None:
    identity = parse("(01)06901234567892(422)156(7003)2512312359(3103)000123")
    assert identity.get("422") == "156"
    assert parse("(8006)069012345678920102(10)L1").get("8006") == "069012345678920102"
    assert parse("(8013)1987654Ad4X4bL5ttr2310c2K").get("8013") == "1987654Ad4X4bL5ttr2310c2K"


def test_gs1_mod_10_check_digit_matches_the_general_specifications_examples() -> None:
    assert gs1_check_digit("950110153100") == "0"  # GTIN-13 example
    assert gs1_check_digit("9501234") == "6"  # GTIN-8 example
    assert gs1_check_digit("10614141234567890") == "8"  # EPC TDS SSCC example
    assert is_valid_gs1_check_digit("95012345678903")
    assert not is_valid_gs1_check_digit("95012345678904")
    assert not is_valid_gs1_check_digit("9501234567890A")
    with pytest.raises(UdiError, match="digits"):
        gs1_check_digit("12A")


def test_gs1_alphanumeric_check_pair_matches_the_syntax_engine_values() -> None:
    assert gs1_check_pair("1987654Ad4X4bL5ttr2310c") == "2K"
    assert gs1_check_pair("") == "22"


def test_hibc_mod_43_matches_the_hibcc_worked_example() -> None:
    # Zebra HIBCC43 guide: "+A123BJC5D6E71" sums to 145, remainder 16 -> "G"
    assert hibc_check_char("+A123BJC5D6E71") == "G"
    with pytest.raises(UdiError, match="not allowed in HIBC data"):
        hibc_check_char("+a123")


@pytest.mark.parametrize(
    ("yy", "today", "year"),
    [
        (99, date(2026, 1, 1), 1999),
        (76, date(2026, 1, 1), 2076),
        (77, date(2026, 1, 1), 1977),
        (20, date(2080, 6, 1), 2120),
        (30, date(2080, 6, 1), 2130),
        (31, date(2080, 6, 1), 2031),
    ],
)
def test_two_digit_years_follow_the_gs1_sliding_window(yy: int, today: date, year: int) -> None:
    assert gs1_full_year(yy, today=today) == year


def test_day_00_means_the_last_day_of_the_month_including_leap_february() -> None:
    assert resolve_yymmdd("240200", today=date(2026, 1, 1)) == date(2024, 2, 29)
    assert resolve_yymmdd("250200", today=date(2026, 1, 1)) == date(2025, 2, 28)
    assert resolve_yymmdd("141100", today=date(2026, 1, 1)) == date(2014, 11, 30)
