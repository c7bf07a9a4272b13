"""Many master records at once (imports, issue 7): the rules of the one-by-one services, set-based.

The one-by-one services (``services.py``) assign a payload, then ``save_validated``: field
validators, choices, the model's ``clean()`` and the unique checks, each unique check and each
foreign key costing a query. For thousands of records the same rules run here in three steps:

- ``build`` makes an unsaved record from a payload of the service's fields and validates it
  exactly like ``save_validated`` (``full_clean``), except for what needs a query per record:
  foreign keys come in already resolved (the caller looks them up once per table), and unique
  keys are left to
- ``existing_keys``, which finds the unique keys of a whole batch already in the database with
  one query per key and chunk (``unique_keys`` lists a model's keys);
- ``create_many`` stores validated records in bulk (``core.bulk_insert``) and writes their
  audit entries in one pass over the chain (``audit.record_create_many``), after the same
  permission check as the service.

``check_identifier_levels`` is ``check_identifier_set``'s packaging-hierarchy rule for DIs not
stored yet.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.core.bulk_insert import insert_records
from medtrace.core.validation import validation_failed_from

from . import services
from .models import (
    Location,
    Material,
    MaterialSupplier,
    Party,
    Product,
    ProductIdentifier,
)

M = TypeVar("M", bound=models.Model)

# The payload fields each service accepts (foreign keys as ``<name>_id`` there; here they come
# in resolved, as ``related``).
FIELDS: dict[type[models.Model], set[str]] = {
    Party: services.PARTY_FIELDS,
    Location: services.LOCATION_FIELDS,
    Product: services.PRODUCT_FIELDS,
    ProductIdentifier: services.IDENTIFIER_FIELDS,
    Material: services.MATERIAL_FIELDS,
    MaterialSupplier: {"supplier_id", "supplier_part_no", "approved"},
}
_CHUNK = 1000


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record: the model field (None: the record as a whole)."""

    field: str | None
    message: str
    code: str = "invalid"


def require_add(user: User | None, *models_: type[models.Model]) -> None:
    """The permission check of the services' create functions, for each model."""
    for model in models_:
        services._require(user, f"masterdata.add_{model._meta.model_name}")


@functools.cache
def plain_fields(model: type[models.Model]) -> frozenset[str]:
    """The service's payload fields that are not foreign keys."""
    return frozenset(name for name in FIELDS[model] if not name.endswith("_id"))


def build(
    model: type[M], data: Mapping[str, Any], related: Mapping[str, models.Model | None] = {}
) -> tuple[M, list[Problem]]:
    """An unsaved ``model`` record from ``data`` and ``related``, validated as the service would.

    ``data`` holds the service's plain fields; ``related`` its foreign keys as records (a record
    not stored yet may stand in, e.g. a product whose DIs are built with it). Nothing is read
    from the database: the foreign keys are the caller's lookups, unique keys are checked in
    bulk by ``existing_keys``.
    """
    allowed = plain_fields(model)
    instance = model()
    problems = [
        Problem(name, f"unknown field; expected one of {', '.join(sorted(allowed))}", "unknown")
        for name in sorted(set(data) - allowed)
    ]
    for name, value in data.items():
        if name in allowed:
            setattr(instance, name, value)
    for name, obj in related.items():
        setattr(instance, name, obj)
    # A foreign key's own check is one query per record; its target was looked up by the caller.
    exclude = [f.name for f in model._meta.concrete_fields if f.is_relation]
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        failed = validation_failed_from(exc, instance=instance)
        problems.extend(
            Problem(d["field"], d["message"], d.get("code") or "invalid") for d in failed.details
        )
    return instance, problems


def check_identifier_levels(levels: Sequence[tuple[str, int]]) -> Problem | None:
    """The DI set of one product not stored yet (``services.check_identifier_set``'s rule)."""
    problem = services.identifier_levels_problem(levels)
    if problem is None:
        return None
    code = "no_unit_di" if problem.startswith("a product needs") else "levels"
    return Problem("identifiers", problem, code)


# Unique keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UniqueKey:
    """A unique field or constraint: its columns (attnames), its fields, and whether it only
    applies to non-empty values (``condition=~Q(gln="")``)."""

    attnames: tuple[str, ...]
    names: tuple[str, ...]
    condition: Q | None

    @property
    def field(self) -> str:
        """The field an error names: the first that is not a foreign key."""
        for name, attname in zip(self.names, self.attnames, strict=True):
            if name == attname:
                return name
        return self.names[-1]

    def values(self, instance: models.Model) -> tuple[Any, ...] | None:
        """The record's key, or None if the key does not apply to it (an empty optional
        value)."""
        values = tuple(getattr(instance, a) for a in self.attnames)
        if any(v is None for v in values):
            return None
        if self.condition is not None and any(v == "" for v in values):
            return None
        return values


@functools.cache
def unique_keys(model: type[models.Model]) -> tuple[UniqueKey, ...]:
    keys = []
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key:
            keys.append(UniqueKey((f.attname,), (f.name,), None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            fields = [model._meta.get_field(name) for name in constraint.fields]
            keys.append(
                UniqueKey(
                    tuple(f.attname for f in fields),  # type: ignore[union-attr]
                    tuple(f.name for f in fields),
                    constraint.condition,
                )
            )
    return tuple(keys)


def existing_keys(
    model: type[models.Model], key: UniqueKey, values: Iterable[tuple[Any, ...]]
) -> dict[tuple[Any, ...], int]:
    """Which of ``values`` (keys of ``key``) are taken in the database, with the holder's id:
    one query per thousand distinct first components."""
    wanted = set(values)
    found: dict[tuple[Any, ...], int] = {}
    firsts = sorted({v[0] for v in wanted}, key=str)
    qs = model._default_manager.all()
    if key.condition is not None:
        qs = qs.filter(key.condition)
    for start in range(0, len(firsts), _CHUNK):
        part = firsts[start : start + _CHUNK]
        rows = qs.filter(**{f"{key.attnames[0]}__in": part}).values_list("pk", *key.attnames)
        for pk, *rest in rows:
            candidate = tuple(rest)
            if candidate in wanted:
                found[candidate] = pk
    return found


def taken_message(model: type[models.Model], key: UniqueKey, pk: int) -> str:
    labels = " + ".join(
        str(getattr(model._meta.get_field(n), "verbose_name", n)) for n in key.names
    )
    name = str(model._meta.verbose_name)
    return f"{name[:1].upper()}{name[1:]} with this {labels} already exists (id {pk})"


# Storing --------------------------------------------------------------------------------------


def create_many(
    model: type[M], records: Sequence[M], *, user: User | None, reason: str = ""
) -> list[M]:
    """Store validated records in bulk (COPY / executemany), with one audit entry each (the
    entries the one-by-one services write). The caller checked permission (``require_add``)
    and validated every record (``build``, ``existing_keys``); a unique key taken meanwhile by
    someone else fails the whole transaction in the database."""
    if not records:
        return []
    with transaction.atomic():
        insert_records(model, records)
        audit.record_create_many(records, user=user, reason=reason)
    return list(records)
