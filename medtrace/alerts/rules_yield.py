"""Rule ``yield_out_of_control``: a production lot whose yield falls outside the control limits
of the product's recent lots (批次波动).

Yield of a lot = first-pass yield of its work order: (units commissioned - units that failed any
QC inspection) / units commissioned. A unit counts once however often it failed; rework that
passes later does not make it first-pass. Lot-level sample inspections (no serial) do not
count: they judge the lot, not a share of its units.

Control limits (an individuals chart): mean ± ``threshold``·σ over the yields of the
``params["lots"]`` lots of the same product completed before it (at least ``params["min_lots"]``
of them, else no limits are drawn), σ their sample standard deviation, but never below
``params["min_sigma"]`` (default 0.01 = one percentage point, so that a product whose every
past lot was perfect does not alarm on its first reject).

Periodic (``rule:yield_out_of_control``, hourly) over the lots completed within the rule's
``window`` (default 30 days): results recorded after completion still count. A handful of
set-based queries: the recent lots, the history per product through a window function
(``ROW_NUMBER() OVER (PARTITION BY product ORDER BY completed_at DESC)``), and the rejects of all
those lots in one grouped count. A lot below the lower limit alerts production (the rule's
severity), above the upper limit informs (an unusually good lot: check that the inspections
were done). Each lot and side alerts once.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from . import rules, schedule
from .models import AlertRuleKind, AlertSeverity
from .rules_support import Finding, fire_new, key, summary

KIND = AlertRuleKind.YIELD_OUT_OF_CONTROL
EVERY = timedelta(hours=1)
LOOKBACK = timedelta(days=30)
MIN_SIGMA = 0.01


@dataclass(frozen=True)
class Lot:
    work_order_id: int
    number: str
    product_id: int
    lot: str
    started: int
    completed_at: datetime
    rejected: int = 0

    @property
    def yield_(self) -> float:
        return max(0.0, (self.started - self.rejected) / self.started)


def _param(params: dict[str, Any], name: str, default: float, low: float) -> float:
    try:
        value = float(params.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if value >= low else default


def _lots(products: set[int], per_product: int) -> dict[int, list[Lot]]:
    """The ``per_product`` most recently completed lots of each product, newest first, with
    their rejects: two queries."""
    from medtrace.masterdata.models import ProductIdentifier
    from medtrace.production.models import WorkOrder, WorkOrderStatus
    from medtrace.quality.models import InspectionOutcome, InspectionResult

    done = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED)
    rows = list(
        WorkOrder.objects.filter(
            status__in=done,
            product_id__in=products,
            commissioned_qty__gt=0,
            completed_at__isnull=False,
        )
        .exclude(lot="")
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("product_id")],
                order_by=[F("completed_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=per_product)
        .values_list("id", "number", "product_id", "lot", "commissioned_qty", "completed_at")
    )
    dis = defaultdict(set)
    for di, product_id in ProductIdentifier.objects.filter(product_id__in=products).values_list(
        "di", "product_id"
    ):
        dis[di].add(product_id)
    rejects: dict[tuple[int, str], int] = defaultdict(int)
    for gtin, lot, count in (
        InspectionResult.objects.filter(
            result=InspectionOutcome.FAIL,
            gtin__in=list(dis),
            lot__in={row[3] for row in rows},
        )
        .exclude(serial="")
        .values("gtin", "lot")
        .annotate(n=Count("serial", distinct=True))
        .values_list("gtin", "lot", "n")
    ):
        for product_id in dis[gtin]:
            rejects[(product_id, lot)] += count
    out: dict[int, list[Lot]] = defaultdict(list)
    for pk, number, product_id, lot, started, completed in rows:
        assert completed is not None  # filtered above
        out[product_id].append(
            Lot(pk, number, product_id, lot, started, completed, rejects[(product_id, lot)])
        )
    for lots in out.values():
        lots.sort(key=lambda x: (x.completed_at, x.work_order_id), reverse=True)
    return out


def yield_evaluate(*, now: datetime | None = None) -> str:
    """Judge the lots completed within the rule's window against their control limits."""
    from medtrace.masterdata.models import Product
    from medtrace.production.models import WorkOrder, WorkOrderStatus

    config = rules.rule(KIND)
    if not config.enabled:
        return f"{KIND}: disabled"
    now = now or timezone.now()
    params = dict(config.params)
    k = float(config.threshold if config.threshold is not None else 3)
    history = int(_param(params, "lots", 20, 2))
    minimum = int(max(2, _param(params, "min_lots", 5, 2)))
    floor = _param(params, "min_sigma", MIN_SIGMA, 0)
    recent = dict(
        WorkOrder.objects.filter(
            status__in=(WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED),
            completed_at__gte=now - (config.window or LOOKBACK),
            completed_at__lte=now,
            commissioned_qty__gt=0,
        )
        .exclude(lot="")
        .values_list("id", "product_id")
    )
    if not recent:
        return summary(KIND, [], 0)
    per_product: dict[int, int] = defaultdict(int)
    for product_id in recent.values():
        per_product[product_id] += 1
    lots = _lots(set(per_product), max(per_product.values()) + history)
    products = Product.objects.in_bulk(set(per_product))
    findings = []
    for product_id, ordered in lots.items():
        for index, lot in enumerate(ordered):
            if lot.work_order_id not in recent:
                continue
            before = ordered[index + 1 : index + 1 + history]
            if len(before) < minimum:
                continue
            yields = [b.yield_ for b in before]
            mean = statistics.fmean(yields)
            sigma = max(statistics.stdev(yields), floor)
            low, high = mean - k * sigma, mean + k * sigma
            value = lot.yield_
            if low <= value <= high:
                continue
            side = "low" if value < low else "high"
            findings.append(
                _finding(lot, products.get(product_id), before, value, mean, sigma, k, side)
            )
    return summary(KIND, fire_new(KIND, findings), len(findings))


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _finding(
    lot: Lot,
    product: Any,
    before: list[Lot],
    value: float,
    mean: float,
    sigma: float,
    k: float,
    side: str,
) -> Finding:
    name = f"{product.name} ({product.model})" if product is not None else str(lot.product_id)
    low, high = max(0.0, mean - k * sigma), min(1.0, mean + k * sigma)
    values = {
        "lot": lot.lot,
        "product": name,
        "yield": _percent(value),
        "limit": _percent(low if side == "low" else high),
        "mean": _percent(mean),
        "n": len(before),
        "order": lot.number,
        "rejected": lot.rejected,
        "started": lot.started,
    }
    if side == "low":
        title = (
            _("Yield of lot %(lot)s of %(product)s %(yield)s, below the control limit %(limit)s")
            % values
        )
    else:
        title = (
            _("Yield of lot %(lot)s of %(product)s %(yield)s, above the control limit %(limit)s")
            % values
        )
    message = (
        _(
            "Work order %(order)s made %(started)s units of lot %(lot)s; %(rejected)s failed QC: "
            "a first-pass yield of %(yield)s against a mean of %(mean)s over the %(n)s lots "
            "before it (control limit %(limit)s). Look for what changed: material lots, "
            "machine, operators, method."
        )
        % values
    )
    return Finding(
        key=key("lot", lot.product_id, lot.lot, side),
        title=title,
        message=message,
        evidence={
            "side": side,
            "product_id": lot.product_id,
            "lot": lot.lot,
            "work_order": lot.number,
            "started": lot.started,
            "rejected": lot.rejected,
            "yield": round(value, 4),
            "mean": round(mean, 4),
            "sigma": round(sigma, 4),
            "k": k,
            "lower_limit": round(max(0.0, mean - k * sigma), 4),
            "upper_limit": round(min(1.0, mean + k * sigma), 4),
            "history": [
                {"lot": b.lot, "work_order": b.number, "yield": round(b.yield_, 4)} for b in before
            ],
        },
        object_type="production.workorder",
        object_id=str(lot.work_order_id),
        severity=AlertSeverity.INFO if side == "high" else None,
    )


@schedule.periodic(f"rule:{KIND}", every=EVERY)
def _job() -> str:
    return yield_evaluate()
