"""What the DI exports share: the device data of a product, loaded set-based, and a small
engine that turns a format's field list into records plus a validation report.

A format (NMPA UDID, GUDID, EUDAMED) is a list of ``Spec``: the field's key in that system, its
label, where the value comes from in medtrace (``source``; empty when medtrace keeps no such
data) and whether the system requires it. Building never invents a value: a field medtrace does
not keep is exported empty and listed under ``not_in_master_data``; a required field that is
empty for a product is a ``missing`` problem naming the master-data field to fill in; a value
the system would refuse is an ``invalid`` problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from medtrace.masterdata.models import (
    PackagingLevel,
    Party,
    Product,
    ProductIdentifier,
)

LEVELS = [level.value for level in PackagingLevel]


@dataclass(frozen=True)
class StorageLimit:
    """One limit from the product's condition profiles (storage, or all phases)."""

    measurement: str  # temperature or humidity
    low: Any
    high: Any
    unit: str  # Cel or %RH (UCUM)
    phase: str


@dataclass
class DeviceData:
    """Everything the DI exports read about one product."""

    product: Product
    maker: Party
    identifiers: list[ProductIdentifier]  # base unit first, then pack, case, pallet
    storage: list[StorageLimit] = field(default_factory=list)

    @property
    def unit(self) -> ProductIdentifier | None:
        for identifier in self.identifiers:
            if identifier.packaging_level == PackagingLevel.UNIT:
                return identifier
        return None

    @property
    def unit_di(self) -> str:
        unit = self.unit
        return unit.di if unit is not None else ""

    @property
    def packages(self) -> list[tuple[ProductIdentifier, ProductIdentifier | None]]:
        """Each package DI (above the base unit) with the next lower level it contains."""
        out: list[tuple[ProductIdentifier, ProductIdentifier | None]] = []
        lower: ProductIdentifier | None = None
        for identifier in self.identifiers:
            if identifier.packaging_level != PackagingLevel.UNIT:
                out.append((identifier, lower))
            lower = identifier
        return out

    def pi(self, element: str) -> bool:
        return element in (self.product.udi_pi_elements or [])


def load_devices(products: QuerySet[Product]) -> list[DeviceData]:
    """The device data of ``products``, in three queries whatever their number."""
    from medtrace.conditions.models import ProfilePhase
    from medtrace.conditions.selectors import profile_list

    rows = list(
        products.select_related("manufacturer").prefetch_related("identifiers").order_by("pk")
    )
    storage: dict[int, list[StorageLimit]] = {}
    profiles = profile_list(user=None, active=True).filter(
        product__in=products.values("pk"),
        phase__in=[ProfilePhase.STORAGE, ProfilePhase.ALL],
    )
    for profile in profiles:
        limits = storage.setdefault(profile.product_id, [])
        if profile.temperature_min is not None or profile.temperature_max is not None:
            limits.append(
                StorageLimit(
                    "temperature",
                    profile.temperature_min,
                    profile.temperature_max,
                    "Cel",
                    profile.phase,
                )
            )
        if profile.humidity_min is not None or profile.humidity_max is not None:
            limits.append(
                StorageLimit(
                    "humidity", profile.humidity_min, profile.humidity_max, "%RH", profile.phase
                )
            )
    out = []
    for product in rows:
        identifiers = sorted(
            product.identifiers.all(), key=lambda i: LEVELS.index(i.packaging_level)
        )
        limits = storage.get(product.pk, [])
        out.append(DeviceData(product, product.manufacturer, identifiers, limits))
    return out


# The engine ------------------------------------------------------------------------------------

Getter = Callable[[DeviceData], Any]


@dataclass(frozen=True)
class Spec:
    """One field of a format."""

    key: str
    label: str
    get: Getter
    source: str  # the medtrace field(s) it comes from; "" when medtrace keeps no such data
    required: bool | Callable[[DeviceData], bool] = False
    note: str = ""

    def is_required(self, device: DeviceData) -> bool:
        return self.required(device) if callable(self.required) else bool(self.required)


@dataclass(frozen=True)
class SubList:
    """A repeated group of a record (packaging levels, storage conditions)."""

    key: str
    label: str
    columns: Sequence[tuple[str, str]]  # (key, label)
    rows: Callable[[DeviceData], list[dict[str, Any]]]


Check = Callable[[DeviceData], list[tuple[str, str]]]  # -> [(field key, message)]


