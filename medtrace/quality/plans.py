"""Inspection plans: what is checked on a product or material, against which limits, on how
many of a lot. Plans are regulated records: every change is audited with its reason, and a
change to the characteristics or the sampling raises the plan's version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Material, Product

from .models import (
    CharacteristicType,
    InspectionCharacteristic,
    InspectionKind,
    InspectionPlan,
    Sampling,
)

PERM_PLAN_ADD = "quality.add_inspectionplan"
PERM_PLAN_CHANGE = "quality.change_inspectionplan"
HEADER_FIELDS = ("name", "active", "note")
VERSIONED_FIELDS = ("sampling", "sample_size", "sample_percent")
FIXED_FIELDS = ("code", "kind", "product_id", "material_id")


def _require(user: User | None, perm: str, what: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what} (needs {perm!r})")


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationFailed(f"{field}: expected a number, got {value!r}", field=field)
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValidationFailed(f"{field}: {value!r} is not a number", field=field) from exc
    if not number.is_finite():
        raise ValidationFailed(f"{field}: {value!r} is not a finite number", field=field)
    return number


def _characteristics(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ValidationFailed(
            "characteristics: a plan checks at least one characteristic", field="characteristics"
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        where = f"characteristics[{index}]"
        if not isinstance(raw, Mapping):
            raise ValidationFailed(f"{where}: expected an object", field="characteristics")
        name = str(raw.get("name") or "").strip()
        if not name:
            raise ValidationFailed(f"{where}.name: name the characteristic", field=where + ".name")
        if name.casefold() in seen:
            raise ValidationFailed(
                f"{where}.name: {name!r} appears twice; each characteristic once",
                field=where + ".name",
            )
        seen.add(name.casefold())
        kind = raw.get("type") or CharacteristicType.MEASURED
        if kind not in CharacteristicType.values:
            raise ValidationFailed(
                f"{where}.type: {kind!r}; expected {' or '.join(CharacteristicType.values)}",
                field=where + ".type",
            )
        nominal = _decimal(raw.get("nominal"), where + ".nominal")
        lower = _decimal(raw.get("lower"), where + ".lower")
        upper = _decimal(raw.get("upper"), where + ".upper")
        if kind == CharacteristicType.MEASURED:
            if lower is None and upper is None:
                raise ValidationFailed(
                    f"{where}: {name} is measured; give a lower limit, an upper limit or both",
                    field=where + ".lower",
                )
            if lower is not None and upper is not None and lower > upper:
                raise ValidationFailed(
                    f"{where}: {name}'s lower limit {lower} is above its upper limit {upper}",
                    field=where + ".lower",
                )
            if nominal is not None and (
                (lower is not None and nominal < lower) or (upper is not None and nominal > upper)
            ):
                raise ValidationFailed(
                    f"{where}.nominal: {name}'s nominal {nominal} lies outside its limits",
                    field=where + ".nominal",
                )
        elif any(v is not None for v in (nominal, lower, upper)):
            raise ValidationFailed(
                f"{where}: {name} is an attribute (conforms or not); it has no nominal or limits",
                field=where + ".type",
            )
        out.append(
            {
                "name": name[:120],
                "type": kind,
                "nominal": nominal,
                "lower": lower,
                "upper": upper,
                "unit": str(raw.get("unit") or "").strip()[:20],
                "required": bool(raw.get("required", True)),
            }
        )
    return out


def _sampling(data: Mapping[str, Any], current: InspectionPlan | None) -> dict[str, Any]:
    sampling = data.get("sampling", current.sampling if current else Sampling.ALL)
    if sampling not in Sampling.values:
        raise ValidationFailed(
            f"sampling: {sampling!r}; expected one of {', '.join(Sampling.values)}",
            field="sampling",
        )
    size = data.get("sample_size", current.sample_size if current else None)
    percent = _decimal(
        data.get("sample_percent", current.sample_percent if current else None), "sample_percent"
    )
    if sampling == Sampling.FIXED:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValidationFailed(
                "sample_size: a fixed sample needs a sample size of at least 1",
                field="sample_size",
            )
        return {"sampling": sampling, "sample_size": size, "sample_percent": None}
    if sampling == Sampling.PERCENT:
        if percent is None or not Decimal(0) < percent <= Decimal(100):
            raise ValidationFailed(
                "sample_percent: a percentage sample needs a percentage above 0 and at most 100",
                field="sample_percent",
            )
        return {"sampling": sampling, "sample_size": None, "sample_percent": percent}
    return {"sampling": sampling, "sample_size": None, "sample_percent": None}


def characteristics_data(plan: InspectionPlan) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "type": c.type,
            "nominal": c.nominal,
            "lower": c.lower,
            "upper": c.upper,
            "unit": c.unit,
            "required": c.required,
        }
        for c in plan.characteristics.all()
    ]


def _store_characteristics(plan: InspectionPlan, items: list[dict[str, Any]]) -> None:
    InspectionCharacteristic.objects.bulk_create(
        [InspectionCharacteristic(plan=plan, position=i, **item) for i, item in enumerate(items)]
    )


def inspection_plan_create(
    *, data: Mapping[str, Any], user: User | None, reason: str = ""
) -> InspectionPlan:
    """A new plan. ``data``: code, name, kind, product_id or material_id, sampling
    (+ sample_size / sample_percent), active, note, characteristics [{name, type, nominal,
    lower, upper, unit, required}]."""
    _require(user, PERM_PLAN_ADD, "create inspection plans")
    code = str(data.get("code") or "").strip()
    if not code:
        raise ValidationFailed("code: give the plan a code, e.g. FQ-IP9", field="code")
    if InspectionPlan.objects.filter(code=code).exists():
        raise ValidationFailed(
            f"code: a plan {code!r} already exists; change it (PATCH) instead", field="code"
        )
    name = str(data.get("name") or "").strip()
    if not name:
        raise ValidationFailed("name: name the plan", field="name")
    kind = data.get("kind")
    if kind not in InspectionKind.values:
        raise ValidationFailed(
            f"kind: {kind!r}; expected one of {', '.join(InspectionKind.values)}", field="kind"
        )
    product = material = None
    product_id, material_id = data.get("product_id"), data.get("material_id")
    if bool(product_id) == bool(material_id):
        raise ValidationFailed(
            "product_id: a plan is for one product or one material: give exactly one of "
            "product_id and material_id",
            field="product_id",
        )
    if product_id:
        product = Product.objects.filter(pk=product_id).first()
        if product is None:
            raise ValidationFailed(f"product_id: no product {product_id}", field="product_id")
    elif material_id:
        material = Material.objects.filter(pk=material_id).first()
        if material is None:
            raise ValidationFailed(f"material_id: no material {material_id}", field="material_id")
    sampling = _sampling(data, None)
    items = _characteristics(data.get("characteristics"))
    with transaction.atomic():
        plan = InspectionPlan.objects.create(
            code=code[:40],
            name=name[:200],
            kind=kind,
            product=product,
            material=material,
            active=bool(data.get("active", True)),
            note=str(data.get("note") or "").strip(),
            created_at=timezone.now(),
            created_by=user,
            **sampling,
        )
        _store_characteristics(plan, items)
        audit.record(
            action="create",
            object_type=audit.label_of(plan),
            object_id=plan.pk,
            object_repr=str(plan),
            changes={**audit.snapshot(plan), "characteristics": items},
            user=user,
            reason=(reason or "").strip() or "new inspection plan",
        )
    return plan


def inspection_plan_update(
    *, plan: InspectionPlan, data: Mapping[str, Any], user: User | None, reason: str
) -> InspectionPlan:
    """Change a plan (name, active, note, sampling, characteristics), with a reason.

    The characteristics, when given, replace the plan's list; a change to them or to the
    sampling raises the version. Code, kind, product and material never change: make a new
    plan instead.
    """
    _require(user, PERM_PLAN_CHANGE, "change inspection plans")
    for name in FIXED_FIELDS:
        if name in data and data[name] != getattr(plan, name):
            raise ValidationFailed(
                f"{name}: a plan's {name} cannot change; create a new plan instead", field=name
            )
    reason = audit.require_reason(InspectionPlan, reason)
    sampling = _sampling(data, plan) if any(k in data for k in VERSIONED_FIELDS) else None
    items = (
        _characteristics(data["characteristics"])
        if data.get("characteristics") is not None
        else None
    )
    if "name" in data and not str(data["name"] or "").strip():
        raise ValidationFailed("name: name the plan", field="name")
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        before = audit.snapshot(locked)
        old_items = characteristics_data(locked)
        for name in HEADER_FIELDS:
            if name in data and data[name] is not None:
                value = data[name]
                setattr(locked, name, str(value).strip() if name != "active" else bool(value))
        bump = False
        if sampling is not None:
            for name, value in sampling.items():
                if getattr(locked, name) != value:
                    setattr(locked, name, value)
                    bump = True
        if items is not None and items != old_items:
            locked.characteristics.all().delete()
            _store_characteristics(locked, items)
            bump = True
        if bump:
            locked.version += 1
        locked.save()
        after = audit.snapshot(locked)
        changes = audit.diff(before, after)
        if items is not None and items != old_items:
            changes["characteristics"] = [old_items, items]
        if changes:
            audit.record(
                action="update",
                object_type=audit.label_of(locked),
                object_id=locked.pk,
                object_repr=str(locked),
                changes=changes,
                user=user,
                reason=reason,
            )
    return locked
