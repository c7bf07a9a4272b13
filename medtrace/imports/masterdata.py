"""Master-data imports: parties, locations, products with their DIs, materials.

Each row is validated by the master-data rules themselves (``masterdata.services_bulk.build``:
field validators, choices, the models' ``clean()``); references are looked up once per table
(parties by GLN, enclosing locations by code); unique keys are checked against the file's
earlier rows and, once per chunk, against the database. A key already in the database is an
error: an import creates records, it never updates one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medtrace.accounts.models import User
from medtrace.errors import PermissionDenied
from medtrace.masterdata import services_bulk as bulk
from medtrace.masterdata.models import (
    Location,
    Material,
    MaterialSupplier,
    PackagingLevel,
    Party,
    Product,
    ProductIdentifier,
)

from .base import Importer, Progress, column
from .columns import Spec, model_columns
from .models import ImportKind
from .reader import Row

WRITE_CHUNK = 5000
GLN_EXPECTED = gettext_lazy("the 13-digit GLN of a party already in medtrace")


def _records(model: type[models.Model], values: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [model(*v) for v in values]


def _row_of(instance: models.Model) -> tuple[Any, ...]:
    """The record's column values, compact (rebuilt with ``Model(*values)`` when stored)."""
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


class MasterImporter(Importer):
    model: ClassVar[type[models.Model]]
    # model field -> column, where they differ (errors name the column of the file)
    field_columns: ClassVar[dict[str, str]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parties: dict[str, Party | None] = {}
        self._pending: dict[bulk.UniqueKey, list[tuple[tuple[Any, ...], Row, Any, str]]] = {}

    def reason(self) -> str:
        return f"import {self.job.pk}: {self.job.file_name}"

    def column_of(self, field: str | None, default: str | None = None) -> str | None:
        if field is None:
            return default
        name = self.field_columns.get(field, field)
        return name if name in self.spec.by_name else default

    def report(self, row: Row, problems: list[bulk.Problem], *, default: str | None = None) -> bool:
        for p in problems:
            self.error(row, self.column_of(p.field, default), p.message, code=p.code)
        return not problems

    def party(self, row: Row, name: str, gln: str | None) -> Party | None:
        """The party of a GLN column; records an error if there is none."""
        if not gln:
            return None
        party = self.parties.get(gln)
        if party is None:
            self.error(row, name, _("no party with GLN %(gln)s in medtrace") % {"gln": gln})
        return party

    def load_parties(self, glns: Iterable[str]) -> None:
        wanted = {g for g in glns if g and g not in self.parties}
        if wanted:
            found = {p.gln: p for p in Party.objects.filter(gln__in=wanted)}
            for gln in wanted:
                self.parties[gln] = found.get(gln)

    def keys(self, row: Row, instance: models.Model, *, column: str | None = None) -> bool:
        """In-file duplicates now; database conflicts at the end of the chunk. ``column``: the
        file's column for the record's key, if not the key's own field."""
        model = type(instance)
        ok = True
        for key in bulk.unique_keys(model):
            values = key.values(instance)
            if values is None:
                continue
            name = column or self.column_of(key.field) or key.field
            earlier = self.first_row_with(f"{model.__name__}{key.attnames}", values, row)
            if earlier is not None:
                self.duplicate(row, name, earlier, getattr(instance, key.field))
                ok = False
            else:
                self._pending.setdefault(key, []).append((values, row, model, name))
        return ok

    def check_database(self) -> None:
        pending, self._pending = self._pending, {}
        for key, items in pending.items():
            model = items[0][2]
            taken = bulk.existing_keys(model, key, [item[0] for item in items])
            for values, row, _model, name in items:
                if values in taken:
                    self.error(
                        row,
                        name,
                        bulk.taken_message(model, key, taken[values]),
                        code="exists",
                        value=values[-1],
                    )

    def plain(self, values: dict[str, Any], model: type[models.Model]) -> dict[str, Any]:
        fields = bulk.plain_fields(model)
        return {k: v for k, v in values.items() if k in fields}

    def store(
        self, model: type[models.Model], rows: list[tuple[Any, ...]], progress: Progress
    ) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(rows), WRITE_CHUNK):
            part = _records(model, rows[start : start + WRITE_CHUNK])
            out.extend(bulk.create_many(model, part, user=self.user, reason=self.reason()))
            progress(len(part))
        return out


# Parties ----------------------------------------------------------------------------------------


