"""Template filters of the quality pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def num(value: Any) -> str:
    """A stored decimal without trailing zeros (5.000000 -> 5, 0.020000 -> 0.02); "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)
