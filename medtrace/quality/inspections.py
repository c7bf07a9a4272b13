"""Inspection results: the values measured on a unit or on the samples of a lot, judged
automatically against the plan's limits, written with their EPCIS event in one transaction.

Event: ObjectEvent OBSERVE, bizStep ``inspecting``, disposition ``conformant`` or
``non_conformant``, bizTransaction ``testres`` = the result number. A failed result opens a
nonconformance with a QC hold in the same transaction (unless the object is already on an
unclosed nonconformance, e.g. a failed re-inspection after rework). Every failed result then
goes through the alert rule ``qc_failure`` (``alerts.rules_quality``): a failed unit's whole lot
is put on hold and QC is alerted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import MedtraceError, NotFound, PermissionDenied, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Material, ProductIdentifier

from .holds import is_lot_class
from .models import (
    CharacteristicType,
    InspectionCharacteristic,
    InspectionPlan,
    InspectionResult,
    Measurement,
    NcCategory,
    NcStatus,
    NonconformanceItem,
    Sampling,
)
from .nonconformance import nonconformance_open
from .plans import _decimal
from .selectors import lot_of_class

PERM_INSPECT = "quality.add_inspectionresult"
TRUE_WORDS = {"pass", "ok", "conforms", "conform", "yes", "y", "true", "1", "合格"}
FALSE_WORDS = {"fail", "nok", "nc", "no", "n", "false", "0", "不合格", "does not conform"}


@dataclass(frozen=True)
class Subject:
    """What is inspected: one unit, or one lot."""

    target: str
    is_lot: bool
    gtin: str
    lot: str
    serial: str
    label: str


def _conforms(value: Any, field: str, name: str) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationFailed(
        f"{field}: {name} is an attribute; expected pass or fail (conforms or not), got {value!r}",
        field=field,
    )


def _subject(plan: InspectionPlan, target: str) -> Subject:
    """Check that ``target`` is something ``plan`` inspects; refuse with the reason."""
    target = (target or "").strip()
    if not target:
        raise ValidationFailed("target: scan the unit or lot to inspect", field="target")
    what = plan.product or plan.material
    if is_lot_class(target):
        gtin, lot = lot_of_class(target)
        if plan.product_id is not None:
            ok = (
                bool(gtin)
                and ProductIdentifier.objects.filter(product_id=plan.product_id, di=gtin).exists()
            )
        else:
            material = plan.material
            assert material is not None
            ok = (bool(gtin) and gtin == material.gtin) or target.startswith(
                f"urn:medtrace:lot:{ev._component(material.code)}:"
            )
            if not gtin:
                lot = target.rsplit(":", 1)[-1]
        if not ok:
            raise ValidationFailed(
                f"target: {target} is not a lot of {what} (the plan {plan.code}'s "
                f"{'product' if plan.product_id else 'material'})",
                field="target",
            )
        return Subject(target, True, gtin, lot, "", f"lot {lot}")
    state = UnitState.objects.filter(epc=target).values("gtin", "serial", "lot", "product_id")
    row = state.first()
    if row is None:
        raise NotFound(
            f"target: the ledger has no unit {target}; commission or receive it first",
            field="target",
        )
    if plan.product_id is not None:
        ok = row["product_id"] == plan.product_id or (
            bool(row["gtin"])
            and ProductIdentifier.objects.filter(
                product_id=plan.product_id, di=row["gtin"]
            ).exists()
        )
    else:
        ok = bool(row["gtin"]) and plan.material is not None and row["gtin"] == plan.material.gtin
    if not ok:
        raise ValidationFailed(
            f"target: {row['serial'] or target} is not a unit of {what} (the plan "
            f"{plan.code}'s {'product' if plan.product_id else 'material'})",
            field="target",
        )
    refused = rules.refusals(rules.Step.SERVICE, [target])
    if refused:
        raise ValidationFailed(
            f"target: cannot inspect {refused[0].label}: it {refused[0].reasons[0]['message']}",
            field="target",
            details=[r.as_dict() for r in refused],
        )
    return Subject(
        target,
        False,
        row["gtin"] or "",
        row["lot"] or "",
        row["serial"] or "",
        row["serial"] or target,
    )


def required_samples(plan: InspectionPlan, lot_size: int | None) -> int | None:
    """How many samples of a lot of ``lot_size`` the plan inspects (None: lot size unknown)."""
    if plan.sampling == Sampling.FIXED:
        n = plan.sample_size or 1
        return min(n, lot_size) if lot_size else n
    if lot_size is None:
        return None
    if plan.sampling == Sampling.PERCENT:
        percent = plan.sample_percent or Decimal(100)
        return max(1, math.ceil(Decimal(lot_size) * percent / Decimal(100)))
    return lot_size


def _lot_size(subject: Subject, given: int | None) -> int | None:
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValidationFailed(
                "lot_size: expected a whole number of at least 1", field="lot_size"
            )
        return given
    if subject.gtin and subject.lot:
        count = UnitState.objects.filter(gtin=subject.gtin, lot=subject.lot).count()
        return count or None
    return None


def _judge(
    characteristics: list[InspectionCharacteristic],
    samples: list[tuple[str, Mapping[str, Any]]],
    plan: InspectionPlan,
) -> list[Measurement]:
    by_name = {c.name.casefold(): c for c in characteristics}
    out: list[Measurement] = []
    for index, (sample, values) in enumerate(samples):
        where = f"samples[{index}]" if len(samples) > 1 else "values"
        unknown = [k for k in values if str(k).strip().casefold() not in by_name]
        if unknown:
            raise ValidationFailed(
                f"{where}.{unknown[0]}: plan {plan.code} has no characteristic {unknown[0]!r}; "
                f"it checks {', '.join(c.name for c in characteristics)}",
                field=f"{where}.{unknown[0]}",
            )
        given = {str(k).strip().casefold(): v for k, v in values.items()}
        for c in characteristics:
            field = f"{where}.{c.name}"
            raw = given.get(c.name.casefold())
            if c.type == CharacteristicType.MEASURED:
                value = _decimal(raw, field)
                conforms = None
                missing = value is None
            else:
                value = None
                conforms = _conforms(raw, field, c.name)
                missing = conforms is None
            if missing:
                if c.required:
                    on = f" for sample {sample}" if len(samples) > 1 else ""
                    raise ValidationFailed(
                        f"{field}: {c.name} is required by plan {plan.code}; no value given{on}",
                        field=field,
                        details=[{"characteristic": c.name, "sample": sample}],
                    )
                continue
            if value is not None:
                if abs(value) >= Decimal(10) ** 12:
                    raise ValidationFailed(f"{field}: {value} is out of range", field=field)
                passed = (c.lower is None or value >= c.lower) and (
                    c.upper is None or value <= c.upper
                )
            else:
                passed = bool(conforms)
            out.append(
                Measurement(
                    sample=sample[:64],
                    position=c.position,
                    characteristic=c.name,
                    type=c.type,
                    value=value,
                    conforms=conforms,
                    unit=c.unit,
                    nominal=c.nominal,
                    lower=c.lower,
                    upper=c.upper,
                    passed=passed,
                )
            )
    return out


def _samples(
    subject: Subject,
    values: Mapping[str, Any] | None,
    samples: Sequence[Mapping[str, Any]] | None,
) -> list[tuple[str, Mapping[str, Any]]]:
    if values is not None and samples:
        raise ValidationFailed(
            "samples: give either values (one unit) or samples (a lot), not both", field="samples"
        )
    if values is not None:
        if not isinstance(values, Mapping):
            raise ValidationFailed("values: expected {characteristic: value}", field="values")
        return [(subject.serial or "1", values)]
    if not samples:
        raise ValidationFailed(
            "values: enter the measured values ({characteristic: value})", field="values"
        )
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for index, raw in enumerate(samples):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("values"), Mapping):
            raise ValidationFailed(
                f"samples[{index}]: expected {{sample, values: {{characteristic: value}}}}",
                field="samples",
            )
        label = str(raw.get("sample") or index + 1).strip()
        if label in seen:
            raise ValidationFailed(
                f"samples[{index}].sample: sample {label!r} appears twice", field="samples"
            )
        seen.add(label)
        out.append((label, raw["values"]))
    if not subject.is_lot and len(out) > 1:
        raise ValidationFailed(
            f"samples: {subject.label} is one unit; inspect a lot to give several samples",
            field="samples",
        )
    return out


def _open_nc_targets(targets: Iterable[str]) -> set[str]:
    return set(
        NonconformanceItem.objects.filter(target__in=list(targets))
        .exclude(nonconformance__status=NcStatus.CLOSED)
        .values_list("target", flat=True)
    )


def inspection_record(
    *,
    plan: InspectionPlan,
    target: str,
    user: User | None,
    values: Mapping[str, Any] | None = None,
    samples: Sequence[Mapping[str, Any]] | None = None,
    lot_size: int | None = None,
    note: str = "",
    password: str = "",
    at: datetime | None = None,
    read_point: str | None = None,
) -> InspectionResult:
    """Record an inspection of ``target`` (a unit EPC or a lot class URN) under ``plan``.

    ``values`` ({characteristic: value}) for one unit; ``samples`` ([{sample, values}]) for a
    lot, at least as many as the plan's sampling asks of the lot (``lot_size``, else the
    commissioned units of the lot). Measured values are numbers, attributes pass/fail. With
    ``password`` the inspector e-signs the result (meaning "authored"); a wrong password is
    counted and nothing is stored.
    """
    if user is not None and not user.has_perm(PERM_INSPECT):
        raise PermissionDenied(f"You may not record inspections (needs {PERM_INSPECT!r})")
    if not plan.active:
        raise ValidationFailed(
            f"plan: {plan.code} is inactive; inspect with an active plan", field="plan"
        )
    subject = _subject(plan, target)
    given = _samples(subject, values, samples)
    characteristics = list(plan.characteristics.all())
    measurements = _judge(characteristics, given, plan)
    size = _lot_size(subject, lot_size) if subject.is_lot else None
    if subject.is_lot:
        needed = required_samples(plan, size)
        if needed is None:
            raise ValidationFailed(
                f"lot_size: plan {plan.code} samples {plan.get_sampling_display()} of the lot; "
                "give the lot size",
                field="lot_size",
            )
        if len(given) < needed:
            raise ValidationFailed(
                f"samples: plan {plan.code} inspects {needed} samples of {subject.label} "
                f"(lot of {size or '?'}, {plan.get_sampling_display()}); results for "
                f"{len(given)} given",
                field="samples",
                details={"required": needed, "given": len(given), "lot_size": size},
            )
    passed = all(m.passed for m in measurements)
    if password:
        signature_precheck(
            user=user,
            password=password,
            object_type="quality.inspectionresult",
            object_repr=f"inspection of {subject.label}",
        )
    now = at or timezone.now()
    with transaction.atomic():
        result = InspectionResult.objects.create(
            number=next_number("INS"),
            plan=plan,
            plan_version=plan.version,
            kind=plan.kind,
            target=subject.target,
            gtin=subject.gtin,
            lot=subject.lot,
            serial=subject.serial,
            lot_size=size,
            samples=len(given),
            result="pass" if passed else "fail",
            inspected_at=now,
            inspector=user,
            note=(note or "").strip(),
        )
        for m in measurements:
            m.result = result
        Measurement.objects.bulk_create(measurements, batch_size=2000)
        audit.record(
            action="create",
            object_type=audit.label_of(result),
            object_id=result.pk,
            object_repr=str(result),
            changes={
                **audit.snapshot(result),
                "measurements": [
                    {
                        "sample": m.sample,
                        "characteristic": m.characteristic,
                        "value": m.value if m.value is not None else m.conforms,
                        "passed": m.passed,
                    }
                    for m in measurements
                ],
            },
            user=user,
        )
        ev.emit(
            [
                ev.object_event(
                    epcs=[] if subject.is_lot else [subject.target],
                    quantities=[ev.quantity_class(subject.target)] if subject.is_lot else [],
                    biz_step="inspecting",
                    disposition="conformant" if passed else "non_conformant",
                    at=now,
                    read_point=read_point,
                    transactions=[ev.bt("testres", result.number)],
                )
            ],
            user=user,
        )
        if password and user is not None:
            signature_apply(record=result, meaning="authored", user=user, password=password)
        nc = None
        if not passed and subject.target not in _open_nc_targets([subject.target]):
            failed = sorted({m.characteristic for m in measurements if not m.passed})
            nc = nonconformance_open(
                targets=[subject.target],
                title=f"{plan.code} failed on {subject.label}: {', '.join(failed)}"[:200],
                description=_failure_text(result, measurements),
                source=result.number,
                category=NcCategory.PRODUCT if plan.product_id else NcCategory.MATERIAL,
                user=user,
                hold=True,
                at=now,
                inspection=result,
            )
        if not passed:
            # Rule qc_failure: the failed unit's whole lot goes on hold, QC is alerted.
            from medtrace.alerts.rules_quality import qc_failed

            qc_failed(result=result, measurements=measurements, nc=nc, user=user, at=now)
    return result


def _failure_text(result: InspectionResult, measurements: list[Measurement]) -> str:
    lines = [f"Inspection {result.number} failed:"]
    for m in measurements:
        if m.passed:
            continue
        if m.value is not None:
            limits = f"{m.lower if m.lower is not None else '-∞'} … "
            limits += f"{m.upper if m.upper is not None else '+∞'}"
            lines.append(
                f"- {m.characteristic} (sample {m.sample}): {m.value.normalize()} {m.unit} "
                f"outside {limits} {m.unit}".rstrip()
            )
        else:
            lines.append(f"- {m.characteristic} (sample {m.sample}): does not conform")
    return "\n".join(lines)


def scan_target(text: str, *, field: str = "target") -> str:
    """A scanned unit or lot (any UDI form) as its EPC URN or lot class URN.

    Unlike ``targets_from_scans`` a lot is accepted when the ledger knows it only through its
    units (commissioned with the lot number) or when it is a lot of a known material (incoming
    goods not yet in the ledger).
    """
    from medtrace.masterdata.selectors import resolve_udi
    from medtrace.trace.selectors import resolve_target

    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"{field}: scan a unit or a lot", field=field)
    try:
        return resolve_target(text, user=None).epc
    except MedtraceError as exc:
        first = exc
    try:
        identity, _product = resolve_udi(text)
    except MedtraceError:
        identity = None
    if identity is not None and identity.gtin and identity.lot and not identity.serial:
        urn = identity.epc
        if urn and (
            UnitState.objects.filter(gtin=identity.gtin, lot=identity.lot).exists()
            or Material.objects.filter(gtin=identity.gtin).exists()
        ):
            return urn
    raise ValidationFailed(f"{field}: {first.message}", field=field)


def scan_targets(scans: Iterable[str], *, field: str = "targets") -> list[str]:
    """``scan_target`` for a list of scans (blank lines skipped); errors name the index."""
    out: list[str] = []
    for index, text in enumerate(scans):
        if not (text or "").strip():
            continue
        out.append(scan_target(text, field=f"{field}[{index}]"))
    return list(dict.fromkeys(out))
