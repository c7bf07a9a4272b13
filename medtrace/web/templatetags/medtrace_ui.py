from __future__ import annotations

from typing import Any

from django import template
from django.utils import translation

register = template.Library()


@register.filter
def localname(obj: Any) -> str:
    """`name_en` in the English UI when the record has one, else the (Chinese) `name`."""
    name_en = getattr(obj, "name_en", None)
    if translation.get_language() == "en" and name_en:
        return str(name_en)
    return str(obj.name)
