"""Maintenance and calibration: plans with intervals, visits with work done and test data.

A visit is an ObjectEvent OBSERVE with the company bizStep ``maintaining`` or ``calibrating``
(``lifecycle.events.MAINTAINING`` / ``CALIBRATING``; trace/phases.py puts them in the service
phase), at the unit's department when it is installed, naming the visit as its test report
(bizTransaction ``testres``). A passed visit leaves the unit ``active`` and is next due one
interval later; a failed one marks it ``non_conformant`` and is due again at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import NotFound
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Product

from . import common
from .common import PERM_PLAN, PERM_PLAN_CHANGE, PERM_VISIT, invalid
from .models_lifecycle import (
    InstalledUnit,
    InstallStatus,
    MaintenancePlan,
    MaintenanceVisit,
    PlanKind,
    TestResult,
)

PLAN_FIELDS = {"name", "kind", "product_id", "unit", "interval_days", "items", "note"}
BIZ_STEPS = {PlanKind.MAINTENANCE: ev.MAINTAINING, PlanKind.CALIBRATION: ev.CALIBRATING}


def maintenance_plan_create(*, data: Mapping[str, Any], user: User | None) -> MaintenancePlan:
    """A plan for every installed unit of a product (``product_id``) or for one unit (``unit``,
    any UDI form). ``data``: name, kind (maintenance | calibration), interval_days, items
    (``[{"name", "unit", "min", "max"}]``), note."""
    common.require(user, PERM_PLAN, "create maintenance plans")
    unknown = sorted(set(data) - PLAN_FIELDS)
    if unknown:
        raise invalid(unknown[0], f"unknown field; expected {', '.join(sorted(PLAN_FIELDS))}")
    kind = data.get("kind")
    if kind not in PlanKind.values:
        raise invalid("kind", f"{kind!r} is not a plan kind; expected maintenance or calibration")
    name = common.text("name", data.get("name"), required=True, max_length=200)
    interval = common.positive_int("interval_days", data.get("interval_days"), maximum=3660)
    items = common.plan_items(data.get("items"))
    unit_epc = ""
    product: Product | None = None
    if data.get("unit") not in (None, ""):
        state = common.resolve_unit(data["unit"], user=user, field="unit")
        if state.product is None:
            raise invalid(
                "unit",
                f"{common.label(state)} is not one of our products (no product in master data)",
                "no_product",
            )
        product, unit_epc = state.product, state.epc
        if data.get("product_id") not in (None, "") and int(data["product_id"]) != product.pk:
            raise invalid(
                "product_id",
                f"{common.label(state)} is a {product.model}, not product {data['product_id']}",
                "mismatch",
            )
    elif data.get("product_id") not in (None, ""):
        product = Product.objects.filter(
            pk=common.positive_int("product_id", data["product_id"], maximum=2**62)
        ).first()
        if product is None:
            raise invalid("product_id", f"no product {data['product_id']}", "not_found")
    else:
        raise invalid("product_id", "name the product (product_id) or one unit (unit)", "required")
    with transaction.atomic():
        plan = MaintenancePlan.objects.create(
            number=next_number("MP"),
            name=name,
            kind=kind,
            product=product,
            unit_epc=unit_epc,
            interval_days=interval,
            items=items,
            note=common.text("note", data.get("note")),
            created_by=user,
        )
        audit.record_create(plan, user=user)
    return plan


def maintenance_plan_set_active(
    *, plan: MaintenancePlan, active: bool, user: User | None, reason: str
) -> MaintenancePlan:
    """Retire (or bring back) a plan; its visits stay. A reason is required."""
    common.require(user, PERM_PLAN_CHANGE, "change maintenance plans")
    why = common.text("reason", reason, required=True)
    with transaction.atomic():
        locked = MaintenancePlan.objects.select_for_update().get(pk=plan.pk)
        before = audit.snapshot(locked)
        locked.active = bool(active)
        locked.save(update_fields=["active"])
        audit.record_update(locked, before, user=user, reason=why)
    return locked


def maintenance_visit_record(
    *,
    plan: MaintenancePlan | int,
    unit: str,
    user: User | None,
    work_done: str,
    performed_at: Any = None,
    measurements: Any = None,
    attachment: Any = None,
    result: str | None = None,
    engineer_name: str = "",
) -> MaintenanceVisit:
    """Record a maintenance or calibration visit to ``unit`` (any UDI form) under ``plan`` (the
    plan or its id).

    ``measurements``: ``[{"name", "value", "unit", "min", "max", "pass"}]``; every plan item
    must be answered, values are judged against the limits (the plan's, unless given). An out
    of limit value fails the visit; ``result`` may only agree. ``attachment``: a test report
    (``{"name", "content_base64", "content_type"}`` or ``(name, bytes, content_type)``).
    """
    common.require(user, PERM_VISIT, "record maintenance visits")
    if not isinstance(plan, MaintenancePlan):
        plan = plan_for(plan)
    if not plan.active:
        raise invalid("plan_id", f"plan {plan.number} is retired", "inactive")
    state = common.resolve_unit(unit, user=user, field="unit")
    if plan.unit_epc and plan.unit_epc != state.epc:
        raise invalid(
            "unit",
            f"plan {plan.number} is for unit {plan.unit_epc}, not {common.label(state)}",
            "not_in_plan",
        )
    if state.product_id != plan.product_id:
        raise invalid(
            "unit",
            f"{common.label(state)} is not a {plan.product.model} ({plan.product.name}); plan "
            f"{plan.number} covers only those",
            "not_in_plan",
        )
    work = common.text("work_done", work_done, required=True, max_length=4000)
    at = common.moment("performed_at", performed_at)
    rows = common.evaluate(measurements, items=plan.items)
    outcome = common.verdict(rows, result, evidence=attachment not in (None, ""))
    next_due = timezone.localtime(at).date()
    if outcome == TestResult.PASS:
        next_due += timedelta(days=plan.interval_days)
    with transaction.atomic():
        common.lock_units([state.epc])
        rules.check(rules.Step.SERVICE, [state.epc], field="unit")
        installation = (
            InstalledUnit.objects.select_related("department")
            .filter(unit_epc=state.epc, status=InstallStatus.IN_USE)
            .first()
        )
        stored = common.attachment_from(attachment, user=user, field="attachment")
        number = next_number("MV")
        where = installation.department.sgln if installation is not None else None
        (event,) = ev.emit(
            [
                ev.object_event(
                    epcs=[state.epc],
                    biz_step=BIZ_STEPS[PlanKind(plan.kind)],
                    disposition="active" if outcome == TestResult.PASS else "non_conformant",
                    at=at,
                    read_point=where,
                    biz_location=where,
                    transactions=[ev.bt("testres", number)],
                )
            ],
            user=user,
        )
        visit = MaintenanceVisit.objects.create(
            number=number,
            plan=plan,
            installation=installation,
            unit_epc=state.epc,
            serial=state.serial or "",
            performed_at=at,
            engineer=user,
            engineer_name=common.text("engineer_name", engineer_name, max_length=150)
            or common.printed_name(user),
            work_done=work,
            measurements=rows,
            attachment=stored,
            result=outcome,
            next_due=next_due,
            event=event,
        )
        audit.record_create(visit, user=user)
    return visit


def plan_for(plan_id: Any) -> MaintenancePlan:
    """The plan ``plan_id`` names (422 naming the field when there is none)."""
    pk = common.positive_int("plan_id", plan_id, maximum=2**62)
    plan = MaintenancePlan.objects.select_related("product").filter(pk=pk).first()
    if plan is None:
        raise NotFound(f"plan_id: no maintenance plan {pk}", field="plan_id")
    return plan
