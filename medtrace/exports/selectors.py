"""Reads for the exports: who may export what, and the rows they may see.

DI exports (NMPA UDID, GUDID, EUDAMED) are the manufacturer's regulatory submissions: internal
staff whose role reads products (every department); a partner account is refused (403), even
for the products it holds. FHIR Devices follow the trace rules (``check_trace_access``): every
department, and partners scoped to their custody, where "devices at a holder" is always the
partner's own party.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed
from medtrace.ledger.identifiers import gln_of
from medtrace.ledger.models import UnitState
from medtrace.masterdata.models import Location, Party, Product
from medtrace.trace.selectors import check_trace_access, resolve_target

from . import fhir
from .di_common import filter_products

MAX_COUNT = 1000
DEFAULT_COUNT = 100
_UNIT_FIELDS = (
    "epc", "product_id", "gtin", "serial", "lot", "expiry", "disposition", "biz_location",
    "possessing_party", "owning_party",
)  # fmt: skip


def check_di_export_access(user: User | None) -> None:
    if user is None:
        return  # the CLI
    if scoping.is_partner(user):
        raise PermissionDenied(
            "DI exports are the manufacturer's submissions to the UDI databases; partner "
            "accounts cannot make them (a hospital reads its devices as FHIR resources)",
            details={"required": "an internal account with masterdata.view_product"},
        )
    if not user.has_perm("masterdata.view_product"):
        raise PermissionDenied(
            "Your role cannot read products, so it cannot export their DI data",
            details={"required": "masterdata.view_product"},
        )


def di_products(
    *, user: User | None, ids: Sequence[int] | None = None, include_inactive: bool = False
) -> QuerySet[Product]:
    check_di_export_access(user)
    products = filter_products(Product.objects.all(), ids=ids, include_inactive=include_inactive)
    if ids:
        missing = sorted(set(ids) - set(products.values_list("pk", flat=True)))
        if missing:
            raise NotFound(
                f"No {'active ' if not include_inactive else ''}product with id {missing[0]}"
                + ("" if include_inactive else " (add include_inactive=true for inactive ones)"),
                field="product",
                details={"missing": missing},
            )
    return products


def _row(values: dict[str, Any], *, retracted: bool = False) -> fhir.UnitRow:
    return fhir.UnitRow(
        epc=values["epc"],
        product_id=values.get("product_id"),
        gtin=values.get("gtin"),
        serial=values.get("serial"),
        lot=values.get("lot"),
        expiry=values.get("expiry"),
        disposition=values.get("disposition"),
        biz_location=values.get("biz_location"),
        holder=values.get("possessing_party") or values.get("owning_party"),
        retracted=retracted,
    )


def unit_row(*, id: str, user: User | None) -> fhir.UnitRow:
    """The unit ``id`` names (a Device id, or any identifier form), as ``user`` may see it."""
    check_trace_access(user)
    epc = fhir.epc_from_fhir_id(id)
    target = None
    if epc is not None:
        try:
            target = resolve_target(epc, user=user, allow_class=False)
        except NotFound:
            target = None
    if target is None:
        target = resolve_target(id, user=user, allow_class=False)
    if target.kind != "serial":
        raise ValidationFailed(
            f"{id!r} names a {target.kind}, not a unit: a Device is one serialized unit",
            field="id",
        )
    if target.state is None:
        # Events name it, yet no state: every one of them was retracted (entered in error).
        from medtrace.ledger.identifiers import EpcResolver

        facts = EpcResolver().facts(target.epc)
        values: dict[str, Any] = {"epc": target.epc, "gtin": facts.gtin, "serial": facts.serial}
        if facts.di:
            product = Product.objects.filter(identifiers__di=facts.di).values("pk").first()
            values["product_id"] = product["pk"] if product else None
        return _row(values, retracted=fhir.all_retracted(target.epc))
    return _row(target.state)


def holder_party(*, holder: str | None, user: User | None) -> Party | None:
    """The party ``holder`` names (GLN, PGLN/SGLN URN or Digital Link); a partner's own party
    when it names none. Another party, for a partner, does not exist (404)."""
    partner = scoping.is_partner(user)
    if not holder:
        return user.party if partner and user is not None else None
    gln = gln_of(holder.strip()) or holder.strip()
    party = Party.objects.filter(gln=gln).first()
    if party is None:
        location = Location.objects.select_related("party").filter(gln=gln).first()
        party = location.party if location is not None else None
    if party is None or (partner and user is not None and party.pk != user.party_id):
        raise NotFound(f"No holder {holder}", field="holder", details={"holder": holder})
    return party


def unit_rows(
    *,
    user: User | None,
    holder: str | None = None,
    di: str | None = None,
    count: int = DEFAULT_COUNT,
    offset: int = 0,
) -> tuple[list[fhir.UnitRow], int]:
    """A page of the units of our products (at ``holder``, of DI ``di``), and their total."""
    check_trace_access(user)
    if not 1 <= count <= MAX_COUNT:
        raise ValidationFailed(f"_count: expected 1 to {MAX_COUNT}, got {count}", field="_count")
    if offset < 0:
        raise ValidationFailed(f"_offset: expected 0 or more, got {offset}", field="_offset")
    qs = scoping.scope_units(user, UnitState.objects.filter(product__isnull=False))
    party = holder_party(holder=holder, user=user)
    if party is not None:
        qs = qs.filter(fhir.holder_q(scoping.party_identifiers(party)))
    if di:
        qs = qs.filter(product__identifiers__di=di.strip())
    total = qs.count()
    page = qs.order_by("epc").values(*_UNIT_FIELDS)[offset : offset + count]
    return [_row(values) for values in page], total
