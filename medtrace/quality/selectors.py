"""Quality reads: inspections of units and lots, open holds and nonconformances, what awaits
inspection or release. Set-based: a handful of queries whatever the number of targets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from medtrace.audit.models import Signature
from medtrace.audit.signatures import content_sha256, signatures_for
from medtrace.errors import NotFound
from medtrace.ledger.models import UnitState
from medtrace.lib import udi
from medtrace.masterdata.models import ProductIdentifier

from .holds import is_lot_class
from .models import (
    Hold,
    InspectionKind,
    InspectionPlan,
    InspectionResult,
    Measurement,
    NcDisposition,
    NcStatus,
    Nonconformance,
    NonconformanceItem,
    Release,
    ReleaseItem,
)

RESULT_TYPE = "quality.inspectionresult"


def _number(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def lot_of_class(target: str) -> tuple[str, str]:
    """(gtin, lot) of a lot class URN, ("", "") when it has none (our own material lot URNs)."""
    if target.startswith("urn:epc:class:lgtin:"):
        try:
            identity = udi.parse(target)
        except udi.UdiError:
            return "", ""
        return identity.gtin or "", identity.lot or ""
    return "", ""


@dataclass(frozen=True)
class _Scope:
    """Which results concern a set of targets: by target, and by (gtin, lot)."""

    targets: list[str]
    unit_lots: dict[str, tuple[str, str]]  # unit EPC -> its lot
    class_lots: dict[str, tuple[str, str]]  # lot class URN -> (gtin, lot)

    @classmethod
    def of(cls, targets: Iterable[str]) -> _Scope:
        wanted = list(dict.fromkeys(t.strip() for t in targets if t and t.strip()))
        units = [t for t in wanted if not is_lot_class(t)]
        unit_lots = {
            epc: (gtin, lot)
            for epc, gtin, lot in UnitState.objects.filter(epc__in=units).values_list(
                "epc", "gtin", "lot"
            )
            if gtin and lot
        }
        class_lots = {t: lot_of_class(t) for t in wanted if is_lot_class(t)}
        return cls(wanted, unit_lots, {t: gl for t, gl in class_lots.items() if gl[0]})

    def query(self) -> Q:
        q = Q(target__in=self.targets)
        # A unit is covered by the results of its lot (lot-level results have no serial) ...
        for gtin, lot in set(self.unit_lots.values()):
            q |= Q(gtin=gtin, lot=lot, serial="")
        # ... and a lot by every result on it or on one of its units.
        for gtin, lot in set(self.class_lots.values()):
            q |= Q(gtin=gtin, lot=lot)
        return q


def _signatures(results: list[InspectionResult]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not results:
        return out
    current = {str(r.pk): content_sha256(r) for r in results}
    for sig in Signature.objects.filter(
        object_type=RESULT_TYPE, object_id__in=list(current)
    ).order_by("signed_at", "id"):
        valid = sig.content_sha256 == current[sig.object_id]
        out[sig.object_id].append(
            {
                "meaning": sig.meaning,
                "printed_name": sig.printed_name,
                "username": sig.username,
                "signed_at": sig.signed_at,
                "content_sha256": sig.content_sha256,
                "reason": sig.reason,
                "valid": valid,
            }
        )
    return out


def _measurement(m: Measurement) -> dict[str, Any]:
    measured = m.type == "measured"
    return {
        "sample": m.sample,
        "characteristic": m.characteristic,
        "type": m.type,
        "value": _number(m.value)
        if measured
        else ("conforms" if m.conforms else "does not conform"),
        "unit": m.unit,
        "nominal": _number(m.nominal),
        "lower": _number(m.lower),
        "upper": _number(m.upper),
        "passed": m.passed,
    }


def result_rows(results: Iterable[InspectionResult]) -> list[dict[str, Any]]:
    """Results as plain dicts (see ``inspections_for``); ``results`` must come from
    ``results_queryset`` so measurements and users are already loaded."""
    rows = list(results)
    sigs = _signatures(rows)
    return [
        {
            "id": r.pk,
            "number": r.number,
            "plan": f"{r.plan.code} v{r.plan_version}",
            "plan_code": r.plan.code,
            "plan_name": r.plan.name,
            "plan_version": r.plan_version,
            "kind": r.kind,
            "target": r.target,
            "gtin": r.gtin,
            "lot": r.lot,
            "serial": r.serial,
            "lot_size": r.lot_size,
            "samples": r.samples,
            "result": r.result,
            "inspected_at": r.inspected_at,
            "inspector": r.inspector.display_name() if r.inspector else "",
            "note": r.note,
            "measurements": [_measurement(m) for m in r.measurements.all()],
            "signatures": sigs.get(str(r.pk), []),
        }
        for r in rows
    ]


def results_queryset() -> Any:
    return InspectionResult.objects.select_related("plan", "inspector").prefetch_related(
        Prefetch("measurements", queryset=Measurement.objects.order_by("sample", "position", "id"))
    )


def inspections_for(targets: Iterable[str]) -> list[dict[str, Any]]:
    """Every inspection of ``targets`` (unit EPCs or lot class URNs), oldest first.

    A unit matches the results on its EPC and the lot-level results of its lot; a lot matches
    the results on the lot and on its units. Each row: ``number``, ``plan`` ("code vN"),
    ``plan_code``, ``plan_name``, ``plan_version``, ``kind``, ``target``, ``result``
    ("pass"/"fail"), ``inspected_at``, ``inspector`` (printed name), ``samples``,
    ``measurements`` [{sample, characteristic, type, value, unit, nominal, lower, upper,
    passed}] (numbers as decimal strings) and ``signatures`` [{meaning, printed_name, username,
    signed_at, content_sha256, reason, valid}].
    """
    scope = _Scope.of(targets)
    if not scope.targets:
        return []
    qs = results_queryset().filter(scope.query()).order_by("inspected_at", "id")
    return result_rows(qs)


@dataclass(frozen=True)
class Latest:
    result: str
    number: str
    inspected_at: datetime
    plan_code: str


def latest_info(
    targets: Iterable[str],
    *,
    since: datetime | None = None,
    kind: str | None = None,
    plan_codes: Iterable[str] | None = None,
) -> dict[str, Latest]:
    """The latest result that decides each target (no key when none).

    A unit is decided by its own latest result when it has one, else by its lot's latest
    lot-level result; a lot by its latest lot-level result. ``since``, ``kind`` and
    ``plan_codes`` narrow which results count.
    """
    scope = _Scope.of(targets)
    if not scope.targets:
        return {}
    qs = InspectionResult.objects.filter(scope.query())
    if since is not None:
        qs = qs.filter(inspected_at__gte=since)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if plan_codes is not None:
        qs = qs.filter(plan__code__in=list(plan_codes))
    own: dict[str, Latest] = {}
    by_lot: dict[tuple[str, str], Latest] = {}
    rows = qs.order_by("inspected_at", "id").values_list(
        "target", "gtin", "lot", "serial", "result", "number", "inspected_at", "plan__code"
    )
    for target, gtin, lot, serial, result, number, when, code in rows:
        info = Latest(result, number, when, code)
        own[target] = info
        if gtin and lot and not serial and is_lot_class(target):
            by_lot[(gtin, lot)] = info
    out: dict[str, Latest] = {}
    for target in scope.targets:
        found = own.get(target)
        if found is None and target in scope.unit_lots:
            found = by_lot.get(scope.unit_lots[target])
        if found is None and target in scope.class_lots:
            found = by_lot.get(scope.class_lots[target])
        if found is not None:
            out[target] = found
    return out


def latest_results(
    targets: Iterable[str],
    *,
    since: datetime | None = None,
    kind: str | None = None,
    plan_codes: Iterable[str] | None = None,
) -> dict[str, str]:
    """``latest_info`` as {target: "pass" | "fail"}."""
    return {
        t: info.result
        for t, info in latest_info(targets, since=since, kind=kind, plan_codes=plan_codes).items()
    }


def _products(instances: list[str], classes: list[str]) -> dict[str, tuple[int | None, str]]:
    """target -> (product id, label) for units (UnitState) and product lots (their GTIN)."""
    out: dict[str, tuple[int | None, str]] = {}
    gtins: dict[str, list[str]] = defaultdict(list)
    for epc, product_id, gtin, serial in UnitState.objects.filter(epc__in=instances).values_list(
        "epc", "product_id", "gtin", "serial"
    ):
        out[epc] = (product_id, serial or epc)
        if product_id is None and gtin:
            gtins[gtin].append(epc)
    for target in classes:
        gtin, lot = lot_of_class(target)
        out[target] = (None, f"lot {lot}" if lot else target)
        if gtin:
            gtins[gtin].append(target)
    if gtins:
        for di, product_id in ProductIdentifier.objects.filter(di__in=list(gtins)).values_list(
            "di", "product_id"
        ):
            for target in gtins[di]:
                out[target] = (product_id, out[target][1])
    return out


def release_blockers(instances: list[str], classes: list[str]) -> list[dict[str, Any]]:
    """Units and lots that may not be released because their product has an active final
    inspection plan and their final inspection under it failed or is missing. A failed result
    accepted by a signed use-as-is concession (its NC dispositioned use_as_is) does not block.

    Each: ``{"epc", "serial", "reasons": [{"code", "message"}]}`` (the shape of the state
    machine's refusals), in the order given.
    """
    products = _products(instances, classes)
    plans = final_plans_by_product(p for p, _l in products.values() if p is not None)
    if not plans:
        return []
    reasons: dict[str, list[dict[str, str]]] = defaultdict(list)
    by_plan: dict[str, list[str]] = defaultdict(list)
    for target, (product_id, _label) in products.items():
        for plan in plans.get(product_id or 0, []):
            by_plan[plan.code].append(target)
    for code, targets in by_plan.items():
        latest = latest_info(targets, kind=InspectionKind.FINAL, plan_codes=[code])
        conceded = _conceded([i.number for i in latest.values() if i.result != "pass"])
        for target in targets:
            info = latest.get(target)
            if info is not None and info.number in conceded:
                continue  # failed, but accepted by a signed use-as-is concession
            if info is None:
                reasons[target].append(
                    {
                        "code": "final_inspection_missing",
                        "message": f"has no final inspection under plan {code}; inspect it "
                        "before release",
                    }
                )
            elif info.result != "pass":
                when = timezone.localtime(info.inspected_at).date().isoformat()
                reasons[target].append(
                    {
                        "code": "final_inspection_failed",
                        "message": f"failed its final inspection {info.number} ({code}) on "
                        f"{when}; re-inspect it with a pass before release",
                    }
                )
    lots = {t: lot_of_class(t) for t in classes if t in by_plan_targets(by_plan)}
    if lots:
        lot_q = Q()
        for gtin, lot in lots.values():
            lot_q |= Q(gtin=gtin, lot=lot)
        last: dict[str, tuple[str, str, str, str]] = {}
        for target, gtin, lot, serial, result in (
            InspectionResult.objects.filter(lot_q, kind=InspectionKind.FINAL)
            .exclude(serial="")
            .order_by("inspected_at", "id")
            .values_list("target", "gtin", "lot", "serial", "result")
        ):
            last[target] = (gtin, lot, serial, result)
        for target, (gtin, lot) in lots.items():
            failed = sorted(
                s for g, lt, s, r in last.values() if (g, lt) == (gtin, lot) and r != "pass"
            )
            if failed:
                shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
                reasons[target].append(
                    {
                        "code": "final_inspection_failed",
                        "message": f"holds units whose last final inspection failed: {shown}",
                    }
                )
    return [
        {"epc": t, "serial": products[t][1], "reasons": reasons[t]}
        for t in [*instances, *classes]
        if reasons.get(t)
    ]


def _conceded(numbers: list[str]) -> set[str]:
    """The failed results a signed use-as-is concession accepted."""
    if not numbers:
        return set()
    return set(
        Nonconformance.objects.filter(
            inspection__number__in=numbers,
            disposition=NcDisposition.USE_AS_IS,
            status__in=(NcStatus.DISPOSITIONED, NcStatus.CLOSED),
        ).values_list("inspection__number", flat=True)
    )


def by_plan_targets(by_plan: dict[str, list[str]]) -> set[str]:
    return {t for targets in by_plan.values() for t in targets}


def final_plans_by_product(product_ids: Iterable[int]) -> dict[int, list[InspectionPlan]]:
    out: dict[int, list[InspectionPlan]] = defaultdict(list)
    for plan in InspectionPlan.objects.filter(
        product_id__in=set(product_ids), kind=InspectionKind.FINAL, active=True
    ).order_by("code"):
        if plan.product_id is not None:
            out[plan.product_id].append(plan)
    return out


# Documents ------------------------------------------------------------------------------------


def plan_list(
    *,
    product_id: int | None = None,
    material_id: int | None = None,
    kind: str | None = None,
    active: bool | None = None,
) -> Any:
    qs = (
        InspectionPlan.objects.select_related("product", "material")
        .prefetch_related("characteristics")
        .order_by("code")
    )
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if material_id is not None:
        qs = qs.filter(material_id=material_id)
    if kind:
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(active=active)
    return qs


def plan_get(pk: int) -> InspectionPlan:
    plan = (
        InspectionPlan.objects.select_related("product", "material")
        .prefetch_related("characteristics")
        .filter(pk=pk)
        .first()
    )
    if plan is None:
        raise NotFound(f"No inspection plan {pk}", details={"id": pk})
    return plan


def plans_for_target(target: str) -> list[InspectionPlan]:
    """The active plans that inspect ``target`` (a unit EPC or lot class URN): its product's,
    or its material's (by GTIN or our own lot URN)."""
    gtin = ""
    if is_lot_class(target):
        gtin = lot_of_class(target)[0]
        if not gtin and target.startswith("urn:medtrace:lot:"):
            from urllib.parse import unquote

            code = unquote(target.split(":")[3])
            return list(plan_list(active=True).filter(material__code=code).order_by("kind", "code"))
    else:
        row = UnitState.objects.filter(epc=target).values("gtin", "product_id").first()
        if row is None:
            return []
        if row["product_id"]:
            return list(
                plan_list(product_id=row["product_id"], active=True).order_by("kind", "code")
            )
        gtin = row["gtin"] or ""
    if not gtin:
        return []
    product_ids = list(
        ProductIdentifier.objects.filter(di=gtin).values_list("product_id", flat=True)
    )
    return list(
        plan_list(active=True)
        .filter(Q(product_id__in=product_ids) | Q(material__gtin=gtin))
        .order_by("kind", "code")
    )


def recent_results(*, limit: int = 50) -> list[dict[str, Any]]:
    return result_rows(results_queryset().order_by("-inspected_at", "-id")[:limit])


def nc_list(*, status: str | None = None, target: str | None = None) -> Any:
    qs = Nonconformance.objects.select_related("opened_by", "inspection").order_by("-opened_at")
    if status == "unclosed":
        qs = qs.exclude(status=NcStatus.CLOSED)
    elif status:
        qs = qs.filter(status=status)
    if target:
        qs = qs.filter(items__target=target).distinct()
    return qs


def nc_get(pk: int) -> Nonconformance:
    nc = (
        Nonconformance.objects.select_related(
            "opened_by", "dispositioned_by", "closed_by", "supplier", "inspection"
        )
        .filter(pk=pk)
        .first()
    )
    if nc is None:
        raise NotFound(f"No nonconformance {pk}", details={"id": pk})
    return nc


def _name(user: Any) -> str:
    return user.display_name() if user is not None else ""


def nc_rows(ncs: Iterable[Nonconformance], *, detail: bool = False) -> list[dict[str, Any]]:
    rows = list(ncs)
    targets: dict[int, list[str]] = defaultdict(list)
    for nc_id, target in NonconformanceItem.objects.filter(
        nonconformance__in=[n.pk for n in rows]
    ).values_list("nonconformance_id", "target"):
        targets[nc_id].append(target)
    holds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if detail:
        for h in Hold.objects.filter(source__in=[n.number for n in rows]).order_by("pk"):
            holds[h.source].append(hold_row(h))
    out = []
    for nc in rows:
        row: dict[str, Any] = {
            "id": nc.pk,
            "number": nc.number,
            "title": nc.title,
            "description": nc.description,
            "category": nc.category,
            "source": nc.source,
            "status": nc.status,
            "targets": targets.get(nc.pk, []),
            "opened_at": nc.opened_at,
            "opened_by": _name(nc.opened_by),
            "inspection": nc.inspection.number if nc.inspection_id and nc.inspection else None,
            "disposition": nc.disposition or None,
            "disposition_reason": nc.disposition_reason,
            "supplier_id": nc.supplier_id,
            "dispositioned_at": nc.dispositioned_at,
            "dispositioned_by": _name(nc.dispositioned_by) if detail else None,
            "closed_at": nc.closed_at,
            "close_note": nc.close_note,
        }
        if detail:
            row["closed_by"] = _name(nc.closed_by)
            row["holds"] = holds.get(nc.number, [])
            row["signatures"] = [s.as_dict() for s in signatures_for(nc)]
        out.append(row)
    return out


def hold_list(*, active: bool | None = True, target: str | None = None) -> Any:
    qs = Hold.objects.select_related("placed_by", "lifted_by").order_by("-placed_at", "-id")
    if active is True:
        qs = qs.filter(lifted_at__isnull=True)
    elif active is False:
        qs = qs.filter(lifted_at__isnull=False)
    if target:
        qs = qs.filter(target=target)
    return qs


def hold_get(pk: int) -> Hold:
    hold = Hold.objects.select_related("placed_by", "lifted_by").filter(pk=pk).first()
    if hold is None:
        raise NotFound(f"No hold {pk}", details={"id": pk})
    return hold


def hold_row(h: Hold) -> dict[str, Any]:
    return {
        "id": h.pk,
        "number": h.number,
        "kind": h.kind,
        "target": h.target,
        "gtin": h.gtin,
        "lot": h.lot,
        "reason": h.reason,
        "source": h.source,
        "placed_at": h.placed_at,
        "placed_by": _name(h.placed_by),
        "active": h.lifted_at is None,
        "lifted_at": h.lifted_at,
        "lifted_by": _name(h.lifted_by),
        "lift_reason": h.lift_reason,
    }


def release_list() -> Any:
    return Release.objects.select_related("released_by").order_by("-released_at", "-id")


def release_rows(releases: Iterable[Release]) -> list[dict[str, Any]]:
    rows = list(releases)
    items: dict[int, list[str]] = defaultdict(list)
    for release_id, target in ReleaseItem.objects.filter(release__in=rows).values_list(
        "release_id", "target"
    ):
        items[release_id].append(target)
    sigs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sig in Signature.objects.filter(
        object_type="quality.release", object_id__in=[str(r.pk) for r in rows]
    ).order_by("signed_at", "id"):
        sigs[sig.object_id].append(
            {"meaning": sig.meaning, "printed_name": sig.printed_name, "signed_at": sig.signed_at}
        )
    return [
        {
            "id": r.pk,
            "number": r.number,
            "released_at": r.released_at,
            "released_by": _name(r.released_by),
            "note": r.note,
            "targets": items.get(r.pk, []),
            "signatures": sigs.get(str(r.pk), []),
        }
        for r in rows
    ]


def awaiting(*, limit: int = 50) -> dict[str, list[dict[str, Any]]]:
    """Units of products with an active final plan that await their final inspection (none yet,
    or the last one failed) and units that passed but are not released yet. Looks at the most
    recently commissioned units still active in our hands."""
    product_ids = list(
        InspectionPlan.objects.filter(kind=InspectionKind.FINAL, active=True, product__isnull=False)
        .values_list("product_id", flat=True)
        .distinct()
    )
    if not product_ids:
        return {"inspection": [], "release": []}
    recent = list(
        UnitState.objects.filter(
            product_id__in=product_ids, serial__isnull=False, container__isnull=True
        )
        .exclude(disposition__in=("destroyed", "disposed", "in_transit"))
        .exclude(biz_step__in=("shipping", "destroying", "decommissioning"))
        .order_by("-first_event_time")
        .values("epc", "serial", "product__name")[: limit * 4]
    )
    epcs = [u["epc"] for u in recent]
    latest = latest_info(epcs, kind=InspectionKind.FINAL)
    conceded = _conceded([i.number for i in latest.values() if i.result != "pass"])
    released = set(ReleaseItem.objects.filter(target__in=epcs).values_list("target", flat=True))
    lot_released = _lot_released(epcs)
    inspection: list[dict[str, Any]] = []
    release: list[dict[str, Any]] = []
    for u in recent:
        info = latest.get(u["epc"])
        row = {
            "epc": u["epc"],
            "serial": u["serial"],
            "product": u["product__name"],
            "last": info.number if info else None,
        }
        if info is None or (info.result != "pass" and info.number not in conceded):
            if len(inspection) < limit:
                inspection.append({**row, "result": info.result if info else None})
        elif u["epc"] not in released | lot_released and len(release) < limit:
            release.append(row)
    return {"inspection": inspection, "release": release}


def _lot_released(epcs: list[str]) -> set[str]:
    lots = {
        (g, lot): epc
        for epc, g, lot in UnitState.objects.filter(epc__in=epcs, lot__isnull=False).values_list(
            "epc", "gtin", "lot"
        )
    }
    if not lots:
        return set()
    q = Q()
    for g, lot in lots:
        q |= Q(gtin=g, lot=lot)
    found = set(ReleaseItem.objects.filter(q).values_list("gtin", "lot"))
    return {
        epc
        for epc, g, lot in UnitState.objects.filter(epc__in=epcs).values_list("epc", "gtin", "lot")
        if (g, lot) in found
    }
