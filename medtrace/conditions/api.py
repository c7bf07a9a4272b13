"""Conditions: limits per product, readings from scan stations and loggers, excursions.

Scopes: reading anything needs ``lifecycle:read``; the limits are part of the product's
specification, so setting them needs ``masterdata:write``; recording readings needs the scope of
the department that owns the phase: ``production:write`` for production, ``warehouse:write``
for storage and transport. Roles decide the rest (``conditions.*`` permissions).
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict, Field

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import limit_query
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata.models import Product

from . import selectors, services
from .models import ConditionProfile, ConditionRecord, Phase
from .readings import split_targets

router = Router(tags=["conditions"])

READ, LIMITS = "lifecycle:read", "masterdata:write"
PHASE_SCOPES = {
    Phase.PRODUCTION: "production:write",
    Phase.STORAGE: "warehouse:write",
    Phase.TRANSPORT: "warehouse:write",
}


# Optional in the signature: a missing file is the service's 422, after the permission check.
_LOGGER_FILE: Any = File(None, description="The logger file: CSV or XLSX")


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class ProfileIn(StrictIn):
    product_id: int
    phase: str = Field(description="production, storage, transport, or all")
    temperature_min: float | None = Field(None, description="°C")
    temperature_max: float | None = Field(None, description="°C")
    humidity_min: float | None = Field(None, description="%RH")
    humidity_max: float | None = Field(None, description="%RH")
    basis: str = Field("", description="Where the limits come from (IFU, label, GMP rule)")
    reason: str = Field("", description="Recorded in the audit trail")


class ProfileChangeIn(StrictIn):
    phase: str | None = None
    temperature_min: float | None = None
    temperature_max: float | None = None
    humidity_min: float | None = None
    humidity_max: float | None = None
    basis: str | None = None
    active: bool | None = Field(None, description="false retires the profile")
    reason: str = Field(description="Why the limits change (required; audited)")


class ProductRef(Schema):
    id: int
    name: str
    model: str


class ProfileOut(Schema):
    id: int
    product: ProductRef
    phase: str
    temperature_min: float | None
    temperature_max: float | None
    humidity_min: float | None
    humidity_max: float | None
    limits: str = Field(description='e.g. "2–8 °C, ≤ 60 %RH"')
    basis: str
    active: bool
    updated_at: datetime


class ReadingIn(StrictIn):
    time: str = Field(description="ISO 8601; without an offset, the configured time zone")
    type: str = Field(description="temperature or humidity")
    value: float
    uom: str | None = Field(
        None, description="temperature: CEL (default), FAH or KEL; humidity: P1 (percent)"
    )


class ReadingsIn(StrictIn):
    phase: str = Field(description="production, storage or transport")
    device: str = Field(description="Scan station or logger: its name, serial or URI (GIAI)")
    location: str | None = Field(
        None, description="Location code, GLN, SGLN or id (optional in transport)"
    )
    targets: list[str] = Field(description="Units, cases (SSCC) or lots, in any UDI form")
    readings: list[ReadingIn]
    note: str = ""


class LocationOut(Schema):
    id: int
    code: str
    name: str
    sgln: str


class AttachmentOut(Schema):
    name: str
    sha256: str
    size: int


class ExcursionOut(Schema):
    record: str
    measurement: str
    bound: str = Field(description="min or max: the limit broken")
    limit: float
    limits: str
    value: float = Field(description="The worst reading (°C or %RH)")
    unit: str
    at: datetime
    first_at: datetime
    last_at: datetime
    readings: int = Field(description="Readings outside the limit")
    phase: str = Field(description="The phase of the profile broken")
    product: ProductRef
    location: str
    nonconformance: str | None
    targets: list[str] = Field(description="The units and lots affected")
    text: str


class RecordOut(Schema):
    number: str
    source: str = Field(description="station or import")
    phase: str
    device: str
    location: LocationOut | None
    targets: list[str] = Field(description="As the event names them")
    unit_count: int
    reading_count: int
    first_reading_at: datetime
    last_reading_at: datetime
    event_id: str = Field(description="The EPCIS eventID: GET /epcis/events/{eventID}")
    recorded_at: datetime
    recorded_by: str | None
    attachment: AttachmentOut | None
    note: str
    excursions: list[ExcursionOut]
    nonconformances: list[str]


class ProblemOut(Schema):
    field: str
    message: str
    row: int | None = None
    value: str | None = None


class ImportGroupOut(Schema):
    targets: list[str]
    location: LocationOut | None
    rows: int
    readings: int
    excursions: list[str] = Field(description="The limits the readings break (dry run preview)")


class ImportOut(Schema):
    dry_run: bool
    ok: bool
    file: str
    sha256: str
    rows: int
    readings: int
    blank_rows: list[int] = Field(description="Empty lines, skipped and listed")
    problems: list[ProblemOut]
    groups: list[ImportGroupOut]
    records: list[RecordOut]


# Helpers ---------------------------------------------------------------------------------------


def _user(request: HttpRequest, scope: str) -> User:
    require_scope(request, scope)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _reader(request: HttpRequest, model: str) -> User:
    user = _user(request, READ)
    if not scoping.is_partner(user) and not user.has_perm(f"conditions.view_{model}"):
        raise PermissionDenied(f"Your role cannot view {model} records")
    return user


def _recorder(request: HttpRequest, phase: str) -> User:
    if phase not in PHASE_SCOPES:
        raise ValidationFailed(
            f"phase: {phase!r} is not a phase; expected one of {', '.join(Phase.values)}",
            field="phase",
        )
    return _user(request, PHASE_SCOPES[Phase(phase)])


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _product(product: Product) -> dict[str, Any]:
    return {"id": product.pk, "name": product.name, "model": product.model}


def _profile(profile: ConditionProfile) -> dict[str, Any]:
    return {
        "id": profile.pk,
        "product": _product(profile.product),
        "phase": profile.phase,
        "temperature_min": _float(profile.temperature_min),
        "temperature_max": _float(profile.temperature_max),
        "humidity_min": _float(profile.humidity_min),
        "humidity_max": _float(profile.humidity_max),
        "limits": profile.limits_text(),
        "basis": profile.basis,
        "active": profile.active,
        "updated_at": profile.updated_at,
    }


def _location(record: ConditionRecord) -> dict[str, Any] | None:
    place = record.location
    if place is None:
        return None
    return {"id": place.pk, "code": place.code, "name": place.name, "sgln": place.sgln}


def _records(records: list[ConditionRecord]) -> list[dict[str, Any]]:
    """Records with their excursions (two queries for any number of records)."""
    excursions = selectors.excursion_list(user=None, records=[r.pk for r in records], limit=1000)
    targets = selectors.excursion_targets(excursions)
    by_record: dict[int, list[dict[str, Any]]] = {}
    for excursion in excursions:
        item = selectors.excursion_dict(excursion)
        item["targets"] = targets.get(excursion.pk, [])
        by_record.setdefault(excursion.record_id, []).append(item)
    out = []
    for record in records:
        found = sorted(by_record.get(record.pk, []), key=lambda x: (x["measurement"], x["bound"]))
        attachment = record.attachment
        out.append(
            {
                "number": record.number,
                "source": record.source,
                "phase": record.phase,
                "device": record.device,
                "location": _location(record),
                "targets": record.targets,
                "unit_count": record.unit_count,
                "reading_count": record.reading_count,
                "first_reading_at": record.first_reading_at,
                "last_reading_at": record.last_reading_at,
                "event_id": record.event.event_id,
                "recorded_at": record.recorded_at,
                "recorded_by": record.recorded_by.get_username() if record.recorded_by else None,
                "attachment": (
                    {"name": attachment.name, "sha256": attachment.sha256, "size": attachment.size}
                    if attachment is not None
                    else None
                ),
                "note": record.note,
                "excursions": found,
                "nonconformances": sorted(
                    {x["nonconformance"] for x in found if x["nonconformance"]}
                ),
            }
        )
    return out


# Profiles --------------------------------------------------------------------------------------


@router.get("/conditions/profiles", response=list[ProfileOut])
def list_profiles(
    request: HttpRequest, product_id: int | None = None, active: bool | None = None
) -> list[dict[str, Any]]:
    """Temperature and humidity limits; partners see none (the maker's specification data)."""
    user = _reader(request, "conditionprofile")
    return [
        _profile(p) for p in selectors.profile_list(user=user, product_id=product_id, active=active)
    ]


@router.post("/conditions/profiles", response={201: ProfileOut})
def create_profile(request: HttpRequest, payload: ProfileIn) -> Status:
    """Add limits for a product and phase (several per product are allowed)."""
    user = _user(request, LIMITS)
    products = scoping.unscoped_nothing(user, Product.objects.all())
    product = scoping.visible_or_404(products, "product", pk=payload.product_id)
    data = payload.model_dump(exclude={"product_id", "reason"})
    profile = services.profile_create(product=product, data=data, user=user, reason=payload.reason)
    return Status(201, _profile(profile))


@router.put("/conditions/profiles/{profile_id}", response=ProfileOut)
def change_profile(
    request: HttpRequest, profile_id: int, payload: ProfileChangeIn
) -> dict[str, Any]:
    """Change limits or retire the profile (``active`` false); only the fields sent change.
    Send a limit as null to remove it. Needs ``reason``."""
    user = _user(request, LIMITS)
    profile = selectors.profile_get(user=user, pk=profile_id)
    data = payload.model_dump(exclude={"reason"}, exclude_unset=True)
    changed = services.profile_update(profile=profile, data=data, user=user, reason=payload.reason)
    return _profile(changed)


# Readings --------------------------------------------------------------------------------------


@router.post("/conditions/readings", response={201: RecordOut})
def record_readings(request: HttpRequest, payload: ReadingsIn) -> Status:
    """Readings from a scan station: one EPCIS ObjectEvent with a sensorElementList; a reading
    outside a product's limits raises a nonconformance and holds the affected goods."""
    user = _recorder(request, payload.phase)
    done = services.readings_record(
        targets=payload.targets,
        readings=[r.model_dump() for r in payload.readings],
        phase=payload.phase,
        device=payload.device,
        location=payload.location,
        user=user,
        note=payload.note,
    )
    return Status(201, _records([done.record])[0])


@router.post("/conditions/import", response={200: ImportOut, 201: ImportOut})
def import_readings(
    request: HttpRequest,
    phase: Form[str],
    file: UploadedFile | None = _LOGGER_FILE,
    device: Form[str] = "",
    location: Form[str] = "",
    targets: Form[str] = "",
    dry_run: Form[bool] = False,
    note: Form[str] = "",
) -> Status:
    """Import a logger file (multipart; CSV or XLSX with columns time, temperature, humidity,
    and optionally target and location per row). ``targets``: identifiers separated by new
    lines, spaces or ';'. All or nothing: a problem in any row refuses the whole file (422,
    every problem by row and field in ``details``). ``dry_run``: check only, 200 with the
    report, nothing stored."""
    user = _recorder(request, phase)
    result = services.readings_import(
        name=(file.name if file else "") or "logger.csv",
        content=file.read() if file else b"",
        phase=phase,
        device=device,
        location=location or None,
        targets=split_targets(targets),
        dry_run=dry_run,
        user=user,
        note=note,
    )
    groups = [
        {
            "targets": g.texts,
            "location": (
                {"id": g.location.pk, "code": g.location.code, "name": g.location.name,
                 "sgln": g.location.sgln} if g.location is not None else None
            ),
            "rows": len(g.rows),
            "readings": len(g.readings),
            "excursions": [services.breach_text(b, g.location) for b in g.breaches],
        }
        for g in result.groups
    ]  # fmt: skip
    body = {
        "dry_run": result.dry_run,
        "ok": result.ok,
        "file": result.file_name,
        "sha256": result.sha256,
        "rows": result.rows,
        "readings": result.reading_count,
        "blank_rows": result.blank_rows,
        "problems": [p.as_dict() for p in result.problems],
        "groups": groups,
        "records": _records([r.record for r in result.recorded]),
    }
    return Status(200 if dry_run else 201, body)


# Records and excursions -----------------------------------------------------------------------


@router.get("/conditions/records", response=list[RecordOut])
def list_records(request: HttpRequest, limit: int = limit_query(50)) -> list[dict[str, Any]]:
    """The latest condition records, newest first (partners: none)."""
    user = _reader(request, "conditionrecord")
    return _records(list(selectors.record_list(user=user, limit=limit)))


@router.get("/conditions/records/{number}", response=RecordOut)
def get_record(request: HttpRequest, number: str) -> dict[str, Any]:
    user = _reader(request, "conditionrecord")
    return _records([selectors.record_get(user=user, number=number)])[0]


@router.get("/conditions/excursions", response=list[ExcursionOut])
def list_excursions(request: HttpRequest, limit: int = limit_query(100)) -> list[dict[str, Any]]:
    """The latest excursions, newest first, with the nonconformance each raised."""
    user = _reader(request, "excursion")
    excursions = selectors.excursion_list(user=user, limit=limit)
    targets = selectors.excursion_targets(excursions)
    return [{**selectors.excursion_dict(e), "targets": targets.get(e.pk, [])} for e in excursions]
