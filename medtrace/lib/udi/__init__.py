"""``medtrace.lib.udi``: UDI and EPC identifiers, pure Python (no Django).

``parse(text)`` turns any way of naming a device into an ``Identity``: a raw scan with AIM
symbology identifier and GS separators, a bracketed GS1 element string, a GS1 Digital Link URI,
an HIBC LIC string, an EPC URN or medtrace's HIBC URN. Every error is a ``UdiError`` whose
message says what is wrong and what was expected, e.g. "AI (17): month 13 is not valid".

GS1 rules come from our own table (``ai_table``, restated from the GS1 Barcode Syntax
Dictionary release 2026-01-27); HIBC mod-43 and EPC URN handling are our own code; biip decodes
AIM identifiers, expands UPC-E and supplies GS1 company-prefix lengths. Policy choices are
documented in ``parser`` (overall), ``hibc`` (check characters) and ``digital_link``.
"""

from .checkdigit import (
    gs1_check_digit,
    hibc_check_char,
    is_valid_gs1_check_digit,
    normalize_gtin,
    validate_gln,
    validate_sscc,
)
from .digital_link import DEFAULT_RESOLVER
from .epc import (
    hibc_lot_urn,
    hibc_urn,
    lgtin_urn,
    sgln_urn,
    sgtin_pattern_urn,
    sgtin_urn,
    sscc_urn,
)
from .errors import UdiError
from .gs1 import build_element_string
from .hibc import HibcData, build_hibc
from .identity import Identity
from .parser import gcp_length_for, issuing_agency, parse

__all__ = [
    "DEFAULT_RESOLVER",
    "HibcData",
    "Identity",
    "UdiError",
    "build_element_string",
    "build_hibc",
    "gcp_length_for",
    "gs1_check_digit",
    "hibc_check_char",
    "hibc_lot_urn",
    "hibc_urn",
    "is_valid_gs1_check_digit",
    "issuing_agency",
    "lgtin_urn",
    "normalize_gtin",
    "parse",
    "sgln_urn",
    "sgtin_pattern_urn",
    "sgtin_urn",
    "sscc_urn",
    "validate_gln",
    "validate_sscc",
]
