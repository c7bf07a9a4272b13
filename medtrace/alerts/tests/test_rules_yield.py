"""Rule yield_out_of_control: a lot whose first-pass yield falls below mean - k·sigma of the
product's previous lots alerts production; a lot within the limits, too little history, or the
rule off does not; each lot alerts once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from medtrace.alerts import schedule
from medtrace.alerts.models import Alert, AlertRule
from medtrace.alerts.rules_yield import yield_evaluate
from medtrace.masterdata.models import Product
from medtrace.masterdata.tests import factories as md
from medtrace.production import services_orders as orders
from medtrace.production.models import WorkOrder
from medtrace.production.tests.factories import Prod, prod_world, released_bom, rule, work_order
from medtrace.quality import services as quality
from medtrace.quality.plans import inspection_plan_create

pytestmark = pytest.mark.django_db

GOOD = {"Flow": "100"}
BAD = {"Flow": "90"}


class Line:
    """A product with a non-critical BOM (a work order completes without assembly), its final
    inspection plan, and lots made, inspected and completed through the real services."""

    def __init__(self, x: Prod) -> None:
        self.x = x
        tube = md.material(tracking="lot", name="Tubing")
        self.product: Product = md.product(manufacturer=x.w.maker, name="Giving set", model="GS")
        released_bom(self.product, [(tube, "1")])
        rule(self.product, prefix="G")
        self.plan = inspection_plan_create(
            data={
                "code": "FQ-GS",
                "name": "Final inspection GS",
                "kind": "final",
                "product_id": self.product.pk,
                "characteristics": [{"name": "Flow", "lower": 95, "upper": 105}],
            },
            user=None,
        )

    def lot(self, name: str, *, failed: int, size: int = 10, days_ago: float = 0) -> WorkOrder:
        """Make lot ``name``: ``size`` units, ``failed`` of them fail final inspection."""
        wo = work_order(self.x, self.product, lot=name, quantity=size)
        made = orders.work_order_commission(work_order=wo, count=size, user=None)
        for index, epc in enumerate(made.epcs):
            values = BAD if index < failed else GOOD
            quality.inspection_record(plan=self.plan, target=epc, values=values, user=None)
        at = timezone.now() - timedelta(days=days_ago)
        return orders.work_order_complete(work_order=wo, user=None, at=at)


@pytest.fixture
def line(db: None) -> Line:
    return Line(prod_world())


def _history(line: Line) -> None:
    """Six lots over six weeks: 100 %, 90 %, 100 %, 90 %, 100 %, 90 % (mean 95 %)."""
    for n, failed in enumerate([0, 1, 0, 1, 0, 1]):
        line.lot(f"H{n}", failed=failed, days_ago=42 - 7 * n)


def _alerts() -> list[Alert]:
    return list(Alert.objects.filter(kind="yield_out_of_control").order_by("pk"))


def test_a_lot_far_below_the_products_usual_yield_alerts_production(line: Line) -> None:
    _history(line)
    bad = line.lot("B1", failed=4)  # 60 %: limits 95 % ± 3 × 5.5 % = 78.6 … 100 %

    result = yield_evaluate()

    (alert,) = _alerts()
    assert (alert.recipient_role, alert.severity) == ("production", "warning")
    e = alert.evidence
    assert (e["lot"], e["work_order"], e["started"], e["rejected"]) == ("B1", bad.number, 10, 4)
    assert e["yield"] == 0.6 and e["mean"] == 0.95 and e["side"] == "low"
    assert 0.78 < e["lower_limit"] < 0.79 and e["k"] == 3.0
    assert [h["lot"] for h in e["history"]] == ["H5", "H4", "H3", "H2", "H1", "H0"]
    assert alert.object_type == "production.workorder" and alert.object_id == str(bad.pk)
    assert "below the control limit" in alert.title and "60.0%" in alert.title
    assert result.endswith("1 new alerts")

    yield_evaluate()
    assert len(_alerts()) == 1  # no duplicate on re-evaluation


def test_a_lot_within_the_limits_does_not_alert(line: Line) -> None:
    _history(line)
    line.lot("B1", failed=2)  # 80 %: inside 78.6 … 100 %
    yield_evaluate()
    assert _alerts() == []


def test_tighter_limits_make_the_same_lot_alert(line: Line) -> None:
    _history(line)
    line.lot("B1", failed=2)
    AlertRule.objects.filter(kind="yield_out_of_control").update(threshold=Decimal(2))
    yield_evaluate()
    (alert,) = _alerts()
    assert alert.evidence["lot"] == "B1" and alert.evidence["k"] == 2.0


def test_too_few_previous_lots_draw_no_limits(line: Line) -> None:
    for n in range(4):
        line.lot(f"H{n}", failed=0, days_ago=20 - n)
    line.lot("B1", failed=6)
    yield_evaluate()
    assert _alerts() == []  # 4 lots before it, the rule wants 5


def test_a_disabled_rule_judges_nothing(line: Line) -> None:
    _history(line)
    line.lot("B1", failed=4)
    AlertRule.objects.filter(kind="yield_out_of_control").update(enabled=False)
    assert yield_evaluate() == "yield_out_of_control: disabled"
    assert _alerts() == []


def test_the_periodic_job_judges_recent_lots(line: Line) -> None:
    _history(line)
    line.lot("B1", failed=5)

    ran: dict[str, Any] = schedule.run_due(only="rule:yield_out_of_control")

    assert ran["rule:yield_out_of_control"].endswith("1 new alerts")
    (alert,) = _alerts()
    assert alert.evidence["lot"] == "B1"
