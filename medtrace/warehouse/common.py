"""What the warehouse services share: permissions, scans, our storage locations, row locks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lib import udi
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Location, LocationKind

from .models import Container

PERM_MOVE = "warehouse.add_stockmove"
PERM_PACK = "warehouse.add_container"
PERM_UNPACK = "warehouse.change_container"
PERM_PICK_LIST = "warehouse.add_picklist"
PERM_PICK_LIST_END = "warehouse.change_picklist"
PERM_PICK = "warehouse.add_pick"
PERM_COUNT = "warehouse.add_stockcount"
PERM_RECONCILE = "warehouse.change_stockcount"

STORAGE_KINDS = (LocationKind.WAREHOUSE, LocationKind.BIN)
_DIGITS18 = re.compile(r"\d{18}")


def require(user: User | None, perm: str, what: str) -> None:
    """People need the permission (partners never have it); the CLI and demo act as the
    system (``user=None``)."""
    if user is None:
        return
    if user.party_id is not None or not user.has_perm(perm):
        raise PermissionDenied(
            _("You may not %(what)s (needs %(perm)r)") % {"what": what, "perm": perm},
            details={"required": perm},
        )


# Scans -----------------------------------------------------------------------------------------


@dataclass
class Scanned:
    """One scanned unit or container: what was scanned, its EPC and its ledger state."""

    text: str
    epc: str
    state: UnitState | None
    container: Container | None = None

    @property
    def is_container(self) -> bool:
        return self.epc.startswith("urn:epc:id:sscc:")

    @property
    def label(self) -> str:
        return label_of(self.epc, self.state)


def sscc_digits(epc: str) -> str | None:
    """The 18 digits of an SSCC URN (``urn:epc:id:sscc:CP.ESR`` -> E CP SR C)."""
    if not epc.startswith("urn:epc:id:sscc:"):
        return None
    company, _dot, rest = epc[len("urn:epc:id:sscc:") :].partition(".")
    body = rest[:1] + company + rest[1:]
    if len(body) != 17 or not body.isdigit():
        return None
    return body + udi.gs1_check_digit(body)


def label_of(epc: str, state: UnitState | None = None) -> str:
    """How a person names the object: the serial of a unit, "SSCC <18 digits>" of a container."""
    if state is not None and state.serial:
        return state.serial
    digits = sscc_digits(epc)
    if digits:
        return f"SSCC {digits}"
    return epc


def _sscc_of_text(text: str) -> str | None:
    if _DIGITS18.fullmatch(text):
        # A bare number with a wrong check digit may still be a unit's numeric serial.
        return text if udi.is_valid_gs1_check_digit(text) else None
    try:
        identity = udi.parse(text)
    except udi.UdiError:
        return None
    return identity.sscc if identity.sscc and not identity.gtin else None


def resolve_scans(
    scans: Iterable[str], *, field: str, allow_empty_containers: bool = False
) -> list[Scanned]:
    """What the scans name (any UDI form, DESIGN §5), each once, in scan order.

    Units and containers only: a lot or a location is refused. An EPC URN is taken as written
    and checked against the ledger with one query for all of them; other forms go through
    ``trace.selectors.resolve_target``. Our own SSCCs are also known by the container register,
    so an empty case just made can be named (``allow_empty_containers``).
    """
    from medtrace.trace.kinds import epc_kind
    from medtrace.trace.selectors import resolve_target

    found: list[tuple[int, str, str]] = []
    for index, raw in enumerate(scans):
        text = (raw or "").strip()
        if not text:
            continue
        where = f"{field}[{index}]"
        try:
            if text.startswith("urn:"):
                epc = udi.parse(text).epc or text
            elif (digits := _sscc_of_text(text)) is not None:
                epc = _sscc_epc(digits, text)
            else:
                epc = resolve_target(text, user=None, allow_class=True).epc
        except udi.UdiError as exc:
            raise ValidationFailed(f"{where}: {exc}", field=field) from exc
        except MedtraceError as exc:
            raise ValidationFailed(f"{where}: {exc.message}", field=field) from exc
        kind = epc_kind(epc)
        if kind not in ("serial", "container"):
            raise ValidationFailed(
                _("%(where)s: %(text)r names a %(kind)s; scan units or cases and pallets (SSCC)")
                % {"where": where, "text": text, "kind": kind},
                field=field,
            )
        found.append((index, text, epc))
    epcs = list(dict.fromkeys(epc for _i, _t, epc in found))
    states = {s.epc: s for s in UnitState.objects.filter(epc__in=epcs)}
    registered = {c.epc: c for c in Container.objects.filter(epc__in=epcs)}
    out: dict[str, Scanned] = {}
    for index, text, epc in found:
        if epc in out:
            continue
        state = states.get(epc)
        if state is None and not (allow_empty_containers and epc in registered):
            what = (
                _("the container is empty: nothing was ever packed in it")
                if epc in registered
                else _("the ledger has no record of it")
            )
            named = text if text == epc else f"{text} ({epc})"
            raise ValidationFailed(
                f"{field}[{index}]: {named}: {what}",
                field=field,
                details={"epc": epc},
            )
        out[epc] = Scanned(text, epc, state, registered.get(epc))
    return list(out.values())


def _sscc_epc(digits: str, text: str) -> str:
    """The URN of an SSCC: ours from the register, else whatever the ledger knows it as."""
    registered = Container.objects.filter(sscc=digits).values_list("epc", flat=True).first()
    if registered:
        return registered
    prefix = own_party().gs1_company_prefix or ""
    if prefix and digits[1:].startswith(prefix):
        return udi.sscc_urn(digits, len(prefix))
    from medtrace.trace.selectors import resolve_target

    return resolve_target(text if not _DIGITS18.fullmatch(text) else f"(00){text}", user=None).epc


def require_scans(scanned: Sequence[Scanned], *, field: str) -> None:
    if not scanned:
        raise ValidationFailed(
            _("%(field)s: scan at least one unit or case") % {"field": field}, field=field
        )


def lock_states(epcs: Iterable[str]) -> dict[str, UnitState]:
    """Lock the ledger state rows of ``epcs`` (in key order, so two stations cannot deadlock)
    and return them fresh: a second station scanning the same unit waits here, then sees what
    the first one did."""
    wanted = sorted(set(epcs))
    qs = UnitState.objects.filter(epc__in=wanted).order_by("epc")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update()
    return {s.epc: s for s in qs}


def refuse(message: str, *, field: str, epc: str, code: str, label: str) -> SequenceViolation:
    return SequenceViolation(
        message,
        field=field,
        details=[{"epc": epc, "serial": label, "reasons": [{"code": code, "message": message}]}],
    )


# Locations ---------------------------------------------------------------------------------


def storage_location(value: Location | int | str | None, *, field: str = "location") -> Location:
    """One of our own active warehouse or bin locations, named by id, code, SGLN or GLN."""
    if value is None or value == "":
        raise ValidationFailed(
            _("%(field)s: choose a warehouse or bin location") % {"field": field}, field=field
        )
    location = value if isinstance(value, Location) else find_location(value, field=field)
    ours = own_party()
    if location.party_id != ours.pk:
        raise ValidationFailed(
            _("%(field)s: %(loc)s belongs to %(party)s; choose one of our own locations")
            % {"field": field, "loc": location, "party": location.party.name},
            field=field,
        )
    if location.kind not in STORAGE_KINDS:
        raise ValidationFailed(
            _("%(field)s: %(loc)s is a %(kind)s; goods are stored in a warehouse or a bin")
            % {"field": field, "loc": location, "kind": location.get_kind_display()},
            field=field,
        )
    if not location.active:
        raise ValidationFailed(
            _("%(field)s: %(loc)s is inactive") % {"field": field, "loc": location}, field=field
        )
    return location


def find_location(value: int | str, *, field: str = "location") -> Location:
    text = str(value).strip()
    qs = Location.objects.select_related("party")
    location: Location | None = None
    if text.isdigit() and len(text) < 13:
        location = qs.filter(pk=int(text)).first()
    elif text.startswith("urn:epc:id:sgln:"):
        location = qs.filter(sgln=text).first()
    elif len(text) == 13 and text.isdigit():
        location = qs.filter(gln=text, extension="0").first()
    if location is None and not text.startswith("urn:"):
        location = qs.filter(party=own_party(), code=text).first()
    if location is None:
        raise ValidationFailed(
            _("%(field)s: no location %(text)r; give its id, code, GLN or SGLN")
            % {"field": field, "text": text},
            field=field,
        )
    return location


def location_sglns(location: Location) -> list[str]:
    """The SGLNs of ``location`` and every location inside it (a warehouse and its bins)."""
    rows = Location.objects.filter(party_id=location.party_id).values_list(
        "pk", "parent_id", "sgln"
    )
    below: dict[int | None, list[tuple[int, str]]] = {}
    for pk, parent, sgln in rows:
        below.setdefault(parent, []).append((pk, sgln))
    out = [location.sgln]
    stack = [location.pk]
    seen = {location.pk}
    while stack:
        for pk, sgln in below.get(stack.pop(), []):
            if pk not in seen:
                seen.add(pk)
                out.append(sgln)
                stack.append(pk)
    return out


def places() -> dict[str, Location]:
    """Every location by SGLN (a few hundred rows at most), to name where the ledger has things."""
    return {loc.sgln: loc for loc in Location.objects.select_related("party")}


def where_text(state: UnitState | None, by_sgln: dict[str, Location]) -> str:
    """Where the ledger has an object, for people: the location, else the holder."""
    if state is None:
        return _("not in the ledger")
    if state.disposition == "in_transit":
        return _("in transit")
    if state.biz_location:
        loc = by_sgln.get(state.biz_location)
        if loc is not None:
            return f"{loc.code} {loc.name}"
        return state.biz_location
    if state.possessing_party:
        loc = by_sgln.get(state.possessing_party)
        return f"{loc.code} {loc.name}" if loc is not None else state.possessing_party
    return _("no location recorded")


def untyped_bt(number: str) -> dict[str, str]:
    """A bizTransaction naming one of our warehouse documents (CBV has no type for a stock move,
    a pick list or a count, and EPCIS makes the type optional)."""
    from medtrace.lifecycle import events as ev

    return {"bizTransaction": ev.bt("po", number)["bizTransaction"]}


def check_step(step: rules.Step, epcs: Sequence[str], *, field: str) -> None:
    """``rules.check`` on the units, and on the containers the holds and ledger states that
    apply to a container itself (a container is never released or expiring by itself)."""
    units = [e for e in epcs if not e.startswith("urn:epc:id:sscc:")]
    containers = [e for e in epcs if e.startswith("urn:epc:id:sscc:")]
    rules.check(step, units, field=field)
    if not containers:
        return
    own = {"held", "quarantined", "recalled", "in_transit", "scrapped", "not_ours"}
    refused = []
    for refusal in rules.refusals(step, containers):
        reasons = [r for r in refusal.reasons if r["code"] in own]
        if reasons:
            refused.append((refusal, reasons))
    if refused:
        first, reasons = refused[0]
        label = label_of(first.epc)
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise SequenceViolation(
            f"Cannot {rules.STEP_VERBS[step]} {label}: it {reasons[0]['message']}{more}",
            field=field,
            details=[{"epc": r.epc, "serial": label_of(r.epc), "reasons": rs} for r, rs in refused],
        )
