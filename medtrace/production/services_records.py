"""Process records: how a production step ran (DHR: process parameters, equipment, operator).

A record belongs to a work order and, optionally, to one of its units (any UDI form). Its
parameters are a list of ``{"name", "value", "unit"}`` (a torque of 0.6 N·m, an oven at 121 °C
for 30 min), so the DHR shows every value with its unit of measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import ValidationFailed

from .models import ProcessRecord, ProcessResult, WorkOrder, WorkOrderStatus
from .services_assembly import unit_of
from .services_orders import locked, moment, require, require_status

PERM_RECORD = "production.add_processrecord"
RECORD_FIELDS = (
    "step",
    "station",
    "unit",
    "parameters",
    "result",
    "started_at",
    "finished_at",
    "note",
    "operator_name",
)
MAX_PARAMETERS = 100


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = data.get(name) or ""
    if not isinstance(value, str):
        raise ValidationFailed(_("%(name)s: expected text") % {"name": name}, field=name)
    value = value.strip()
    if required and not value:
        raise ValidationFailed(
            _("%(name)s: name the production step, e.g. 'torque screws'") % {"name": name},
            field=name,
        )
    if len(value) > limit:
        raise ValidationFailed(
            _("%(name)s: at most %(n)d characters") % {"name": name, "n": limit}, field=name
        )
    return value


def _moment(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return moment(value)
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValidationFailed(
            _(
                "%(name)s: %(value)r is not a date and time; expected ISO 8601, e.g. "
                "2026-03-09T10:30:00+08:00"
            )
            % {"name": name, "value": value},
            field=name,
        )
    return moment(parsed)


def clean_parameters(value: Any) -> list[dict[str, Any]]:
    """``[{"name", "value", "unit"}]``: a name, a number or text value, a unit (may be empty)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationFailed(
            _('parameters: expected a list of {"name", "value", "unit"}'), field="parameters"
        )
    if len(value) > MAX_PARAMETERS:
        raise ValidationFailed(
            _("parameters: at most %(n)d per record") % {"n": MAX_PARAMETERS}, field="parameters"
        )
    out = []
    names: set[str] = set()
    for index, item in enumerate(value):
        where = f"parameters[{index}]"
        if not isinstance(item, Mapping):
            raise ValidationFailed(
                _('%(where)s: expected {"name", "value", "unit"}') % {"where": where}, field=where
            )
        unknown = sorted(set(item) - {"name", "value", "unit"})
        if unknown:
            raise ValidationFailed(
                _("%(where)s.%(key)s: unknown field; expected name, value and unit")
                % {"where": where, "key": unknown[0]},
                field=f"{where}.{unknown[0]}",
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise ValidationFailed(
                _("%(where)s.name: name the parameter (1-100 characters)") % {"where": where},
                field=f"{where}.name",
            )
        name = name.strip()
        if name in names:
            raise ValidationFailed(
                _("%(where)s.name: %(name)s is given twice") % {"where": where, "name": name},
                field=f"{where}.name",
            )
        names.add(name)
        raw = item.get("value")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
            raise ValidationFailed(
                _("%(where)s.value: expected a number or text") % {"where": where},
                field=f"{where}.value",
            )
        if isinstance(raw, float | Decimal):
            raw = float(raw)
            if raw != raw or raw in (float("inf"), float("-inf")):
                raise ValidationFailed(
                    _("%(where)s.value: expected a finite number") % {"where": where},
                    field=f"{where}.value",
                )
        if isinstance(raw, str) and (not raw.strip() or len(raw) > 200):
            raise ValidationFailed(
                _("%(where)s.value: expected 1-200 characters") % {"where": where},
                field=f"{where}.value",
            )
        unit = item.get("unit") or ""
        if not isinstance(unit, str) or len(unit) > 32:
            raise ValidationFailed(
                _("%(where)s.unit: expected a unit of measure of at most 32 characters, e.g. N·m")
                % {"where": where},
                field=f"{where}.unit",
            )
        out.append({"name": name, "value": raw, "unit": unit.strip()})
    return out


def process_record_add(
    *,
    work_order: WorkOrder,
    data: Mapping[str, Any],
    user: User | None,
    at: datetime | None = None,
) -> ProcessRecord:
    """Record one production step of ``work_order`` (or of one of its units).

    ``data``: step (required), station, unit (any UDI form), parameters, result (pass/fail),
    started_at, finished_at, note, operator_name (default: the user's printed name).
    """
    require(user, PERM_RECORD, _("record process data"))
    unknown = sorted(set(data) - set(RECORD_FIELDS))
    if unknown:
        raise ValidationFailed(
            _("%(field)s: unknown field; expected one of %(fields)s")
            % {"field": unknown[0], "fields": ", ".join(RECORD_FIELDS)},
            field=unknown[0],
        )
    step = _text(data, "step", 100, required=True)
    station = _text(data, "station", 64)
    note = _text(data, "note", 4000)
    operator_name = _text(data, "operator_name", 150)
    result = data.get("result") or ""
    if result not in ProcessResult.values:
        raise ValidationFailed(
            _("result: expected pass, fail or nothing; got %(got)r") % {"got": result},
            field="result",
        )
    parameters = clean_parameters(data.get("parameters"))
    started, finished = _moment(data, "started_at"), _moment(data, "finished_at")
    if started and finished and finished < started:
        raise ValidationFailed(
            _("finished_at: %(end)s is before started_at %(start)s")
            % {"end": finished.isoformat(), "start": started.isoformat()},
            field="finished_at",
        )
    unit_text = _text(data, "unit", 512)
    with transaction.atomic():
        wo = locked(work_order)
        require_status(
            wo,
            _("record process data for"),
            (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS),
        )
        unit = unit_of(wo, unit_text) if unit_text else None
        if not operator_name and user is not None:
            operator_name = user.display_name() if hasattr(user, "display_name") else str(user)
        record = ProcessRecord.objects.create(
            work_order=wo,
            unit=unit.epc if unit else "",
            unit_serial=unit.label if unit else "",
            step=step,
            station=station,
            operator=user,
            operator_name=operator_name,
            parameters=parameters,
            result=result,
            started_at=started,
            finished_at=finished,
            note=note,
            recorded_at=moment(at),
            recorded_by=user,
        )
        audit.record_create(record, user=user)
    return record
