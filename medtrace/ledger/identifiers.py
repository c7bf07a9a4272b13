"""Canonical identifiers for the ledger: one name per physical thing (DESIGN §5).

EPCIS 2.0 lets a partner name a unit by EPC URN or by GS1 Digital Link URI. The ledger indexes
the canonical EPC URN whenever the company-prefix length is known (from our products, our
parties, or GS1's prefix table), so both spellings lead to one history; the event document keeps
exactly what was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medtrace.lib import udi
from medtrace.lib.udi.epc import unescape_component
from medtrace.lib.udi.gs1 import validate_element
from medtrace.masterdata.models import Location, Party, ProductIdentifier

_SGTIN = "urn:epc:id:sgtin:"
_PGLN = re.compile(r"^urn:epc:id:pgln:(\d{6,12})\.(\d{0,6})$", re.IGNORECASE)


@dataclass(frozen=True)
class EpcFacts:
    """What an instance EPC says about itself."""

    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    di: str | None = None


class EpcResolver:
    """Per-capture cache of identifier conversions; one instance per transaction."""

    def __init__(self) -> None:
        self._gcp_by_di: dict[str, int] | None = None
        self._prefixes: list[str] | None = None
        self._canonical: dict[str, str] = {}
        self._facts: dict[str, EpcFacts] = {}
        # "urn:epc:id:sgtin:<company>.<item>" -> its GTIN: the units of one product share it.
        self._sgtin_gtin: dict[str, str] = {}

    def _load(self) -> None:
        self._gcp_by_di = {
            di: gcp
            for di, gcp in ProductIdentifier.objects.filter(
                product__gcp_length__isnull=False
            ).values_list("di", "product__gcp_length")
            if gcp is not None
        }
        self._prefixes = sorted(
            Party.objects.exclude(gs1_company_prefix="").values_list(
                "gs1_company_prefix", flat=True
            ),
            key=len,
            reverse=True,
        )

    def gcp_length(self, digits: str) -> int | None:
        if self._gcp_by_di is None:
            self._load()
        assert self._gcp_by_di is not None and self._prefixes is not None
        if len(digits) == 14 and digits in self._gcp_by_di:
            return self._gcp_by_di[digits]
        body = digits[1:] if len(digits) in (14, 18) else digits
        for prefix in self._prefixes:
            if body.startswith(prefix):
                return len(prefix)
        return udi.gcp_length_for(digits)

    def canonical(self, value: str) -> str:
        """The EPC URN for a Digital Link URI when it can be formed; anything else unchanged."""
        if value.startswith("urn:"):
            return value
        cached = self._canonical.get(value)
        if cached is not None:
            return cached
        result = value
        if value.startswith(("http://", "https://")):
            try:
                identity = udi.parse(value, gcp_length=self.gcp_length)
            except udi.UdiError:
                identity = None
            if identity is not None and identity.epc:
                result = identity.epc
        self._canonical[value] = result
        return result

    def facts(self, epc: str) -> EpcFacts:
        cached = self._facts.get(epc)
        if cached is not None:
            return cached
        if epc.startswith(_SGTIN):
            # A commissioning event names thousands of serials of one GTIN: parse the GTIN
            # once per company.item, then only the serial (a full parse is ~15x slower).
            head, _dot, last = epc.rpartition(".")
            gtin = self._sgtin_gtin.get(head)
            if gtin is not None:
                try:
                    serial = unescape_component(last, what="serial") if "%" in last else last
                    validate_element("21", serial)
                except udi.UdiError:
                    facts = EpcFacts()
                else:
                    facts = EpcFacts(gtin=gtin, serial=serial, di=gtin)
                self._facts[epc] = facts
                return facts
        try:
            identity = udi.parse(epc, gcp_length=self.gcp_length)
        except udi.UdiError:
            facts = EpcFacts()
        else:
            hibc = identity.hibc
            facts = EpcFacts(
                gtin=identity.gtin,
                serial=identity.serial or (hibc.serial if hibc else None),
                lot=identity.lot or (hibc.lot if hibc else None),
                di=identity.di,
            )
            if epc.startswith(_SGTIN) and identity.gtin and identity.di == identity.gtin:
                self._sgtin_gtin[epc.rpartition(".")[0]] = identity.gtin
        self._facts[epc] = facts
        return facts


def gln_of(value: str | None) -> str | None:
    """The GLN inside a party or location identifier (pgln/sgln URN or Digital Link)."""
    if not value:
        return None
    match = _PGLN.match(value)
    if match:
        body = match.group(1) + match.group(2)
        if len(body) != 12:
            return None
        return body + udi.gs1_check_digit(body)
    try:
        identity = udi.parse(value)
    except udi.UdiError:
        return None
    return identity.gln


@dataclass(frozen=True)
class Holder:
    gln: str | None
    name: str | None
    role: str | None
    party_id: int | None


def resolve_holders(values: set[str]) -> dict[str, Holder]:
    """Map party/location identifiers to Parties in two queries, whatever their number."""
    glns = {value: gln_of(value) for value in values}
    wanted = {g for g in glns.values() if g}
    parties = {p.gln: p for p in Party.objects.filter(gln__in=wanted)}
    locations = {
        loc.gln: loc.party
        for loc in Location.objects.select_related("party").filter(gln__in=wanted - set(parties))
    }
    out: dict[str, Holder] = {}
    for value, gln in glns.items():
        party = parties.get(gln or "") or locations.get(gln or "")
        if party is not None:
            out[value] = Holder(party.gln or gln, party.name, party.role, party.pk)
        else:
            out[value] = Holder(gln, None, None, None)
    return out


def products_by_di(dis: set[str]) -> dict[str, int]:
    return dict(ProductIdentifier.objects.filter(di__in=dis).values_list("di", "product_id"))