@dataclass(frozen=True)
class DiFormat:
    name: str  # cn-udi-di, gudid, eudamed
    title: str
    standard: str
    specs: Sequence[Spec]
    lists: Sequence[SubList] = ()
    checks: Sequence[Check] = ()
    key_field: str = ""  # the record's own DI field, named in the problems

    def spec(self, key: str) -> Spec:
        return next(s for s in self.specs if s.key == key)


@dataclass
class Problem:
    di: str
    product_id: int
    product: str
    field: str
    label: str
    kind: str  # missing or invalid
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "di": self.di,
            "product_id": self.product_id,
            "product": self.product,
            "field": self.field,
            "label": self.label,
            "kind": self.kind,
            "message": self.message,
        }


@dataclass
class DiExport:
    format: DiFormat
    records: list[dict[str, Any]]
    problems: list[Problem]
    generated_at: datetime

    @property
    def not_in_master_data(self) -> list[dict[str, str]]:
        return [
            {"field": s.key, "label": s.label, "note": s.note or "medtrace keeps no such data"}
            for s in self.format.specs
            if not s.source
        ]

    @property
    def incomplete_dis(self) -> set[str]:
        return {p.di for p in self.problems}

    def document(self) -> dict[str, Any]:
        incomplete = self.incomplete_dis
        return {
            "format": self.format.name,
            "title": self.format.title,
            "standard": self.format.standard,
            "generated_at": self.generated_at.isoformat(),
            "count": len(self.records),
            "records": [_jsonable(r) for r in self.records],
            "report": {
                "complete": sum(
                    1 for r in self.records if r[self.format.key_field] not in incomplete
                ),
                "incomplete": len(incomplete),
                "not_in_master_data": self.not_in_master_data,
                "problems": [p.as_dict() for p in self.problems],
            },
        }


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def build(fmt: DiFormat, devices: Iterable[DeviceData]) -> DiExport:
    records: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for device in devices:
        record: dict[str, Any] = {}
        product_text = f"{device.product.name} {device.product.model}"
        di = device.unit_di
        for spec in fmt.specs:
            value = spec.get(device) if spec.source else None
            record[spec.key] = "" if value is None else value
            if spec.source and _empty(value) and spec.is_required(device):
                problems.append(
                    Problem(
                        di, device.product.pk, product_text, spec.key, spec.label, "missing",
                        f"{spec.label}: required; set {spec.source} in the product's master data",
                    )
                )  # fmt: skip
        for sub in fmt.lists:
            record[sub.key] = sub.rows(device)
        for check in fmt.checks:
            for key, message in check(device):
                label = next((s.label for s in fmt.specs if s.key == key), key)
                problems.append(
                    Problem(di, device.product.pk, product_text, key, label, "invalid", message)
                )
        records.append(record)
    return DiExport(fmt, records, problems, timezone.now())


# Shared getters and checks ---------------------------------------------------------------------


def package_check(device: DeviceData) -> list[tuple[str, str]]:
    """A package must hold a whole number of the next lower level."""
    out = []
    for package, lower in device.packages:
        if lower is not None and package.quantity % lower.quantity:
            out.append(
                (
                    "packages",
                    f"{package.di} ({package.get_packaging_level_display()}) holds "
                    f"{package.quantity} base units, not a whole number of {lower.di} "
                    f"({lower.quantity} each)",
                )
            )
    return out


def contains_count(package: ProductIdentifier, lower: ProductIdentifier | None) -> int:
    if lower is None:
        return package.quantity
    return package.quantity // lower.quantity


def kept(*values: Any) -> Any:
    """The first value that is set (booleans count as set)."""
    for value in values:
        if not _empty(value):
            return value
    return None


def date_text(value: date | None) -> str:
    return value.isoformat() if value else ""


def yes_no(value: bool | None, yes: str, no: str) -> str | None:
    if value is None:
        return None
    return yes if value else no


def export_sheets_title(fmt: DiFormat) -> str:
    return fmt.title


def report_rows(export: DiExport) -> list[dict[str, Any]]:
    rows = [
        {"di": "", "field": s["field"], "label": s["label"], "kind": "not_in_master_data",
         "message": s["note"]}
        for s in export.not_in_master_data
    ]  # fmt: skip
    rows.extend(p.as_dict() for p in export.problems)
    return rows


def filter_products(
    products: QuerySet[Product], *, ids: Sequence[int] | None, include_inactive: bool
) -> QuerySet[Product]:
    if ids:
        products = products.filter(pk__in=list(ids))
    if not include_inactive:
        products = products.filter(active=True)
    return products
