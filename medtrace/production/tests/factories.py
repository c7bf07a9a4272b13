"""Small builders for the production tests."""

from __future__ import annotations

from typing import Any

from medtrace.masterdata.models import Product
from medtrace.masterdata.tests import factories as md
from medtrace.production import services
from medtrace.production.models import SerialRule


def serial_product(**extra: Any) -> Product:
    return md.product(tracking="serial", **extra)


def rule(product: Product, **data: Any) -> SerialRule:
    values: dict[str, Any] = {"prefix": "SN", "sequence_width": 5}
    values.update(data)
    return services.serial_rule_set(product=product, data=values, user=None, reason="test")
