"""GS1 Barcode Syntax Tests ("linters") for AI components, written from their definitions.

Each linter takes one component's data and returns None when it passes, or a short message that
says what is wrong and what was expected; the caller prefixes the AI, e.g.
``"AI (17): month 13 is not valid"``. Semantics follow the GS1 Barcode Syntax Tests
(https://ref.gs1.org/tools/gs1-barcode-syntax-resource/syntax-tests/).

Implemented: csum, csumalpha, gcppos1, gcppos2, hasnondigit, nozeroprefix, nonzero, zero, yesno,
winding, hyphen, pieceoftotal, posinseqslash, importeridx, pcenc, yymmd0, yymmdd, yyyymmdd,
yyyymmd0, yymmddhh, hh, mi, ss, hhmi, hhmm, iso3166, iso3166999, iso3166alpha2, iso4217,
iso5218, latitude, longitude, mediatype, iban (structure, country and mod-97 only).

Deliberately not implemented (listed in ``SKIPPED_LINTERS``; data still gets its length and
character-set checks):

* ``packagetype``: needs the UN/ECE Recommendation 21 package-type code list (AI 7041 only);
* ``couponcode`` and ``couponposoffer``: North American coupon structures (AIs 8110, 8112);
* the optional GCP allocation lookup inside ``gcppos1``/``gcppos2`` (we check the structural rule:
  at least four digits where the GS1 Company Prefix starts) and IBAN per-country lengths.
None of these AIs belongs on a medical-device UDI label.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import date

from .checkdigit import CSET32, CSET82, gs1_check_digit, gs1_check_pair
from .dates import yymmdd_problem

Linter = Callable[[str], str | None]

GCP_MIN_LENGTH = 4  # the shortest GS1 Company Prefix


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 3166-1 numeric country codes, as listed by the GS1 Syntax Engine's iso3166 linter.
ISO3166_NUMERIC = _codes(
    """
    004 008 010 012 016 020 024 028 031 032 036 040 044 048 050 051 052 056 060 064 068 070 072
    074 076 084 086 090 092 096 100 104 108 112 116 120 124 132 136 140 144 148 152 156 158 162
    166 170 174 175 178 180 184 188 191 192 196 203 204 208 212 214 218 222 226 231 232 233 234
    238 239 242 246 248 250 254 258 260 262 266 268 270 275 276 288 292 296 300 304 308 312 316
    320 324 328 332 334 336 340 344 348 352 356 360 364 368 372 376 380 384 388 392 398 400 404
    408 410 414 417 418 422 426 428 430 434 438 440 442 446 450 454 458 462 466 470 474 478 480
    484 492 496 498 499 500 504 508 512 516 520 524 528 531 533 534 535 540 548 554 558 562 566
    570 574 578 580 581 583 584 585 586 591 598 600 604 608 612 616 620 624 626 630 634 638 642
    643 646 652 654 659 660 662 663 666 670 674 678 682 686 688 690 694 702 703 704 705 706 710
    716 724 728 729 732 740 744 748 752 756 760 762 764 768 772 776 780 784 788 792 795 796 798
    800 804 807 818 826 831 832 833 834 840 850 854 858 860 862 876 882 887 894
    """
)

# ISO 3166-1 alpha-2 country codes.
ISO3166_ALPHA2 = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """
)

# ISO 4217 numeric currency codes.
ISO4217_NUMERIC = _codes(
    """
    008 012 032 036 044 048 050 051 052 060 064 068 072 084 090 096 104 108 116 124 132 136 144
    152 156 170 174 188 191 192 203 208 214 222 230 232 238 242 262 270 292 320 324 328 332 340
    344 348 352 356 360 364 368 376 388 392 398 400 404 408 410 414 417 418 422 426 430 434 446
    454 458 462 480 484 496 498 504 512 516 524 532 533 548 554 558 566 578 586 590 598 600 604
    608 634 643 646 654 682 690 694 702 704 706 710 728 748 752 756 760 764 776 780 784 788 800
    807 818 826 834 840 858 860 882 886 901 925 927 928 929 930 931 932 933 934 936 938 940 941
    943 944 946 947 948 949 950 951 952 953 955 956 957 958 959 960 961 962 963 964 965 967 968
    969 970 971 972 973 975 976 977 978 979 980 981 984 985 986 990 994 997 999
    """
)

# AIDC media types (GS1 GenSpecs "AIDC media type values"): 01-10 and 80-99.
MEDIA_TYPES = frozenset(f"{n:02d}" for n in [*range(1, 11), *range(80, 100)])

_IMPORTER_INDEX = frozenset(string.ascii_letters + string.digits + "-_")
_HEX = frozenset(string.hexdigits)


def _digits(data: str) -> bool:
    return data.isascii() and data.isdigit()