class PartyImporter(MasterImporter):
    kind = ImportKind.PARTIES
    model = Party
    spec = Spec(model_columns(Party, bulk.FIELDS[Party]))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[tuple[Any, ...]] = []

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        bulk.require_add(user, Party)

    def validate(self, rows: list[Row]) -> None:
        for row in rows:
            values, _ok = self.cells(row)
            party, problems = bulk.build(Party, self.plain(values, Party))
            # Keys of a bad row count too: a later row repeating them is wrong either way.
            ok = self.report(row, problems)
            if self.keys(row, party) and ok:
                self.records.append(_row_of(party))
        self.check_database()

    def summary(self) -> dict[str, int]:
        return {"parties": len(self.records)}

    def write(self, progress: Progress) -> dict[str, int]:
        self.store(Party, self.records, progress)
        return self.summary()


# Locations --------------------------------------------------------------------------------------


class LocationImporter(MasterImporter):
    kind = ImportKind.LOCATIONS
    model = Location
    spec = Spec(
        [
            column("party_gln", required=True, expected=GLN_EXPECTED),
            column(
                "parent_code",
                expected=gettext_lazy(
                    "the code of the enclosing location of the same party (in medtrace or in "
                    "this file); empty for a site"
                ),
            ),
            *model_columns(Location, bulk.FIELDS[Location]),
        ]
    )
    field_columns = {"party": "party_gln", "parent": "parent_code", "sgln": "gln"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # (party id, code) -> (row, kind, record values, parent: ("db", pk) | ("file", key) | None)
        self.records: dict[tuple[int, str], tuple[int, str, tuple[Any, ...], Any]] = {}
        self.deferred: list[tuple[Row, dict[str, Any], Party]] = []

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        bulk.require_add(user, Location)

    def validate(self, rows: list[Row]) -> None:
        self.load_parties(str(r.cells.get("party_gln") or "").strip() for r in rows)
        checked = []
        for row in rows:
            values, _ok = self.cells(row)
            party = self.party(row, "party_gln", values.get("party_gln"))
            if party is None:
                continue
            checked.append((row, values, party))
        wanted = {(p.pk, v["parent_code"]) for _r, v, p in checked if v.get("parent_code")}
        in_db = self._db_locations(wanted)
        for row, values, party in checked:
            code = values.get("parent_code")
            if code and (party.pk, code) not in in_db and (party.pk, code) not in self.records:
                self.deferred.append((row, values, party))  # perhaps further down the file
                continue
            self._one(row, values, party, in_db)
        self.check_database()

    @staticmethod
    def _db_locations(wanted: set[tuple[int, str]]) -> dict[tuple[int, str], Location]:
        if not wanted:
            return {}
        qs = Location.objects.filter(
            party_id__in={p for p, _c in wanted}, code__in={c for _p, c in wanted}
        )
        return {(loc.party_id, loc.code): loc for loc in qs if (loc.party_id, loc.code) in wanted}

    def _one(
        self, row: Row, values: dict[str, Any], party: Party, in_db: dict[tuple[int, str], Location]
    ) -> None:
        code = values.get("parent_code")
        parent: Location | None = None
        link: Any = None
        if code:
            key = (party.pk, code)
            if key in in_db:
                parent = in_db[key]
                link = ("db", parent.pk)
            elif key in self.records:
                number, kind, _values, _link = self.records[key]
                # The enclosing location from this file, not stored yet: it stands in with what
                # the rules look at (its kind and party) and a placeholder id.
                parent = Location(pk=-number, party=party, kind=kind)
                link = ("file", key)
            else:
                self.error(
                    row,
                    "parent_code",
                    _("%(party)s has no location with code %(code)s, in medtrace or in this file")
                    % {"party": party.name, "code": code},
                    code="not_found",
                )
                return
        location, problems = bulk.build(
            Location, self.plain(values, Location), {"party": party, "parent": parent}
        )
        ok = self.report(row, problems)
        if not (self.keys(row, location) and ok):
            return
        location.parent_id = None  # the placeholder; set from ``link`` when stored
        self.records[(party.pk, location.code)] = (
            row.number,
            location.kind,
            _row_of(location),
            link,
        )

    def finish(self) -> None:
        # Rows whose enclosing location came later in the file; in file order, so a chain of
        # forward references resolves in as many passes as it is long.
        while self.deferred:
            waiting, self.deferred = self.deferred, []
            progressed = False
            for row, values, party in waiting:
                key = (party.pk, values["parent_code"])
                if key in self.records:
                    self._one(row, values, party, {})
                    progressed = True
                else:
                    self.deferred.append((row, values, party))
            if not progressed:
                for row, values, party in self.deferred:
                    self._one(row, values, party, {})  # records "no location with code"
                self.deferred = []
        self.check_database()

    def summary(self) -> dict[str, int]:
        return {"locations": len(self.records)}

    def write(self, progress: Progress) -> dict[str, int]:
        ids: dict[tuple[int, str], int] = {}
        remaining = list(self.records.items())
        parent_index = Location._meta.concrete_fields.index(Location._meta.get_field("parent"))
        while remaining:
            ready, later = [], []
            for key, (_n, _kind, values, link) in remaining:
                if link is None or link[0] == "db":
                    parent_id = link[1] if link else None
                elif link[1] in ids:
                    parent_id = ids[link[1]]
                else:
                    later.append((key, self.records[key]))
                    continue
                ready.append(
                    (key, (*values[:parent_index], parent_id, *values[parent_index + 1 :]))
                )
            stored = self.store(Location, [v for _k, v in ready], progress)
            ids.update({key: loc.pk for (key, _v), loc in zip(ready, stored, strict=True)})
            remaining = later
        return self.summary()


# Products ---------------------------------------------------------------------------------------

LEVELS = [level.value for level in PackagingLevel]
UNIT = PackagingLevel.UNIT.value  # a plain str: enum member access costs per row


def _di_columns() -> list[Any]:
    out = []
    for level in LEVELS:
        if level == UNIT:
            out.append(
                column(
                    "unit_di",
                    required=True,
                    expected=gettext_lazy(
                        "the base unit's DI: a GTIN (8, 12, 13 or 14 digits) or HIBC LIC+PCN+unit "
                        "of measure"
                    ),
                )
            )
            continue
        out.append(
            column(f"{level}_di", expected=gettext_lazy("the DI of this packaging level, if any"))
        )
        out.append(
            column(
                f"{level}_quantity",
                "int",
                expected=gettext_lazy("base units in one %(level)s (with its DI)")
                % {"level": level},
            )
        )
    return out


class ProductImporter(MasterImporter):
    kind = ImportKind.PRODUCTS
    model = Product
    spec = Spec(
        [
            column("manufacturer_gln", required=True, expected=GLN_EXPECTED),
            *model_columns(Product, bulk.FIELDS[Product]),
            *_di_columns(),
        ]
    )
    field_columns = {"manufacturer": "manufacturer_gln", "identifiers": "unit_di"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        bulk.require_add(user, Product, ProductIdentifier)

    def validate(self, rows: list[Row]) -> None:
        self.load_parties(str(r.cells.get("manufacturer_gln") or "").strip() for r in rows)
        for row in rows:
            values, _ok = self.cells(row)
            maker = self.party(row, "manufacturer_gln", values.get("manufacturer_gln"))
            if maker is None:
                continue
            product, problems = bulk.build(
                Product, self.plain(values, Product), {"manufacturer": maker}
            )
            identifiers = self._identifiers(row, values, product)
            ok = self.report(row, problems) and identifiers is not None
            ok = self.keys(row, product) and ok
            if ok and identifiers is not None:
                self.records.append(
                    (_row_of(product), [_row_of(i)[1:] for i in identifiers])  # all but the id
                )
        self.check_database()

    def _identifiers(
        self, row: Row, values: dict[str, Any], product: Product
    ) -> list[ProductIdentifier] | None:
        out: list[ProductIdentifier] = []
        ok = True
        for level in LEVELS:
            di = values.get(f"{level}_di")
            qty_column = "unit_di" if level == UNIT else f"{level}_quantity"
            quantity = 1 if level == UNIT else values.get(qty_column)
            if not di:
                if quantity is not None and level != UNIT:
                    self.error(
                        row,
                        qty_column,
                        _("a quantity without a DI; give %(c)s too") % {"c": f"{level}_di"},
                        code="quantity_without_di",
                    )
                    ok = False
                continue
            if quantity is None:
                self.error(
                    row,
                    qty_column,
                    _("required with %(c)s: how many base units one %(level)s holds")
                    % {"c": f"{level}_di", "level": level},
                    code="required",
                )
                ok = False
                continue
            identifier, problems = bulk.build(
                ProductIdentifier,
                {"packaging_level": level, "di": di, "quantity": quantity},
                {"product": product},
            )
            for p in problems:
                name = qty_column if p.field == "quantity" else f"{level}_di"
                self.error(row, name, p.message, code=p.code)
            if problems:
                ok = False
                continue
            ok = self.keys(row, identifier, column=f"{level}_di") and ok
            out.append(identifier)
        if not ok:
            return None
        problem = bulk.check_identifier_levels([(i.packaging_level, i.quantity) for i in out])
        if problem is not None:
            self.error(row, "unit_di" if problem.code == "no_unit_di" else None, problem.message)
            return None
        return out

    def summary(self) -> dict[str, int]:
        return {
            "products": len(self.records),
            "identifiers": sum(len(ids) for _p, ids in self.records),
        }

    def write(self, progress: Progress) -> dict[str, int]:
        for start in range(0, len(self.records), WRITE_CHUNK):
            part = self.records[start : start + WRITE_CHUNK]
            products = bulk.create_many(
                Product,
                _records(Product, [p for p, _ids in part]),
                user=self.user,
                reason=self.reason(),
            )
            identifiers = _records(
                ProductIdentifier,
                [
                    (None, product.pk, *values[1:])
                    for product, (_p, ids) in zip(products, part, strict=True)
                    for values in ids
                ],
            )
            bulk.create_many(ProductIdentifier, identifiers, user=self.user, reason=self.reason())
            progress(len(part))
        return self.summary()


# Materials --------------------------------------------------------------------------------------


class MaterialImporter(MasterImporter):
    kind = ImportKind.MATERIALS
    model = Material
    spec = Spec(
        [
            *model_columns(Material, bulk.FIELDS[Material]),
            column(
                "suppliers",
                "list",
                expected=gettext_lazy(
                    "the GLNs of the approved suppliers (parties already in medtrace), "
                    "separated by ';'"
                ),
            ),
        ]
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[tuple[tuple[Any, ...], list[int]]] = []
        self.may_add_sources: bool | None = None

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        bulk.require_add(user, Material)

    def validate(self, rows: list[Row]) -> None:
        self.load_parties(
            gln
            for r in rows
            for gln in str(r.cells.get("suppliers") or "").replace(",", ";").split(";")
        )
        for row in rows:
            values, _ok = self.cells(row)
            material, problems = bulk.build(Material, self.plain(values, Material))
            ok = self.report(row, problems)
            sources = self._sources(row, values.get("suppliers") or [], material)
            ok = self.keys(row, material) and ok and sources is not None
            if ok and sources is not None:
                self.records.append((_row_of(material), sources))
        self.check_database()

    def _sources(self, row: Row, glns: list[str], material: Material) -> list[int] | None:
        if not glns:
            return []
        if self.may_add_sources is None:
            try:
                bulk.require_add(self.user, MaterialSupplier)
                self.may_add_sources = True
            except PermissionDenied:
                self.may_add_sources = False
        if not self.may_add_sources:
            self.error(
                row,
                "suppliers",
                _("you may not add material sources (masterdata.add_materialsupplier)"),
                code="permission",
            )
            return None
        out: list[int] = []
        for gln in glns:
            self.load_parties([gln])
            supplier = self.party(row, "suppliers", gln)
            if supplier is None:
                return None
            if supplier.pk in out:
                self.error(row, "suppliers", _("%(gln)s is listed twice") % {"gln": gln})
                return None
            _source, problems = bulk.build(
                MaterialSupplier, {}, {"material": material, "supplier": supplier}
            )
            if not self.report(row, problems, default="suppliers"):
                return None
            out.append(supplier.pk)
        return out

    def column_of(self, field: str | None, default: str | None = None) -> str | None:
        if field == "supplier":
            return "suppliers"
        return super().column_of(field, default)

    def summary(self) -> dict[str, int]:
        return {
            "materials": len(self.records),
            "material_sources": sum(len(s) for _m, s in self.records),
        }

    def write(self, progress: Progress) -> dict[str, int]:
        for start in range(0, len(self.records), WRITE_CHUNK):
            part = self.records[start : start + WRITE_CHUNK]
            materials = bulk.create_many(
                Material,
                _records(Material, [m for m, _s in part]),
                user=self.user,
                reason=self.reason(),
            )
            sources = [
                MaterialSupplier(material=material, supplier_id=supplier_id)
                for material, (_m, suppliers) in zip(materials, part, strict=True)
                for supplier_id in suppliers
            ]
            bulk.create_many(MaterialSupplier, sources, user=self.user, reason=self.reason())
            progress(len(part))
        return self.summary()
