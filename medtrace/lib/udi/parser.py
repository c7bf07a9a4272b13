"""``parse``: one entry point for every way a person or a system names a device.

Recognised, in this order:

1. An AIM symbology identifier (``]d2``, ``]C1``, ``]Q3``, ``]e0``, ``]J1``: GS1 element data;
   ``]E0``/``]E4``/``]I1``: EAN/UPC/ITF primary data; any other, e.g. ``]Q1``, ``]d1``, ``]C0``,
   ``]A0``: non-GS1 data carrying a Digital Link URI, HIBC, or a URN). GS1 data from a symbol
   that is not in GS1 mode is refused: without FNC1 the label is not a GS1 barcode.
2. Without an identifier: ``(`` bracketed element string; ``http(s)://`` Digital Link; ``urn:``
   EPC or medtrace URN; ``+`` HIBC (also its ``*+...*`` caption, where ``_`` stands for a space
   check character); a bare 8, 12, 13 or 14 digit GTIN; otherwise GS1 scan data as a
   keyboard-wedge scanner types it (digits first, GS separators, the symbology id dropped, a
   leading GS for FNC1 tolerated).
3. ISBT 128 (``=``/``&``) and China MA (``MA.``) are recognised and refused.

Policies (regulated choices, strict where the vectors leave a choice):

* HIBC with a wrong check or link character is rejected, naming expected and printed character;
* a zero-suppressed (13-digit) GTIN in a Digital Link path is rejected, not padded;
* ISBT 128 and MA UDIs raise UdiError saying they are not supported: medtrace registers GS1 and
  HIBCC devices, and the MA check-character algorithm could not be verified against a published
  source, so an MA code would be recorded unchecked;
* a bare all-digit string of GTIN length is a GTIN (its check digit must be right), never a
  lone internal AI (90)-(99) message, which could not name a device anyway.

biip is used where it is sound: decoding AIM symbology identifiers, expanding UPC-E, and the GS1
company-prefix length table behind ``gcp_length_for``.
"""

from __future__ import annotations

from collections.abc import Callable

from biip import ParseError
from biip.gs1_prefixes import GS1CompanyPrefix
from biip.symbology import SymbologyIdentifier
from biip.upc import Upc

from .checkdigit import normalize_gtin
from .digital_link import looks_like_uri, parse_digital_link
from .epc import GCP_LENGTHS, parse_urn
from .errors import UdiError
from .gs1 import GS, parse_element_string, parse_scan_data
from .hibc import HibcData, parse_hibc
from .identity import SYMBOLOGY_NAMES, Identity

GcpLength = int | Callable[[str], int | None] | None

_GS1_MODE = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
_EAN_UPC = frozenset({"]E0", "]E4", "]I1"})
_SCANNER_TRAILERS = "\r\n\t"


def issuing_agency(text: str) -> str | None:
    """Which UDI issuing agency's format ``text`` looks like, without validating it.

    Returns "GS1", "HIBCC", "ICCBBA", "MA" or None; a leading AIM identifier is skipped.
    """
    data = text.strip()
    if data.startswith("]") and len(data) >= 3:
        if data[:3] in _GS1_MODE or data[:3] in _EAN_UPC:
            return "GS1"
        data = data[3:]
    if data.startswith(("=", "&")):
        return "ICCBBA"
    if data.startswith("MA."):
        return "MA"
    if data.startswith(("+", "*+")):
        return "HIBCC"
    if data.startswith("(") or data[:1].isdigit() or data.startswith(GS):
        return "GS1"
    if looks_like_uri(data):
        return "GS1"
    return None


def gcp_length_for(digits: str) -> int | None:
    """The GS1 Company Prefix length for a GTIN (12/13/14 digits), GLN (13) or SSCC (18).

    Looked up in the GS1 Company Prefix length table that biip 5.2.0 bundles (GS1's published
    "GCP length" prefix list); None where the issuing GS1 member organisation does not publish
    lengths, and for GTIN-8. The app's own product and party data should win over this table:
    pass ``parse(text, gcp_length=...)`` a callable that asks the app first.
    """
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit()):
        raise UdiError(f"a GS1 key has only digits, got {digits!r}", field="epc.company_prefix")
    if len(digits) in (14, 18):
        body = digits[1:]
    elif len(digits) == 13:
        body = digits
    elif len(digits) == 12:
        body = "0" + digits
    else:
        return None
    prefix = GS1CompanyPrefix.extract(body)
    if prefix is None or len(prefix.value) not in GCP_LENGTHS:
        return None
    return len(prefix.value)


def _resolve_gcp(identity: Identity, gcp_length: GcpLength) -> Identity:
    if identity.gcp_length is not None or gcp_length is None:
        return identity
    if callable(gcp_length):
        key = identity.epc_key
        length = gcp_length(key) if key else None
        return identity.with_gcp_length(length)
    return identity.with_gcp_length(gcp_length)


def _refuse_other_agencies(data: str) -> None:
    if data.startswith(("=", "&")):
        raise UdiError(
            "ISBT 128 (ICCBBA) UDIs are not supported: medtrace reads GS1 and HIBCC UDIs",
            field="issuer",
        )
    if data.startswith("MA."):
        raise UdiError(
            "China MA (IDcode) UDIs are not supported: medtrace reads GS1 and HIBCC UDIs "
            "(the MA check character cannot be verified)",
            field="issuer",
        )


