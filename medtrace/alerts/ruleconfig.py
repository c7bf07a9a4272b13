"""Changing an alert rule's settings (the /alerts/rules/ page and PATCH /api/v1/alert-rules).

QA/RA and the administrator (permission ``alerts.change_alertrule``) set each rule's switch,
severity, threshold, window, parameters, recipients and e-mail; every change is checked per
field against what the kind means (``rules.SPECS``) and audited with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.audit import services as audit
from medtrace.errors import NotFound, PermissionDenied, ValidationFailed

from . import rules
from .models import AlertRule, AlertSeverity

PERM_CHANGE = "alerts.change_alertrule"
PERM_VIEW = "alerts.view_alertrule"
MAX_WINDOW = timedelta(days=3660)
MAX_THRESHOLD = Decimal("1000000")
# Choices for list parameters; other parameters take the type of their default.
PARAM_CHOICES: dict[str, tuple[str, ...]] = {
    "escalation": tuple(Role.values),
    "dimensions": ("lot", "component_lot"),
}
FIELDS = (
    "enabled",
    "severity",
    "threshold",
    "window",
    "params",
    "recipient_role",
    "recipient_user",
    "email",
)


def _invalid(field: str, message: str, errors: list[dict[str, str]]) -> None:
    errors.append({"field": field, "message": f"{field}: {message}"})


def _threshold(kind: str, value: Any, errors: list[dict[str, str]]) -> Decimal | None:
    spec = rules.SPECS[kind]
    if value is None or value == "":
        if spec.threshold is not None:
            _invalid(
                "threshold",
                _("this rule needs a threshold (%(help)s)") % {"help": spec.threshold_help},
                errors,
            )
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        _invalid("threshold", _("expected a number, got %(v)r") % {"v": value}, errors)
        return None
    if not number.is_finite() or number < 0 or number > MAX_THRESHOLD:
        _invalid(
            "threshold",
            _("expected a number from 0 to %(max)s, got %(v)s")
            % {"max": MAX_THRESHOLD, "v": value},
            errors,
        )
        return None
    if number != number.quantize(Decimal("0.001")):
        _invalid("threshold", _("at most 3 decimal places, got %(v)s") % {"v": value}, errors)
        return None
    return number


def _window(kind: str, value: Any, errors: list[dict[str, str]]) -> timedelta | None:
    spec = rules.SPECS[kind]
    if value is None:
        if spec.window is not None:
            _invalid(
                "window",
                _("this rule needs a window (%(help)s)") % {"help": spec.window_help},
                errors,
            )
        return None
    if not isinstance(value, timedelta) or value <= timedelta(0) or value > MAX_WINDOW:
        _invalid(
            "window",
            _("expected a duration longer than zero and at most 3660 days, got %(v)s")
            % {"v": value},
            errors,
        )
        return None
    return value


def _params(kind: str, value: Any, errors: list[dict[str, str]]) -> dict[str, Any]:
    spec = rules.SPECS[kind]
    if not isinstance(value, Mapping):
        _invalid("params", _("expected an object of parameters"), errors)
        return {}
    out: dict[str, Any] = {}
    for name, given in value.items():
        field = f"params.{name}"
        if name not in spec.params:
            known = ", ".join(spec.params) or _("none")
            _invalid(
                field,
                _("this rule has no parameter %(name)s (its parameters: %(known)s)")
                % {"name": name, "known": known},
                errors,
            )
            continue
        default = spec.params[name]
        if isinstance(default, bool):
            if not isinstance(given, bool):
                _invalid(field, _("expected true or false, got %(v)r") % {"v": given}, errors)
                continue
        elif isinstance(default, int):
            if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 100000:
                _invalid(
                    field,
                    _("expected a whole number from 1 to 100000, got %(v)r") % {"v": given},
                    errors,
                )
                continue
        elif isinstance(default, list):
            choices = PARAM_CHOICES.get(name, ())
            if (
                not isinstance(given, list)
                or not given
                or any(not isinstance(g, str) or g not in choices for g in given)
                or len(set(given)) != len(given)
            ):
                _invalid(
                    field,
                    _("expected a non-empty list without repeats of %(choices)s, got %(v)r")
                    % {"choices": ", ".join(choices), "v": given},
                    errors,
                )
                continue
        out[name] = given
    merged = {**spec.params, **out}
    if "lots" in merged and "min_lots" in merged and merged["min_lots"] > merged["lots"]:
        _invalid(
            "params.min_lots",
            _("cannot be more than lots (%(lots)s), got %(v)s")
            % {"lots": merged["lots"], "v": merged["min_lots"]},
            errors,
        )
    return out


def rule_update(
    *, kind: str, user: User, changes: Mapping[str, Any], reason: str = ""
) -> AlertRule:
    """Apply ``changes`` (a subset of ``FIELDS``; ``recipient_user`` is a ``User`` or None) to
    rule ``kind``; refuse the whole change with every field's error if any is wrong."""
    if not user.has_perm(PERM_CHANGE):
        raise PermissionDenied(
            _("Alert rules are set by QA/RA and the administrator (permission %(perm)s)")
            % {"perm": PERM_CHANGE},
            details={"required_permission": PERM_CHANGE},
        )
    if kind not in rules.SPECS:
        raise NotFound(_("No alert rule %(kind)s") % {"kind": kind})
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ValidationFailed(
            _("%(field)s: not a setting of an alert rule (settings: %(known)s)")
            % {"field": unknown[0], "known": ", ".join(FIELDS)},
            field=unknown[0],
        )
    with transaction.atomic():
        rules.rule(kind)  # seeds a missing row
        row = AlertRule.objects.select_for_update().get(kind=kind)
        before = audit.snapshot(row)
        errors: list[dict[str, str]] = []
        if "enabled" in changes:
            row.enabled = bool(changes["enabled"])
        if "email" in changes:
            row.email = bool(changes["email"])
        if "severity" in changes:
            if changes["severity"] not in AlertSeverity.values:
                _invalid(
                    "severity",
                    _("expected one of %(choices)s, got %(v)r")
                    % {"choices": ", ".join(AlertSeverity.values), "v": changes["severity"]},
                    errors,
                )
            else:
                row.severity = changes["severity"]
        if "threshold" in changes:
            row.threshold = _threshold(kind, changes["threshold"], errors)
        if "window" in changes:
            row.window = _window(kind, changes["window"], errors)
        if "params" in changes:
            row.params = _params(kind, changes["params"], errors)
        if "recipient_role" in changes:
            role = changes["recipient_role"] or ""
            if role and role not in Role.values:
                _invalid(
                    "recipient_role",
                    _("expected one of %(choices)s, got %(v)r")
                    % {"choices": ", ".join(Role.values), "v": role},
                    errors,
                )
            else:
                row.recipient_role = role
        if "recipient_user" in changes:
            recipient = changes["recipient_user"]
            if recipient is not None and (not recipient.is_active or recipient.party_id):
                _invalid(
                    "recipient_user",
                    _("%(name)s is not an active member of our staff")
                    % {"name": recipient.username},
                    errors,
                )
            else:
                row.recipient_user = recipient
        if not errors and not row.recipient_role and row.recipient_user is None:
            _invalid("recipient_role", _("name a recipient role or a recipient user"), errors)
        if errors:
            raise ValidationFailed(errors[0]["message"], field=errors[0]["field"], details=errors)
        row.updated_by = user
        row.save()
        audit.record_update(
            row, before, user=user, reason=reason.strip() or "alert rule settings changed"
        )
    return rules.rule(kind)
