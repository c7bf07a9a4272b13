"""Small helpers shared by the procurement services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from medtrace.accounts.models import User
from medtrace.errors import PermissionDenied, ValidationFailed


def require(user: User | None, perm: str, what: str) -> None:
    # The CLI and the demo loader act as the system (user=None); people need the permission.
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what} (needs {perm!r})")


def as_quantity(value: Any, *, field: str, positive: bool = True) -> Decimal:
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{field}: {value!r} is not a number", field=field) from exc
    if not qty.is_finite() or (qty <= 0 if positive else qty < 0):
        raise ValidationFailed(
            f"{field}: expected a quantity {'above' if positive else 'of at least'} 0, got {value}",
            field=field,
        )
    if qty != qty.quantize(Decimal("0.0001")):
        raise ValidationFailed(f"{field}: at most 4 decimal places, got {value}", field=field)
    return qty


def fmt(qty: Decimal) -> str:
    """A quantity for people: 12, 0.5 (no trailing zeros, no exponent)."""
    text = format(qty.normalize(), "f")
    return text
