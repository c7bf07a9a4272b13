"""Template helpers of the alert pages, and the navigation's count of live alerts."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.simple_tag
def live_alert_count(user: Any) -> int:
    """The live alerts in ``user``'s work queue (one count query)."""
    from medtrace.alerts import selectors

    if not getattr(user, "is_authenticated", False):
        return 0
    return selectors.live_count(user)
