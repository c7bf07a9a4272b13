"""``Identity``: what one scanned or typed identifier names, whatever form it came in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from .digital_link import DEFAULT_RESOLVER, build_digital_link
from .epc import (
    GCP_LENGTHS,
    hibc_lot_urn,
    hibc_urn,
    lgtin_urn,
    sgln_urn,
    sgtin_pattern_urn,
    sgtin_urn,
    sscc_urn,
)
from .errors import UdiError
from .gs1 import ai_date, ai_measure, render_element_string, render_hri, render_scan_data
from .hibc import HibcData, build_hibc

# Names of the AIM symbology identifiers medtrace meets on medical-device labels (ISO/IEC 15424).
SYMBOLOGY_NAMES = {
    "]C1": "GS1-128",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
    "]e0": "GS1 DataBar",
    "]J1": "GS1 DotCode",
    "]E0": "EAN-13 / UPC",
    "]E4": "EAN-8",
    "]I1": "ITF-14",
    "]C0": "Code 128",
    "]A0": "Code 39",
    "]d1": "Data Matrix",
    "]Q1": "QR Code",
    "]z0": "Aztec Code",
    "]L0": "PDF417",
}


@dataclass(frozen=True)
class Identity:
    """The result of ``parse``: one device, lot, logistic unit or location.

    ``scheme`` is "gs1" (GS1 barcodes, element strings, Digital Link), "hibcc" (HIBC LIC) or
    "epc" (an EPC or medtrace URN was given). ``ais`` keeps the GS1 (AI, value) pairs in input
    order (synthesised for EAN/UPC and EPC input, empty for HIBC). ``gcp_length`` is the GS1
    Company Prefix length of the key the EPC is built from (the SSCC, else the GTIN, else the
    GLN); without it ``epc`` is None.
    """

    scheme: str
    ais: tuple[tuple[str, str], ...] = ()
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: date | None = None
    manufactured: date | None = None
    sscc: str | None = None
    gln: str | None = None
    symbology: str | None = None
    hibc: HibcData | None = None
    gcp_length: int | None = None

    @classmethod
    def from_elements(
        cls,
        elements: tuple[tuple[str, str], ...],
        *,
        scheme: str = "gs1",
        symbology: str | None = None,
        gcp_length: int | None = None,
    ) -> Identity:
        """Build an Identity from already-validated GS1 (AI, value) pairs."""
        values: dict[str, str] = {}
        for ai, value in elements:
            values.setdefault(ai, value)
        return cls(
            scheme=scheme,
            ais=tuple(elements),
            gtin=values.get("01"),
            serial=values.get("21"),
            lot=values.get("10"),
            expiry=ai_date("17", values["17"]) if "17" in values else None,
            manufactured=ai_date("11", values["11"]) if "11" in values else None,
            sscc=values.get("00"),
            gln=values.get("414"),
            symbology=symbology,
            gcp_length=gcp_length,
        )

    @classmethod
    def from_hibc(
        cls, hibc: HibcData, *, scheme: str = "hibcc", symbology: str | None = None
    ) -> Identity:
        return cls(
            scheme=scheme,
            serial=hibc.serial,
            lot=hibc.lot,
            expiry=hibc.expiry,
            manufactured=hibc.manufactured,
            symbology=symbology,
            hibc=hibc,
        )

    # -- look-ups ------------------------------------------------------------------------------

    def get(self, ai: str) -> str | None:
        """The (first) value of one AI, or None."""
        return next((value for key, value in self.ais if key == ai), None)

    def date_for(self, ai: str) -> date | None:
        """The date a date AI such as (11), (15) or (17) stands for (DD=00 = month end)."""
        value = self.get(ai)
        return ai_date(ai, value) if value is not None else None

    def measure(self, ai: str) -> Decimal | None:
        """A measure AI (31nn-36nn) as a decimal, e.g. (3103)000123 -> Decimal('0.123')."""
        value = self.get(ai)
        return ai_measure(ai, value) if value is not None else None

    @property
    def gln_extension(self) -> str | None:
        return self.get("254")

    @property
    def di(self) -> str | None:
        """The UDI device identifier: the GTIN-14, or the HIBC LIC + PCN + unit of measure."""
        if self.gtin:
            return self.gtin
        return self.hibc.di if self.hibc else None

    @property
    def symbology_name(self) -> str | None:
        if self.symbology is None:
            return None
        return SYMBOLOGY_NAMES.get(self.symbology, f"symbology {self.symbology}")

    @property
    def epc_key(self) -> str | None:
        """The GS1 key the EPC URN is built from (and whose company prefix length counts)."""
        return self.sscc or self.gtin or self.gln

    # -- canonical forms -----------------------------------------------------------------------

    @property
    def epc(self) -> str | None:
        """The canonical URN (DESIGN §5), or None when it cannot be formed.

        Order of precedence: SSCC (the logistic unit a label with (00) names), then GTIN with
        serial (SGTIN), GTIN with lot (LGTIN class), GTIN alone (``idpat`` sgtin class), GLN
        (SGLN, with the (254) extension); HIBC serial or lot. GS1 forms need ``gcp_length``.
        """
        if self.hibc is not None:
            if self.hibc.serial:
                return hibc_urn(self.hibc.di, self.hibc.serial)
            if self.hibc.lot:
                return hibc_lot_urn(self.hibc.di, self.hibc.lot)
            return None
        if self.gcp_length is None:
            return None
        if self.sscc:
            return sscc_urn(self.sscc, self.gcp_length)
        if self.gtin:
            if self.serial:
                return sgtin_urn(self.gtin, self.serial, self.gcp_length)
            if self.lot:
                return lgtin_urn(self.gtin, self.lot, self.gcp_length)
            return sgtin_pattern_urn(self.gtin, self.gcp_length)
        if self.gln:
            return sgln_urn(self.gln, self.gln_extension, self.gcp_length)
        return None

    def with_gcp_length(self, gcp_length: int | None) -> Identity:
        """A copy that knows the GS1 Company Prefix length (6 to 12), so ``epc`` can be formed."""
        if gcp_length is not None and (
            isinstance(gcp_length, bool)
            or not isinstance(gcp_length, int)
            or gcp_length not in GCP_LENGTHS
        ):
            raise UdiError(
                f"a GS1 Company Prefix has 6 to 12 digits, got {gcp_length!r}",
                field="epc.company_prefix",
            )
        return replace(self, gcp_length=gcp_length)

    def digital_link_uri(self, base: str = DEFAULT_RESOLVER) -> str:
        """The GS1 Digital Link URI on ``base`` (a resolver, optionally with a path stem).

        Raises UdiError when the identity has no Digital Link primary key or carries an AI that
        a Digital Link cannot (for example a (235) next to (10)).
        """
        if not self.ais:
            raise UdiError("only GS1 identifiers have a GS1 Digital Link URI", field="scheme")
        return build_digital_link(self.ais, base=base)

    @property
    def digital_link(self) -> str | None:
        """The canonical Digital Link URI on id.gs1.org, or None when there is none."""
        try:
            return self.digital_link_uri()
        except UdiError:
            return None

    def _require_gs1(self, what: str) -> None:
        if not self.ais:
            raise UdiError(f"{what} exists only for GS1 identifiers", field="scheme")

    def element_string(self) -> str:
        """The bracketed element string with GS1 YYMMDD dates, as a GS1 encoder takes it."""
        self._require_gs1("a GS1 element string")
        return render_element_string(self.ais)

    def scan_data(self) -> str:
        """Unbracketed GS1 data with GS separators, as a scanner returns it (no symbology id)."""
        self._require_gs1("GS1 scan data")
        return render_scan_data(self.ais)

    def hri(self) -> str:
        """Human-readable text: the element string with dates as YYYY-MM-DD; HIBC as printed."""
        if self.hibc is not None:
            if self.hibc.data:
                return self.hibc.data
            return build_hibc(
                lic=self.hibc.lic,
                pcn=self.hibc.pcn,
                uom=self.hibc.unit_of_measure,
                lot=self.hibc.lot,
                serial=self.hibc.serial,
                expiry=self.hibc.expiry,
                manufactured=self.hibc.manufactured,
            )
        self._require_gs1("a human-readable element string")
        return render_hri(self.ais)