def _hibc_caption(data: str) -> str:
    """``*+A123BJC5D6E71G*`` as printed under a Code 39 symbol -> the encoded data."""
    if data.startswith("*+") and data.endswith("*") and len(data) > 3:
        inner = data[1:-1]
        return inner[:-1] + " " if inner.endswith("_") else inner
    return data


def _ean_upc(symbology: str, data: str) -> Identity:
    if not (data.isascii() and data.isdigit()):
        raise UdiError(f"{SYMBOLOGY_NAMES[symbology]} data is digits only, got {data!r}")
    if symbology == "]E0" and len(data) == 8:  # UPC-E: expand to UPC-A first
        try:
            data = Upc.parse(data).as_upc_a()
        except ParseError as exc:
            raise UdiError(f"UPC-E {data!r} is not valid: {exc}", field="gtin") from exc
    expected = {"]E0": (12, 13), "]E4": (8,), "]I1": (14,)}[symbology]
    if len(data) not in expected:
        lengths = " or ".join(str(n) for n in expected)
        raise UdiError(
            f"{SYMBOLOGY_NAMES[symbology]} carries {lengths} digits, got {len(data)}", field="gtin"
        )
    try:
        gtin = normalize_gtin(data)
    except UdiError as exc:
        raise UdiError(f"{SYMBOLOGY_NAMES[symbology]} ({symbology}): {exc}", field="gtin") from exc
    return Identity.from_elements((("01", gtin),), symbology=symbology)


def _from_urn(text: str) -> Identity:
    parts = parse_urn(text)
    if parts.hibc_lic is not None and parts.hibc_pcn is not None and parts.hibc_uom is not None:
        hibc = HibcData(
            lic=parts.hibc_lic,
            pcn=parts.hibc_pcn,
            unit_of_measure=parts.hibc_uom,
            serial=parts.hibc_serial,
            lot=parts.hibc_lot,
        )
        return Identity.from_hibc(hibc, scheme="epc")
    return Identity.from_elements(parts.elements, scheme="epc", gcp_length=parts.gcp_length)


def _parse_content(data: str, symbology: str | None) -> Identity:
    """Identify and parse data that carries no GS1-mode symbology identifier."""
    _refuse_other_agencies(data)
    if data.startswith(("+", "*+")):
        return Identity.from_hibc(parse_hibc(_hibc_caption(data)), symbology=symbology)
    data = data.rstrip(" ")  # trailing spaces matter only as an HIBC check character
    if not data:
        raise UdiError("the identifier is empty")
    if looks_like_uri(data):
        return Identity.from_elements(parse_digital_link(data), symbology=symbology)
    if data[:4].lower() == "urn:":
        return _from_urn(data)
    if symbology is not None:
        name = SYMBOLOGY_NAMES.get(symbology, symbology)
        raise UdiError(
            f"{name} ({symbology}) is not a GS1-mode symbol, so it carries no GS1 element "
            f"strings; expected a Digital Link URI, HIBC data or a URN in it",
            field="symbology",
        )
    if data.startswith("("):
        return Identity.from_elements(parse_element_string(data))
    if data.isascii() and data.isdigit() and len(data) in (8, 12, 13, 14):
        return Identity.from_elements((("01", normalize_gtin(data)),))
    if data[:1].isdigit() or data.startswith(GS):
        return Identity.from_elements(parse_scan_data(data))
    raise UdiError(
        "not a recognised identifier: expected a GS1 element string '(01)...', GS1 scan data, "
        "a Digital Link URI, an HIBC string '+...' or an EPC URN 'urn:epc:...'"
    )


def parse(text: str, *, gcp_length: GcpLength = None) -> Identity:
    """Parse any supported identifier into an ``Identity``; raise UdiError saying what is wrong.

    ``gcp_length`` is the GS1 Company Prefix length needed for ``Identity.epc``: an int, or a
    callable given the key digits (SSCC, else GTIN-14, else GLN) that returns a length or None.
    """
    if not isinstance(text, str):
        raise UdiError(f"an identifier is text, got {type(text).__name__}")
    data = text.lstrip().rstrip(_SCANNER_TRAILERS)
    if not data:
        raise UdiError("the identifier is empty")
    if data.startswith("]"):
        if len(data) < 3:
            raise UdiError(f"incomplete symbology identifier {data!r}", field="symbology")
        try:
            symbology = SymbologyIdentifier.extract(data).value
        except ParseError as exc:
            raise UdiError(
                f"{data[:3]!r} is not an AIM symbology identifier", field="symbology"
            ) from exc
        payload = data[len(symbology) :]
        if symbology in _GS1_MODE:
            name = SYMBOLOGY_NAMES[symbology]
            payload = payload.rstrip(" ")  # a space is never GS1 data: a wedge artefact
            if not payload.strip(GS):
                raise UdiError(f"{name} ({symbology}) symbology identifier with no data")
            identity = Identity.from_elements(parse_scan_data(payload), symbology=symbology)
        elif symbology in _EAN_UPC:
            identity = _ean_upc(symbology, payload)
        elif symbology in ("]E1", "]E2", "]E3"):
            raise UdiError(
                "EAN/UPC add-on symbols carry no UDI: scan the main EAN/UPC symbol alone",
                field="symbology",
            )
        else:
            if not payload:
                raise UdiError(f"symbology identifier {symbology} with no data")
            identity = _parse_content(payload, symbology)
    else:
        identity = _parse_content(data, None)
    return _resolve_gcp(identity, gcp_length)
