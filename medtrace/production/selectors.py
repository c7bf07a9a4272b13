"""Reads for serial allocation."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.accounts.scoping import scope_products, unscoped_nothing, visible_or_404
from medtrace.masterdata.models import Product

from .models import SerialRule
from .services import serial_of


def production_product(*, user: User | None, pk: int) -> Product:
    """The product ``pk`` for its serial rule and allocations, or 404 (NotFound).

    Serial rules and allocations are the maker's production data: a partner sees none of them,
    even for a product it may see, and is answered "not found" as for anything outside its scope.
    """
    qs = unscoped_nothing(user, scope_products(user, Product.objects.all()))
    return visible_or_404(qs, "product", pk=pk)


def serial_rule_get(*, product: Product) -> SerialRule | None:
    return SerialRule.objects.filter(product=product, active=True).first()


def serial_example(rule: SerialRule, at: datetime | None = None) -> str:
    """The first serial of a period under ``rule`` (for showing the rule to people)."""
    return serial_of(rule, 1, at or timezone.now())