def csum(data: str) -> str | None:
    if not _digits(data) or len(data) < 2:
        return f"check digit needs at least two digits, got {data!r}"
    expected = gs1_check_digit(data[:-1])
    if expected != data[-1]:
        return f"check digit should be {expected}, got {data[-1]}"
    return None


def csumalpha(data: str) -> str | None:
    if len(data) < 2:
        return "an alphanumeric check character pair is required"
    if any(c not in CSET32 for c in data[-2:]):
        return f"check characters {data[-2:]!r} must be from CSET 32"
    expected = gs1_check_pair(data[:-2])
    if expected != data[-2:]:
        return f"check character pair should be {expected}, got {data[-2:]}"
    return None


def gcppos1(data: str) -> str | None:
    if len(data) < GCP_MIN_LENGTH:
        return f"too short to start with a GS1 Company Prefix ({GCP_MIN_LENGTH} digits minimum)"
    if not _digits(data[:GCP_MIN_LENGTH]):
        return "must start with a GS1 Company Prefix (digits)"
    return None


def gcppos2(data: str) -> str | None:
    if len(data) < 2:
        return "too short to hold a GS1 Company Prefix"
    return gcppos1(data[1:])


def hasnondigit(data: str) -> str | None:
    return None if not _digits(data) else "must contain at least one non-digit character"


def nozeroprefix(data: str) -> str | None:
    return "must not start with 0" if data.startswith("0") else None


def nonzero(data: str) -> str | None:
    return "must not be zero" if data and set(data) == {"0"} else None


def zero(data: str) -> str | None:
    return None if data == "0" else f"must be 0, got {data!r}"


def yesno(data: str) -> str | None:
    return None if data in ("0", "1") else f"must be 0 (no) or 1 (yes), got {data!r}"


def winding(data: str) -> str | None:
    return None if data in ("0", "1", "9") else f"winding direction must be 0, 1 or 9, got {data!r}"


def hyphen(data: str) -> str | None:
    return None if set(data) <= {"-"} else f"must be '-', got {data!r}"


def pieceoftotal(data: str) -> str | None:
    if not _digits(data) or not data or len(data) % 2:
        return f"must be piece and total of equal width, got {data!r}"
    half = len(data) // 2
    piece, total = int(data[:half]), int(data[half:])
    if piece == 0:
        return "piece number must not be zero"
    if total == 0:
        return "total number of pieces must not be zero"
    if piece > total:
        return f"piece number {piece} exceeds the total {total}"
    return None


def posinseqslash(data: str) -> str | None:
    position, slash, end = data.partition("/")
    if not slash or not _digits(position) or not _digits(end):
        return f"must be '<position>/<end>', got {data!r}"
    if position.startswith("0") or end.startswith("0"):
        return "position and end must not be zero or start with 0"
    if int(position) > int(end):
        return f"position {position} exceeds the end {end}"
    return None


def importeridx(data: str) -> str | None:
    if len(data) != 1 or data not in _IMPORTER_INDEX:
        return f"importer index must be one of 0-9, A-Z, a-z, '-', '_', got {data!r}"
    return None


def pcenc(data: str) -> str | None:
    position = data.find("%")
    while position >= 0:
        escape = data[position + 1 : position + 3]
        if len(escape) != 2 or not set(escape) <= _HEX:
            return f"'%' at position {position + 1} must start a %XX escape"
        position = data.find("%", position + 3)
    return None


def yymmd0(data: str) -> str | None:
    return yymmdd_problem(data, day_zero_allowed=True)


def yymmdd(data: str) -> str | None:
    return yymmdd_problem(data, day_zero_allowed=False)


def _yyyymmdd(data: str, *, day_zero_allowed: bool) -> str | None:
    if len(data) != 8 or not _digits(data):
        return f"date must be 8 digits YYYYMMDD, got {data!r}"
    year, month, day = int(data[:4]), int(data[4:6]), int(data[6:])
    if not 1 <= month <= 12:
        return f"month {data[4:6]} is not valid"
    if day == 0:
        return None if day_zero_allowed else "day 00 is not allowed here"
    try:
        date(year, month, day)
    except ValueError:
        return f"day {data[6:]} is not valid in {year:04d}-{month:02d}"
    return None


def yyyymmdd(data: str) -> str | None:
    return _yyyymmdd(data, day_zero_allowed=False)


def yyyymmd0(data: str) -> str | None:
    return _yyyymmdd(data, day_zero_allowed=True)


def _two_digit(data: str, *, name: str, maximum: int) -> str | None:
    if len(data) != 2 or not _digits(data) or int(data) > maximum:
        return f"{name} {data!r} is not valid (00-{maximum})"
    return None


def hh(data: str) -> str | None:
    return _two_digit(data, name="hour", maximum=23)


