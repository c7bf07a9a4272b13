"""Rule ``qc_failure``: a failed QC inspection holds the whole lot and alerts QC.

Hook: ``quality.inspections.inspection_record`` calls ``qc_failed`` inside its transaction,
after the failed result and its nonconformance (which already holds the failed unit or lot) are
written. With the rule's ``params["hold"]`` (default on) a failed *unit* also puts its lot on
hold: one lot-class hold row (``quality.place_holds``), which the state machine applies to every
unit of the lot, set-based, whatever the lot's size. The hold carries the nonconformance's
number as its source, so closing the nonconformance lifts it with the unit's own hold.

One live alert per lot (dedupe key ``lot:<lot class>``): a second unit of the same lot failing
while QC has not concluded the first alert adds no second alert (its result and NC are still
recorded). A failure of a unit without a lot is keyed by the unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from medtrace.lib import udi

from . import rules
from .models import Alert, AlertRuleKind

if TYPE_CHECKING:
    from medtrace.accounts.models import User
    from medtrace.quality.models import InspectionResult, Measurement, Nonconformance

KIND = AlertRuleKind.QC_FAILURE
MAX_LISTED = 20


def lot_class_of(epc: str, gtin: str, lot: str) -> str:
    """The lot class URN of a unit's lot ("" when it cannot be formed)."""
    if not lot:
        return ""
    try:
        identity = udi.parse(epc)
    except (udi.UdiError, ValueError):
        return ""
    if identity.hibc is not None:
        return udi.hibc_lot_urn(identity.hibc.di, lot)
    if (identity.gtin or gtin) and identity.gcp_length:
        return udi.lgtin_urn(identity.gtin or gtin, lot, identity.gcp_length)
    return ""


def _open_nc_number(target: str) -> str:
    from medtrace.quality.models import NcStatus, NonconformanceItem

    return (
        NonconformanceItem.objects.filter(target=target)
        .exclude(nonconformance__status=NcStatus.CLOSED)
        .order_by("-nonconformance_id")
        .values_list("nonconformance__number", flat=True)
        .first()
        or ""
    )


def _hold_lot(
    *,
    result: InspectionResult,
    lot_class: str,
    source: str,
    user: User | None,
    at: datetime,
) -> list[str]:
    """Hold the lot of a failed unit (unless an open hold already covers the lot)."""
    from medtrace.quality.holds import place_holds
    from medtrace.quality.models import Hold

    covered = Hold.objects.filter(lifted_at__isnull=True, target=lot_class).exists() or (
        bool(result.gtin)
        and Hold.objects.filter(lifted_at__isnull=True, gtin=result.gtin, lot=result.lot).exists()
    )
    if covered:
        return []
    holds = place_holds(
        targets=[lot_class],
        reason=_("QC failure of %(unit)s (inspection %(number)s): the whole lot %(lot)s is held")
        % {"unit": result.serial or result.target, "number": result.number, "lot": result.lot},
        user=user,
        source=source or result.number,
        at=at,
    )
    return [h.number for h in holds]


def qc_failed(
    *,
    result: InspectionResult,
    measurements: Sequence[Measurement],
    nc: Nonconformance | None,
    user: User | None,
    at: datetime,
) -> Alert | None:
    """Hold the failed unit's lot and raise the ``qc_failure`` alert (caller's transaction)."""
    from medtrace.ledger.models import UnitState
    from medtrace.quality.models import Hold

    config = rules.rule(KIND)
    if not config.enabled:
        return None
    is_unit = bool(result.serial)
    lot_class = (
        lot_class_of(result.target, result.gtin, result.lot)
        if is_unit
        else (result.target if result.lot else "")
    )
    source = nc.number if nc is not None else _open_nc_number(result.target)
    held_now: list[str] = []
    if is_unit and lot_class and config.params.get("hold", True):
        held_now = _hold_lot(result=result, lot_class=lot_class, source=source, user=user, at=at)
    holds = list(
        Hold.objects.filter(lifted_at__isnull=True, target__in=[result.target, lot_class])
        .order_by("pk")
        .values_list("number", "target")
    )
    units_in_lot = (
        UnitState.objects.filter(gtin=result.gtin, lot=result.lot).count()
        if result.gtin and result.lot
        else None
    )
    failed = [
        {
            "sample": m.sample,
            "characteristic": m.characteristic,
            "value": str(m.value.normalize()) if m.value is not None else m.conforms,
            "lower": str(m.lower) if m.lower is not None else None,
            "upper": str(m.upper) if m.upper is not None else None,
            "unit": m.unit,
        }
        for m in measurements
        if not m.passed
    ]
    what = result.serial or (
        _("lot %(lot)s") % {"lot": result.lot} if result.lot else result.target
    )
    plan_code = result.plan.code
    characteristics = sorted({m.characteristic for m in measurements if not m.passed})
    message = _("Inspection %(number)s under plan %(plan)s failed on %(what)s: %(failed)s.") % {
        "number": result.number,
        "plan": plan_code,
        "what": what,
        "failed": ", ".join(characteristics),
    }
    if held_now:
        message += " " + _(
            "The whole lot %(lot)s (%(units)s units) was put on hold (%(holds)s) until the "
            "nonconformance %(nc)s is closed."
        ) % {
            "lot": result.lot,
            "units": units_in_lot if units_in_lot is not None else "?",
            "holds": ", ".join(held_now),
            "nc": source or "-",
        }
    elif holds:
        message += " " + _("On hold: %(holds)s.") % {"holds": ", ".join(n for n, _t in holds)}
    return rules.fire(
        KIND,
        dedupe_key=f"lot:{lot_class}" if lot_class else f"unit:{result.target}",
        title=_("QC failure: %(plan)s failed on %(what)s") % {"plan": plan_code, "what": what},
        message=message,
        evidence={
            "inspection": result.number,
            "plan": plan_code,
            "inspection_kind": result.kind,
            "target": result.target,
            "gtin": result.gtin or None,
            "lot": result.lot or None,
            "lot_class": lot_class or None,
            "serial": result.serial or None,
            "failed": failed[:MAX_LISTED],
            "nonconformance": source or None,
            "holds": [{"number": n, "target": t} for n, t in holds],
            "lot_held_now": bool(held_now),
            "units_in_lot": units_in_lot,
        },
        object_type="quality.inspectionresult",
        object_id=str(result.pk),
    )
