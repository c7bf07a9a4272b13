"""Turning Django model validation into medtrace's one error shape."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models

from medtrace.errors import Conflict, ValidationFailed


def _choices_hint(instance: models.Model | None, field: str) -> str:
    if instance is None:
        return ""
    try:
        model_field = instance._meta.get_field(field)
    except Exception:  # not a model field (e.g. a form-level name)
        return ""
    choices = getattr(model_field, "choices", None)
    if not choices:
        return ""
    return " Expected one of: " + ", ".join(str(value) for value, _label in choices) + "."


def validation_failed_from(
    exc: ValidationError, *, prefix: str = "", instance: models.Model | None = None
) -> ValidationFailed:
    """Flatten a Django ValidationError into ValidationFailed with per-field details."""
    details: list[dict[str, Any]] = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for err in errors:
                message = " ".join(err.messages)
                if err.code == "invalid_choice":
                    message += _choices_hint(instance, field)
                name = None if field == NON_FIELD_ERRORS else f"{prefix}{field}"
                details.append({"field": name, "message": message, "code": err.code})
    else:
        for err in exc.error_list:
            details.append(
                {
                    "field": prefix.rstrip(".") or None,
                    "message": " ".join(err.messages),
                    "code": err.code,
                }
            )
    first = details[0] if details else {"field": None, "message": "Invalid input"}
    message = first["message"]
    if first["field"]:
        message = f"{first['field']}: {message}"
    return ValidationFailed(message, field=first["field"], details=details)


def save_validated(
    instance: models.Model, *, prefix: str = "", exclude: list[str] | None = None
) -> None:
    """full_clean() then save(), raising ValidationFailed / Conflict in medtrace's shape.

    Unique constraints are checked by full_clean() first so the message names the field; the
    database constraint still backs it up under a race, and that race surfaces as Conflict.
    """
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_failed_from(exc, prefix=prefix, instance=instance) from exc
    try:
        instance.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{instance._meta.verbose_name} conflicts with an existing record: {exc}",
        ) from exc
