"""EPC pure-identity URNs (GS1 EPC Tag Data Standard) and medtrace's private HIBC URNs.

Canonical internal identifiers (DESIGN §5):

* ``urn:epc:id:sgtin:CompanyPrefix.IndicatorAndItemRef.Serial`` - a serialised unit;
* ``urn:epc:class:lgtin:CompanyPrefix.IndicatorAndItemRef.Lot`` - a lot;
* ``urn:epc:idpat:sgtin:CompanyPrefix.IndicatorAndItemRef.*`` - a trade item class (GTIN only);
* ``urn:epc:id:sscc:CompanyPrefix.ExtensionAndSerialRef`` - a case or pallet;
* ``urn:epc:id:sgln:CompanyPrefix.LocationRef.Extension`` - a location (``0`` = no extension);
* ``urn:medtrace:hibc:LIC.PCNU:Serial`` and ``urn:medtrace:hibc-lot:LIC.PCNU:Lot`` - HIBC-labelled
  units and lots. ``PCNU`` is the product/catalog number followed by its one-digit unit of
  measure, exactly as in the HIBC primary data, so that each packaging level has its own URN
  (as the indicator digit does for an SGTIN) and the LIC + ``PCNU`` is the HIBC UDI-DI.

Serial, lot and extension characters that a URN may not carry raw are %-escaped as the EPC TDS
requires (``"`` ``%`` ``&`` ``/`` ``<`` ``>`` ``?``, and anything outside the URN character set).
The company-prefix length cannot be derived from the digits; it must be given (6 to 12).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .checkdigit import gs1_check_digit, normalize_gtin, validate_gln, validate_sscc
from .errors import UdiError
from .gs1 import validate_element
from .hibc import MAX_LOT_OR_SERIAL, MAX_PCN

GCP_LENGTHS = range(6, 13)

# Characters an EPC URN component may carry without escaping (EPC TDS, URN RFC 8141 subset).
_URN_SAFE = frozenset(string.ascii_letters + string.digits + "!'()*+,-.:;=_")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HIBC_DI = re.compile(r"^([A-Z][A-Z0-9]{3})\.?([A-Z0-9]{1,18})([0-9])$")


def escape_component(value: str) -> str:
    return "".join(c if c in _URN_SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def unescape_component(value: str, *, what: str) -> str:
    if _BAD_ESCAPE.search(value):
        raise UdiError(f"malformed %-escape in the URN {what}: {value!r}", field="epc")
    raw = bytearray()
    index = 0
    while index < len(value):
        if value[index] == "%":
            raw.append(int(value[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.extend(value[index].encode())
            index += 1
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise UdiError(f"the URN {what} is not valid UTF-8", field="epc") from exc


def _gcp(gcp_length: int | None) -> int:
    if isinstance(gcp_length, bool) or not isinstance(gcp_length, int):
        raise UdiError(
            "the GS1 Company Prefix length is needed to build an EPC URI",
            field="epc.company_prefix",
        )
    if gcp_length not in GCP_LENGTHS:
        raise UdiError(
            f"a GS1 Company Prefix has 6 to 12 digits, got {gcp_length}",
            field="epc.company_prefix",
        )
    return gcp_length


def _gtin_parts(gtin: str, gcp_length: int | None) -> tuple[str, str]:
    value = normalize_gtin(gtin)
    length = _gcp(gcp_length)
    return value[1 : 1 + length], value[0] + value[1 + length : 13]


def sgtin_urn(gtin: str, serial: str, gcp_length: int | None) -> str:
    """``urn:epc:id:sgtin:`` for a GTIN (8/12/13/14 digits) and a (21) serial."""
    company, item = _gtin_parts(gtin, gcp_length)
    validate_element("21", serial)
    return f"urn:epc:id:sgtin:{company}.{item}.{escape_component(serial)}"


def lgtin_urn(gtin: str, lot: str, gcp_length: int | None) -> str:
    """``urn:epc:class:lgtin:`` for a GTIN and a (10) lot."""
    company, item = _gtin_parts(gtin, gcp_length)
    validate_element("10", lot)
    return f"urn:epc:class:lgtin:{company}.{item}.{escape_component(lot)}"


def sgtin_pattern_urn(gtin: str, gcp_length: int | None) -> str:
    """``urn:epc:idpat:sgtin:CP.IR.*``: every serial of one GTIN (the trade item class)."""
    company, item = _gtin_parts(gtin, gcp_length)
    return f"urn:epc:idpat:sgtin:{company}.{item}.*"


def sscc_urn(sscc: str, gcp_length: int | None) -> str:
    """``urn:epc:id:sscc:`` for an 18-digit SSCC."""
    value = validate_sscc(sscc)
    length = _gcp(gcp_length)
    return f"urn:epc:id:sscc:{value[1 : 1 + length]}.{value[0]}{value[1 + length : 17]}"


def sgln_urn(gln: str, extension: str | None, gcp_length: int | None) -> str:
    """``urn:epc:id:sgln:`` for a GLN and its (254) extension (None or "" = ``0``, none)."""
    value = validate_gln(gln)
    length = _gcp(gcp_length)
    if extension:
        validate_element("254", extension)
    ext = escape_component(extension) if extension else "0"
    return f"urn:epc:id:sgln:{value[:length]}.{value[length:12]}.{ext}"


def _hibc_di(lic_pcn_uom_or_lic_pcn: str) -> tuple[str, str]:
    match = _HIBC_DI.match(lic_pcn_uom_or_lic_pcn)
    if match is None:
        raise UdiError(
            "an HIBC UDI-DI is the 4-character LIC, the product/catalog number (up to "
            f"{MAX_PCN}) and the unit-of-measure digit, e.g. 'A123BJC5D6E71' or 'A123.BJC5D6E71'; "
            f"got {lic_pcn_uom_or_lic_pcn!r}",
            field="hibc",
        )
    return match.group(1), match.group(2) + match.group(3)


def _hibc_value(value: str, *, what: str) -> str:
    if not 1 <= len(value) <= MAX_LOT_OR_SERIAL:
        raise UdiError(f"an HIBC {what} has 1 to {MAX_LOT_OR_SERIAL} characters", field="hibc")
    return escape_component(value)


def hibc_urn(lic_pcn_uom_or_lic_pcn: str, serial: str) -> str:
    """``urn:medtrace:hibc:LIC.PCNU:serial`` for an HIBC UDI-DI (``A123BJC5D6E71``, with or
    without a dot after the LIC) and a serial number."""
    lic, rest = _hibc_di(lic_pcn_uom_or_lic_pcn)
    return f"urn:medtrace:hibc:{lic}.{rest}:{_hibc_value(serial, what='serial number')}"


def hibc_lot_urn(lic_pcn_uom_or_lic_pcn: str, lot: str) -> str:
    """``urn:medtrace:hibc-lot:LIC.PCNU:lot`` for an HIBC UDI-DI and a lot number."""
    lic, rest = _hibc_di(lic_pcn_uom_or_lic_pcn)
    return f"urn:medtrace:hibc-lot:{lic}.{rest}:{_hibc_value(lot, what='lot number')}"


@dataclass(frozen=True)
class UrnParts:
    """What a URN names, before it becomes an Identity."""

    kind: str  # "sgtin", "lgtin", "sgtin-class", "sscc", "sgln", "hibc", "hibc-lot"
    elements: tuple[tuple[str, str], ...] = ()
    gcp_length: int | None = None
    hibc_lic: str | None = None
    hibc_pcn: str | None = None
    hibc_uom: int | None = None
    hibc_serial: str | None = None
    hibc_lot: str | None = None


def _split_company(text: str, *, parts: int, total: int, scheme: str) -> list[str]:
    fields = text.split(".", parts - 1)  # the last field (serial, lot, extension) may hold dots
    if len(fields) != parts:
        raise UdiError(f"an EPC {scheme} URN has {parts} dot-separated fields", field="epc")
    company, reference = fields[0], fields[1]
    if not (company.isascii() and company.isdigit() and len(company) in GCP_LENGTHS):
        raise UdiError(
            f"the EPC {scheme} company prefix must be 6 to 12 digits, got {company!r}",
            field="epc.company_prefix",
        )
    if not (reference == "" or (reference.isascii() and reference.isdigit())):
        raise UdiError(f"the EPC {scheme} reference must be digits", field="epc")
    if len(company) + len(reference) != total:
        raise UdiError(
            f"the EPC {scheme} company prefix and reference must have {total} digits together, "
            f"got {len(company) + len(reference)}",
            field="epc",
        )
    return fields


def _gtin_from(company: str, item: str) -> str:
    body = item[0] + company + item[1:]
    return body + gs1_check_digit(body)


def _parse_epc(uri_type: str, scheme: str, value: str) -> UrnParts:
    kind = f"{uri_type}:{scheme}"
    if kind in ("id:sgtin", "class:lgtin", "idpat:sgtin"):
        company, item, last = _split_company(value, parts=3, total=13, scheme=scheme)
        if not item:
            raise UdiError("the EPC item reference must hold the indicator digit", field="epc")
        gtin = _gtin_from(company, item)
        if kind == "idpat:sgtin":
            if last != "*":
                raise UdiError(
                    "an sgtin pattern URN must end with '.*' (all serials of one GTIN)",
                    field="epc",
                )
            return UrnParts("sgtin-class", (("01", gtin),), len(company))
        ai = "21" if kind == "id:sgtin" else "10"
        text = unescape_component(last, what="serial" if ai == "21" else "lot")
        validate_element(ai, text)
        found = "sgtin" if ai == "21" else "lgtin"
        return UrnParts(found, (("01", gtin), (ai, text)), len(company))
    if kind == "id:sscc":
        company, reference = _split_company(value, parts=2, total=17, scheme="sscc")
        body17 = reference[0] + company + reference[1:]
        return UrnParts("sscc", (("00", body17 + gs1_check_digit(body17)),), len(company))
    if kind == "id:sgln":
        company, location, extension = _split_company(value, parts=3, total=12, scheme="sgln")
        gln = company + location
        elements: list[tuple[str, str]] = [("414", gln + gs1_check_digit(gln))]
        if extension != "0":
            text = unescape_component(extension, what="extension")
            validate_element("254", text)
            elements.append(("254", text))
        return UrnParts("sgln", tuple(elements), len(company))
    raise UdiError(
        f"EPC URN type {kind!r} is not supported: use id:sgtin, class:lgtin, idpat:sgtin, "
        f"id:sscc or id:sgln",
        field="epc",
    )


def _parse_hibc_urn(kind: str, value: str) -> UrnParts:
    di, colon, last = value.partition(":")
    if not colon or not last:
        what = "serial" if kind == "hibc" else "lot"
        raise UdiError(f"urn:medtrace:{kind} is LIC.PCNU:{what}", field="hibc")
    lic, rest = _hibc_di(di)
    text = unescape_component(last, what="HIBC value")
    _hibc_value(text, what="serial number" if kind == "hibc" else "lot number")
    return UrnParts(
        kind,
        hibc_lic=lic,
        hibc_pcn=rest[:-1],
        hibc_uom=int(rest[-1]),
        hibc_serial=text if kind == "hibc" else None,
        hibc_lot=text if kind == "hibc-lot" else None,
    )


def parse_urn(text: str) -> UrnParts:
    """Read an EPC pure-identity URN or a medtrace HIBC URN."""
    lowered = text.lower()  # the URN scheme and namespace are case-insensitive; values are not
    if lowered.startswith("urn:epc:"):
        parts = text.split(":", 4)
        if len(parts) != 5:
            raise UdiError("an EPC URN reads urn:epc:<type>:<scheme>:<value>", field="epc")
        return _parse_epc(parts[2].lower(), parts[3].lower(), parts[4])
    for kind in ("hibc-lot", "hibc"):
        prefix = f"urn:medtrace:{kind}:"
        if lowered.startswith(prefix):
            return _parse_hibc_urn(kind, text[len(prefix) :])
    raise UdiError(
        "unknown URN: expected urn:epc:id:..., urn:epc:class:lgtin:... or urn:medtrace:hibc:...",
        field="epc",
    )
