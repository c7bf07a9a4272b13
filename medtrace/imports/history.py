"""Legacy serial histories: units and what happened to them before medtrace, into the ledger.

One row is one event of one unit (produced, shipped, received, installed, serviced, scrapped).
Rows become EPCIS 2.0 ObjectEvents built like the lifecycle services' own (``lifecycle.events``:
same bizSteps, dispositions, parties and document references) and are captured through the
ledger's one capture path (``ledger.services.capture_document``), so projections (UnitState,
custody), the ledger seal and its audit entry follow as for any capture. Rows of the same step,
time, place, party and document become one event with several EPCs, as a real shipment is.

Every imported event is marked as legacy data: a bizTransaction
``urn:medtrace:import:<job>`` of type ``urn:medtrace:btt:legacy_import``, and the extension
``medtrace:legacyImport`` with the import job and the file's rows.

An import creates units: a unit the ledger knows already is an error (a serial is commissioned
once, ``lifecycle.rules``). Each unit's rows, in time order, must make a possible life: produced
first and once, shipped before received, nothing after scrapped. Holds and QC releases do not
exist for legacy units and are not asked for.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, PermissionDenied
from medtrace.ledger.services import CaptureRejected, capture_document
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import (
    Location,
    PackagingLevel,
    Party,
    Product,
    ProductIdentifier,
    TrackingMode,
)
from medtrace.production.services_orders import unit_epc_maker
from medtrace.service import common as service_common

from .base import Importer, Progress, Refused, RowError, column
from .columns import Spec
from .models import ImportKind
from .reader import Row

NAMESPACE = "urn:medtrace:ns:"
BTT_IMPORT = "urn:medtrace:btt:legacy_import"
CAPTURE_CHUNK = 5000  # events per capture job (the ledger's streaming chunk)


@dataclass(frozen=True)
class Step:
    biz_step: str
    disposition: str | None
    action: str
    document_type: str


STEPS: dict[str, Step] = {
    "produced": Step("commissioning", "active", "ADD", "prodorder"),
    "shipped": Step("shipping", "in_transit", "OBSERVE", "desadv"),
    "received": Step("receiving", "in_progress", "OBSERVE", "recadv"),
    "installed": Step("installing", "active", "OBSERVE", service_common.BTT_INSTALLATION),
    "serviced": Step(ev.MAINTAINING, None, "OBSERVE", service_common.BTT_TICKET),
    "scrapped": Step("decommissioning", "destroyed", "DELETE", service_common.BTT_SCRAP),
}
# Same-time rows of one unit are taken in this order (made, then shipped, then received ...).
RANK = {kind: n for n, kind in enumerate(STEPS)}

SPEC = Spec(
    [
        column(
            "udi",
            expected=gettext_lazy(
                "the unit's UDI in any form (GS1 element string, Digital Link, HIBC, EPC URN); "
                "or give di and serial"
            ),
        ),
        column("di", expected=gettext_lazy("the product's base-unit DI (GTIN or HIBC)")),
        column("serial", expected=gettext_lazy("the unit's serial number (AI 21)")),
        column("lot", expected=gettext_lazy("the unit's lot (on its produced row at least)")),
        column("expiry", "date"),
        column(
            "event",
            required=True,
            expected=gettext_lazy(
                "one of: produced, shipped, received, installed, serviced, scrapped"
            ),
        ),
        column("event_time", "datetime", required=True),
        column(
            "location",
            required=True,
            expected=gettext_lazy(
                "where it happened: a location's SGLN, its GLN, or its code in medtrace"
            ),
        ),
        column(
            "party",
            expected=gettext_lazy(
                "GLN: for shipped the consignee (required), for received the receiver (default: "
                "the location's party); for the other events the location's party, if given"
            ),
        ),
        column("document", expected=gettext_lazy("the legacy document number, e.g. DN-2019-0042")),
    ]
)


@dataclass(slots=True)
class Entry:
    """One validated row (compact: a file of 100k rows is kept in memory until stored)."""

    row: int
    epc: str
    kind: str
    at: datetime
    location: Location
    party: Party | None
    document: str
    lot: str
    expiry: date | None
    product: Product
    serial: str
    unit_column: str  # the column that named the unit: udi, or serial with di


class HistoryImporter(Importer):
    kind = ImportKind.HISTORY
    spec = SPEC

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[Entry] = []
        self.products: dict[str, Product | str] = {}  # DI -> product, or why not
        self.locations: dict[str, Location | str] = {}
        self.parties: dict[str, Party | None] = {}
        self.makers: dict[int, Callable[[str], str]] = {}
        self.units: dict[str, list[Entry]] = defaultdict(list)
        self.now = timezone.now()
        self.our_gln = ""  # set when storing: the GLN our document references are minted under

    @classmethod
    def check_permission(cls, user: User | None) -> None:
        if user is not None and not user.has_perm("imports.import_history"):
            raise PermissionDenied(
                "You need the permission 'imports.import_history' to import legacy histories"
            )

    # Validation -------------------------------------------------------------------------------

    def validate(self, rows: list[Row]) -> None:
        parsed = []
        for row in rows:
            values, ok = self.cells(row)
            if not ok:
                continue  # the unit, place and time of a row with a wrong cell are not known
            unit = self._unit(row, values)
            if unit is not None:
                parsed.append((row, values, unit))
        self._load(parsed)
        for row, values, (di, serial, lot, expiry) in parsed:
            self._entry(row, values, di, serial, lot, expiry)

    def _unit(self, row: Row, values: dict[str, Any]) -> tuple[str, str, str, date | None] | None:
        """(DI, serial, lot, expiry) of the row's unit, from udi or di + serial."""
        di, serial = values.get("di", ""), values.get("serial", "")
        lot, expiry = values.get("lot", ""), values.get("expiry")
        text = values.get("udi")
        if text:
            try:
                identity = udi.parse(text)
            except udi.UdiError as exc:
                self.error(row, "udi", str(exc), code="udi")
                return None
            if identity.hibc is not None:
                found = (identity.hibc.di, identity.hibc.serial or "", identity.hibc.lot or "")
                found_expiry = identity.hibc.expiry
            else:
                found = (identity.gtin or "", identity.serial or "", identity.lot or "")
                found_expiry = identity.expiry
            if not found[0] or not found[1]:
                self.error(
                    row, "udi", _("names no single unit: a UDI with a DI and a serial is expected")
                )
                return None
            for name, given, read in (
                ("di", di, found[0]),
                ("serial", serial, found[1]),
                ("lot", lot, found[2]),
            ):
                if given and read and _norm_di(given) != _norm_di(read):
                    self.error(
                        row, name, _("differs from the UDI's %(v)s") % {"v": read}, code="mismatch"
                    )
                    return None
            if expiry and found_expiry and expiry != found_expiry:
                self.error(row, "expiry", _("differs from the UDI's %(v)s") % {"v": found_expiry})
                return None
            di, serial, lot = found[0], found[1], lot or found[2]
            expiry = expiry or found_expiry
        else:
            missing = [name for name in ("di", "serial") if not values.get(name)]
            for name in missing:
                self.error(row, name, _("required when there is no udi"), code="required")
            if missing:
                return None
        return _norm_di(di), serial, lot, expiry

    def _load(self, parsed: list[tuple[Row, dict[str, Any], Any]]) -> None:
        """Products, locations and parties of the chunk: one query per table."""
        dis = {unit[0] for _r, _v, unit in parsed} - set(self.products)
        if dis:
            found = {
                i.di: i
                for i in ProductIdentifier.objects.filter(di__in=dis).select_related("product")
            }
            for di in dis:
                identifier = found.get(di)
                if identifier is None:
                    self.products[di] = _("no product with DI %(di)s in medtrace") % {"di": di}
                elif identifier.packaging_level != PackagingLevel.UNIT:
                    self.products[di] = _(
                        "%(di)s is the %(level)s DI of %(product)s; a unit is named by its "
                        "base-unit DI"
                    ) % {
                        "di": di,
                        "level": identifier.packaging_level,
                        "product": identifier.product,
                    }
                elif identifier.product.tracking != TrackingMode.SERIAL:
                    self.products[di] = _(
                        "%(product)s is tracked by lot; only serialized units have histories"
                    ) % {"product": identifier.product}
                else:
                    self.products[di] = identifier.product
        names = {v["location"] for _r, v, _u in parsed} - set(self.locations)
        if names:
            self._load_locations(names)
        glns = {v["party"] for _r, v, _u in parsed if v.get("party")} - set(self.parties)
        if glns:
            found_parties = {p.gln: p for p in Party.objects.filter(gln__in=glns)}
            self.parties.update({gln: found_parties.get(gln) for gln in glns})

    def _load_locations(self, names: set[str]) -> None:
        glns = {n for n in names if n.isdigit() and len(n) == 13}
        sglns = {n for n in names if n.startswith("urn:epc:id:sgln:")}
        codes = names - glns - sglns
        qs = Location.objects.select_related("party").filter(
            sgln__in=sglns or [""]
        ) | Location.objects.select_related("party").filter(gln__in=glns or [""], extension="0")
        if codes:
            qs = qs | Location.objects.select_related("party").filter(code__in=codes)
        by_code: dict[str, list[Location]] = defaultdict(list)
        for loc in qs:
            self.locations[loc.sgln] = loc
            if loc.extension == "0":
                self.locations[loc.gln] = loc
            by_code[loc.code].append(loc)
        for code in codes:
            matches = by_code.get(code, [])
            if len(matches) == 1:
                self.locations[code] = matches[0]
            elif matches:
                self.locations[code] = _(
                    "location code %(code)s is used by %(n)d parties; give its GLN or SGLN"
                ) % {"code": code, "n": len(matches)}
        for name in names:
            self.locations.setdefault(name, _("no location %(v)s in medtrace") % {"v": name})

    def _entry(
        self,
        row: Row,
        values: dict[str, Any],
        di: str,
        serial: str,
        lot: str,
        expiry: date | None,
    ) -> None:
        ok = True
        unit_column = "udi" if values.get("udi") else "di"
        product = self.products[di]
        if isinstance(product, str):
            self.error(row, unit_column, product, code="product")
            ok = False
        kind = str(values["event"]).lower()
        if kind not in STEPS:
            self.error(row, "event", _("%(v)r is not an event of this import") % {"v": kind})
            ok = False
        at: datetime = values["event_time"]
        if at > self.now:
            self.error(row, "event_time", _("is in the future"), code="future")
            ok = False
        location = self.locations[values["location"]]
        if isinstance(location, str):
            self.error(row, "location", location, code="not_found")
            ok = False
        party = None
        if values.get("party"):
            party = self.parties.get(values["party"])
            if party is None:
                self.error(
                    row,
                    "party",
                    _("no party with GLN %(gln)s in medtrace") % {"gln": values["party"]},
                )
                ok = False
        if ok and isinstance(location, Location) and kind in STEPS:
            ok = self._party_rule(row, kind, location, party)
        if not ok or isinstance(product, str) or isinstance(location, str):
            return
        maker = self.makers.get(product.pk)
        if maker is None:
            maker = self.makers[product.pk] = unit_epc_maker(product)
        try:
            epc = maker(serial)
        except udi.UdiError as exc:
            self.error(row, "udi" if values.get("udi") else "serial", str(exc), code="serial")
            return
        entry = Entry(
            row.number, epc, kind, at, location, party, values.get("document", ""), lot, expiry,
            product, serial, "udi" if values.get("udi") else "serial",
        )  # fmt: skip
        self.entries.append(entry)
        self.units[epc].append(entry)

    def _party_rule(self, row: Row, kind: str, location: Location, party: Party | None) -> bool:
        if kind == "shipped" and party is None:
            self.error(row, "party", _("required for a shipped row: the consignee"))
            return False
        if kind not in ("shipped", "received") and party and party.pk != location.party_id:
            self.error(
                row,
                "party",
                _("%(loc)s belongs to %(owner)s, not to %(party)s")
                % {"loc": location.code, "owner": location.party.name, "party": party.name},
                code="mismatch",
            )
            return False
        holder = party or location.party
        if kind in ("shipped", "received") and not holder.gln:
            self.error(
                row, "party", _("%(p)s has no GLN; shipments name parties by GLN") % {"p": holder}
            )
            return False
        return True

    # Checks over the whole file ---------------------------------------------------------------

    def finish(self) -> None:
        for entries in self.units.values():
            entries.sort(key=lambda e: (e.at, RANK[e.kind], e.row))
            self._life(entries)
        self._known_units()
        if any(e.document for e in self.entries):
            try:
                own_party()
            except MedtraceError as exc:
                self.error(None, "document", exc.message, code="own_party")

    def _life(self, entries: list[Entry]) -> None:
        """One unit's rows, in time order, must make a possible life."""
        state = "new"
        first = entries[0]
        lot, expiry = first.lot, first.expiry
        seen: dict[tuple[str, datetime], int] = {}
        for e in entries:
            earlier = seen.setdefault((e.kind, e.at), e.row)
            if earlier != e.row:
                self.error(
                    e.row,
                    "event",
                    _("the same %(kind)s at the same time as row %(row)d")
                    % {"kind": e.kind, "row": earlier},
                    code="duplicate_in_file",
                    value=e.kind,
                )
                continue
            problem = _transition(state, e.kind)
            if problem:
                self.error(e.row, "event", problem, code="sequence", value=e.kind)
                return  # the rest of this unit's life follows from a wrong step
            state = _NEXT[e.kind]
            if e.lot and lot and e.lot != lot:
                self.error(
                    e.row, "lot", _("the unit's lot is %(lot)s (row %(row)d)")
                    % {"lot": lot, "row": first.row}, code="mismatch", value=e.lot,
                )  # fmt: skip
            if e.expiry and expiry and e.expiry != expiry:
                self.error(
                    e.row, "expiry", _("the unit's expiry is %(d)s (row %(row)d)")
                    % {"d": expiry, "row": first.row}, code="mismatch", value=e.expiry,
                )  # fmt: skip
        elements = first.product.udi_pi_elements or []
        if "lot" in elements and not lot:
            self.error(
                first.row, "lot", _("%(p)s carries a lot in its UDI; give the unit's lot")
                % {"p": first.product}, code="required",
            )  # fmt: skip
        if "expiry" in elements and not expiry:
            self.error(
                first.row, "expiry", _("%(p)s carries an expiry date in its UDI; give it")
                % {"p": first.product}, code="required",
            )  # fmt: skip

    def _known_units(self) -> None:
        """Units the ledger knows already: a serial is commissioned once (lifecycle.rules)."""
        epcs = list(self.units)
        size = len(epcs) if connection.vendor == "postgresql" else 5000
        for start in range(0, len(epcs), size or 1):
            for refusal in rules.refusals(rules.Step.COMMISSION, epcs[start : start + size]):
                entry = self.units[refusal.epc][0]
                self.error(
                    entry.row,
                    entry.unit_column,
                    _("%(unit)s: %(why)s; an import adds new units only")
                    % {"unit": entry.serial, "why": refusal.reasons[0]["message"]},
                    code="exists",
                    value=entry.serial,
                )

    def summary(self) -> dict[str, int]:
        return {"units": len(self.units), "events": len(self._groups()), "rows": len(self.entries)}

    # Storing ----------------------------------------------------------------------------------

    def _groups(self) -> list[list[Entry]]:
        """Rows of one step, time, place, party and document (and lot, for produced): one
        event, in time order."""
        groups: dict[tuple[Any, ...], list[Entry]] = {}
        for e in sorted(self.entries, key=lambda e: (e.at, RANK[e.kind], e.row)):
            key: tuple[Any, ...] = (
                e.at,
                RANK[e.kind],
                e.location.pk,
                e.party.pk if e.party else None,
                e.document,
            )
            if e.kind == "produced":
                key += (e.lot, e.expiry)
            groups.setdefault(key, []).append(e)
        return list(groups.values())

    def _event(self, group: list[Entry]) -> dict[str, Any]:
        first = group[0]
        step = STEPS[first.kind]
        place = first.location.sgln
        holder = first.party or first.location.party
        transactions = [
            {"type": BTT_IMPORT, "bizTransaction": f"urn:medtrace:import:{self.job.pk}"}
        ]
        if first.document:
            transactions.insert(0, ev.bt(step.document_type, first.document, gln=self.our_gln))
        sources: list[dict[str, str]] = []
        destinations: list[dict[str, str]] = []
        ilmd = None
        biz_location: str | None = place
        if first.kind == "produced":
            ilmd = {}
            if first.lot:
                ilmd["cbvmda:lotNumber"] = first.lot
            if first.expiry:
                ilmd["cbvmda:itemExpirationDate"] = first.expiry.isoformat()
        elif first.kind == "shipped":
            biz_location = None  # in transit: no longer at the origin (as shipment_dispatch)
            sources = [
                *ev.parties("source", owner=first.location.party, holder=first.location.party),
                {"type": "location", "source": place},
            ]
            destinations = ev.parties("destination", owner=holder, holder=holder)
        elif first.kind == "received":
            destinations = [
                *ev.parties("destination", owner=holder, holder=holder),
                {"type": "location", "destination": place},
            ]
        return ev.object_event(
            action=step.action,
            epcs=[e.epc for e in group],
            biz_step=step.biz_step,
            disposition=step.disposition,
            at=first.at,
            read_point=place,
            biz_location=biz_location,
            transactions=transactions,
            sources=sources,
            destinations=destinations,
            ilmd=ilmd or None,
            extra={
                "eventID": f"urn:uuid:{uuid.uuid4()}",
                "medtrace:legacyImport": {"job": self.job.pk, "rows": [e.row for e in group]},
            },
        )

    def write(self, progress: Progress) -> dict[str, int]:
        groups = self._groups()
        self.our_gln = ev.our_gln() if any(e.document for e in self.entries) else ""
        # Validation ran outside the transaction: someone may have made one of these units
        # since. Asked again inside it, the answer holds until the import commits.
        before = len(self.errors.items)
        self._known_units()
        if self.errors:
            raise Refused(self.errors.items[before:])
        captured = []
        for start in range(0, len(groups), CAPTURE_CHUNK):
            part = groups[start : start + CAPTURE_CHUNK]
            document = ev.document([self._event(g) for g in part])
            document["@context"] = [ev.CONTEXT, {"medtrace": NAMESPACE}]
            try:
                job = capture_document(data=document, user=self.user)
            except CaptureRejected as exc:
                raise Refused(
                    [
                        RowError(
                            row=part[p.index][0].row if p.index is not None else None,
                            column="event",
                            message=_("the ledger refused the event: %(m)s") % {"m": p.message},
                            code="ledger",
                        )
                        for p in exc.problems
                    ]
                ) from exc
            captured.append(str(job.pk))
            progress(sum(len(g) for g in part))
        self.job.capture_jobs = captured
        return {"units": len(self.units), "events": len(groups), "rows": len(self.entries)}


_NEXT = {
    "produced": "active",
    "shipped": "in_transit",
    "received": "active",
    "installed": "active",
    "serviced": "active",
    "scrapped": "scrapped",
}


def _transition(state: str, kind: str) -> str | None:
    """Why ``kind`` cannot follow ``state`` (None: it can)."""
    if state == "new":
        return (
            None
            if kind == "produced"
            else _("the unit's first event must be 'produced'; its history starts with %(kind)s")
            % {"kind": kind}
        )
    if kind == "produced":
        return _("the unit was already produced (commissioned) earlier in this file")
    if state == "scrapped":
        return _("the unit was scrapped earlier; nothing happens to it afterwards")
    if kind == "received":
        return None if state == "in_transit" else _("received without being shipped first")
    if state == "in_transit":
        return _("%(kind)s while in transit; record its receipt first") % {"kind": kind}
    return None


def _norm_di(value: str) -> str:
    text = value.strip().upper()
    if text.isdigit():
        try:
            return udi.normalize_gtin(text)
        except udi.UdiError:
            return text
    return text
