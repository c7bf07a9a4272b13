"""Writes of condition profiles (a product's temperature and humidity limits)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Product

from .models import HUMIDITY_RANGE, TEMPERATURE_RANGE, ConditionProfile, ProfilePhase

PERM_PROFILE_ADD = "conditions.add_conditionprofile"
PERM_PROFILE_CHANGE = "conditions.change_conditionprofile"
PROFILE_FIELDS = (
    "phase",
    "temperature_min",
    "temperature_max",
    "humidity_min",
    "humidity_max",
    "basis",
    "active",
)
_LIMITS = ("temperature_min", "temperature_max", "humidity_min", "humidity_max")


def require(user: User | None, perm: str, refusal: str) -> None:
    """The CLI and demo data act as the system (``user`` None); people need ``perm``."""
    if user is None:
        return
    if user.party_id is not None or not user.has_perm(perm):
        raise PermissionDenied(f"{refusal} (needs {perm!r})", details={"required": perm})


def _decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError
    number = Decimal(str(value).strip().replace(",", "."))
    if not number.is_finite():
        raise ValueError
    return number.quantize(Decimal("0.01"))


def clean_profile(data: Mapping[str, Any], *, base: Mapping[str, Any] | None = None) -> dict:
    """The profile's values, checked in full (every problem in ``details``)."""
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    errors: list[dict[str, str]] = [
        {"field": name, "message": _("unknown field; expected one of %(f)s")
         % {"f": ", ".join(PROFILE_FIELDS)}}
        for name in unknown
    ]  # fmt: skip
    values: dict[str, Any] = dict(base or {})
    values.update({k: v for k, v in data.items() if k in PROFILE_FIELDS})
    phase = values.get("phase")
    if phase not in ProfilePhase.values:
        errors.append(
            {
                "field": "phase",
                "message": _("%(value)r is not a phase; expected one of %(values)s")
                % {"value": phase, "values": ", ".join(ProfilePhase.values)},
            }
        )
    for name in _LIMITS:
        try:
            values[name] = _decimal(values.get(name))
        except (ValueError, InvalidOperation):
            errors.append({"field": name, "message": _("expected a number or nothing")})
            values[name] = None
    for kind, (low, high), unit in (
        ("temperature", TEMPERATURE_RANGE, "°C"),
        ("humidity", HUMIDITY_RANGE, "%RH"),
    ):
        for bound in ("min", "max"):
            value = values[f"{kind}_{bound}"]
            if value is not None and not low <= value <= high:
                errors.append(
                    {
                        "field": f"{kind}_{bound}",
                        "message": _("%(value)s %(unit)s is outside %(low)s to %(high)s %(unit)s")
                        % {"value": value, "unit": unit, "low": low, "high": high},
                    }
                )
        low_v, high_v = values[f"{kind}_min"], values[f"{kind}_max"]
        if low_v is not None and high_v is not None and low_v > high_v:
            errors.append(
                {
                    "field": f"{kind}_max",
                    "message": _("the maximum %(high)s is below the minimum %(low)s")
                    % {"high": high_v, "low": low_v},
                }
            )
    if all(values[name] is None for name in _LIMITS):
        errors.append(
            {
                "field": "temperature_min",
                "message": _("give at least one limit (temperature or humidity, min or max)"),
            }
        )
    basis = values.get("basis") or ""
    if not isinstance(basis, str) or len(basis) > 200:
        errors.append({"field": "basis", "message": _("at most 200 characters of text")})
        basis = ""
    values["basis"] = basis.strip()
    active = values.get("active", True)
    if not isinstance(active, bool):
        errors.append({"field": "active", "message": _("expected true or false")})
    values["active"] = bool(active)
    if errors:
        first = errors[0]
        raise ValidationFailed(
            f"{first['field']}: {first['message']}", field=first["field"], details=errors
        )
    return {name: values[name] for name in PROFILE_FIELDS}


def profile_create(
    *, product: Product, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> ConditionProfile:
    """Add limits for a product and phase (several profiles per product are allowed; every
    active one that applies to a reading is checked)."""
    require(user, PERM_PROFILE_ADD, _("You may not set condition limits"))
    values = clean_profile(data, base={"active": True})
    with transaction.atomic():
        profile = ConditionProfile.objects.create(product=product, **values)
        audit.record_create(profile, user=user, reason=reason)
    return profile


def profile_update(
    *, profile: ConditionProfile, data: Mapping[str, Any], user: User | None, reason: str
) -> ConditionProfile:
    """Change a profile's limits, or deactivate it (``active`` false); audited with a reason."""
    require(user, PERM_PROFILE_CHANGE, _("You may not change condition limits"))
    with transaction.atomic():
        locked = ConditionProfile.objects.select_for_update().get(pk=profile.pk)
        before = audit.snapshot(locked)
        values = clean_profile(data, base={name: getattr(locked, name) for name in PROFILE_FIELDS})
        for name, value in values.items():
            setattr(locked, name, value)
        if audit.diff(before, audit.snapshot(locked)):
            audit.require_reason(locked, reason)
            locked.save()
            audit.record_update(locked, before, user=user, reason=reason)
    return locked
