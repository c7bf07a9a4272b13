"""Signal rules: QA sets how many complaints within how many days make a signal."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from medtrace.accounts.models import User
from medtrace.audit import services as audit

from . import common
from .common import PERM_RULES, invalid
from .models import SignalDimension, SignalRule

MAX_WINDOW_DAYS = 3650


def _threshold(value: Any) -> int:
    number = _int("threshold", value)
    if number < 2:
        raise invalid(
            "threshold",
            f"{number} is too low: one complaint is not a signal; expected 2 or more",
            "min_value",
        )
    return number


def _window(value: Any) -> int:
    number = _int("window_days", value)
    if not 1 <= number <= MAX_WINDOW_DAYS:
        raise invalid("window_days", f"expected 1 to {MAX_WINDOW_DAYS} days, got {number}", "range")
    return number


def _int(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise invalid(field, "expected a whole number")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise invalid(field, f"expected a whole number, got {value!r}") from None
    return number


def signal_rule_create(
    *, dimension: str, threshold: Any, window_days: Any, user: User | None, active: Any = True
) -> SignalRule:
    common.require(user, PERM_RULES, "set complaint signal rules")
    if dimension not in SignalDimension.values:
        raise invalid(
            "dimension",
            f"{dimension!r} is not a signal dimension; expected one of "
            f"{', '.join(SignalDimension.values)}",
        )
    rule = SignalRule(
        dimension=dimension,
        threshold=_threshold(threshold),
        window_days=_window(window_days),
        active=bool(common.yes_no("active", active)) if active not in (None, "") else True,
    )
    with transaction.atomic():
        rule.save()
        audit.record_create(rule, user=user)
    return rule


def signal_rule_update(
    *, rule: SignalRule, data: dict[str, Any], user: User | None, reason: str = ""
) -> SignalRule:
    """Change a rule's threshold, window or active flag (other keys are refused)."""
    common.require(user, PERM_RULES, "set complaint signal rules")
    unknown = sorted(set(data) - {"threshold", "window_days", "active"})
    if unknown:
        raise invalid(unknown[0], "cannot be changed; expected threshold, window_days, active")
    with transaction.atomic():
        locked = SignalRule.objects.select_for_update().get(pk=rule.pk)
        before = audit.snapshot(locked)
        if data.get("threshold") is not None:
            locked.threshold = _threshold(data["threshold"])
        if data.get("window_days") is not None:
            locked.window_days = _window(data["window_days"])
        if data.get("active") is not None:
            locked.active = bool(common.yes_no("active", data["active"], required=True))
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
    return locked