def mi(data: str) -> str | None:
    return _two_digit(data, name="minute", maximum=59)


def ss(data: str) -> str | None:
    return _two_digit(data, name="second", maximum=59)


def hhmi(data: str) -> str | None:
    if len(data) != 4:
        return f"time must be 4 digits HHMM, got {data!r}"
    return hh(data[:2]) or mi(data[2:])


def yymmddhh(data: str) -> str | None:
    if len(data) != 8:
        return f"must be 8 digits YYMMDDHH, got {data!r}"
    return yymmdd(data[:6]) or hh(data[6:])


def iso3166(data: str) -> str | None:
    return None if data in ISO3166_NUMERIC else f"{data!r} is not an ISO 3166 numeric country code"


def iso3166999(data: str) -> str | None:
    return None if data == "999" else iso3166(data)


def iso3166alpha2(data: str) -> str | None:
    if data in ISO3166_ALPHA2:
        return None
    return f"{data!r} is not an ISO 3166 alpha-2 country code"


def iso4217(data: str) -> str | None:
    if data in ISO4217_NUMERIC:
        return None
    return f"{data!r} is not an ISO 4217 numeric currency code"


def iso5218(data: str) -> str | None:
    if data in ("0", "1", "2", "9"):
        return None
    return f"sex must be 0, 1, 2 or 9 (ISO/IEC 5218), got {data!r}"


def latitude(data: str) -> str | None:
    if len(data) != 10 or not _digits(data) or int(data) > 1_800_000_000:
        return f"latitude must be 10 digits from 0000000000 to 1800000000, got {data!r}"
    return None


def longitude(data: str) -> str | None:
    if len(data) != 10 or not _digits(data) or int(data) > 3_600_000_000:
        return f"longitude must be 10 digits from 0000000000 to 3600000000, got {data!r}"
    return None


def mediatype(data: str) -> str | None:
    return None if data in MEDIA_TYPES else f"{data!r} is not an AIDC media type (01-10, 80-99)"


def iban(data: str) -> str | None:
    allowed = set(string.ascii_uppercase + string.digits)
    if len(data) < 5 or not set(data) <= allowed:
        return f"IBAN must be upper-case letters and digits, got {data!r}"
    if data[:2] not in ISO3166_ALPHA2 or not _digits(data[2:4]):
        return f"IBAN must start with a country code and two check digits, got {data[:4]!r}"
    rearranged = data[4:] + data[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    if int(number) % 97 != 1:
        return "IBAN check digits are not correct"
    return None


LINTERS: dict[str, Linter] = {
    "csum": csum,
    "csumalpha": csumalpha,
    "gcppos1": gcppos1,
    "gcppos2": gcppos2,
    "hasnondigit": hasnondigit,
    "nozeroprefix": nozeroprefix,
    "nonzero": nonzero,
    "zero": zero,
    "yesno": yesno,
    "winding": winding,
    "hyphen": hyphen,
    "pieceoftotal": pieceoftotal,
    "posinseqslash": posinseqslash,
    "importeridx": importeridx,
    "pcenc": pcenc,
    "yymmd0": yymmd0,
    "yymmdd": yymmdd,
    "yyyymmdd": yyyymmdd,
    "yyyymmd0": yyyymmd0,
    "yymmddhh": yymmddhh,
    "hh": hh,
    "mi": mi,
    "ss": ss,
    "hhmi": hhmi,
    "hhmm": hhmi,
    "iso3166": iso3166,
    "iso3166999": iso3166999,
    "iso3166alpha2": iso3166alpha2,
    "iso4217": iso4217,
    "iso5218": iso5218,
    "latitude": latitude,
    "longitude": longitude,
    "mediatype": mediatype,
    "iban": iban,
}

SKIPPED_LINTERS = frozenset({"packagetype", "couponcode", "couponposoffer"})


def cset64_padding(data: str) -> str | None:
    """CSET 64 (base64url) allows up to two '=' pads, as the GS1 Syntax Engine checks them."""
    body = data.rstrip("=")
    pads = len(data) - len(body)
    if pads > 2 or (pads and (len(body) + pads) % 3):
        return f"'=' padding at position {len(body) + 1} is not valid base64url padding"
    return None


# CSET used by each component type letter of the dictionary.
CSET39 = frozenset(string.ascii_uppercase + string.digits + "#-/")
CSET64 = frozenset(string.ascii_letters + string.digits + "-_")
CSETS: dict[str, tuple[frozenset[str], str]] = {
    "N": (frozenset(string.digits), "a digit"),
    "X": (frozenset(CSET82), "in GS1 CSET 82"),
    "Y": (CSET39, "in GS1 CSET 39"),
    "Z": (CSET64, "in GS1 CSET 64 (base64url)"),
}
