"""What the unit page shows (DESIGN §1 "scan any UDI and see its whole life in one page", §11).

``unit_page`` reads the unit's timeline and composition with the trace selectors (partner-scoped
there), then puts names on everything in a constant number of set-based statements, whatever the
length of the history: one for the product, one for the places, one for the parties, one for who
recorded each event, one for all the linked documents, and the few of ``unit_records`` (alerts,
holds, recalls, documents and certificates, signatures, audit history).

What a partner login reads is narrowed further than the trace already does: the names of its own
party, its own places and the maker's; another party's name or place reads "another party"
(DESIGN §9: nothing of any other party); no internal document links; the people who recorded an
event only when they are its own colleagues.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.ledger.identifiers import gln_of
from medtrace.ledger.models import Event
from medtrace.masterdata.models import Location, Party, PartyRole, Product
from medtrace.trace import phases, selectors
from medtrace.trace.selectors import Target

from . import unit_documents, unit_records, vocab
from .unit_symbol import UnitUdi, unit_udi

_SGLN = "urn:epc:id:sgln:"


@dataclass
class Name:
    text: str
    role: str = ""  # the party's role, in words
    hidden: bool = False  # another party's, not shown to this partner


@dataclass
class Names:
    """Places and parties of one page, resolved in two statements."""

    user: User | None
    maker_id: int | None
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)  # by GLN

    @property
    def partner_party(self) -> int | None:
        return self.user.party_id if self.user is not None else None

    def _visible(self, party_id: int | None) -> bool:
        own = self.partner_party
        return own is None or party_id in (own, self.maker_id)

    @staticmethod
    def _party_name(row: dict[str, Any], prefix: str = "") -> str:
        english = row.get(f"{prefix}name_en")
        if english and _language_is_english():
            return str(english)
        return str(row.get(f"{prefix}name") or "")

    def place(self, value: str | None) -> Name | None:
        if not value:
            return None
        row = self.locations.get(value)
        if row is None:
            return Name(value) if self.partner_party is None else _another_place()
        own = self.partner_party
        if own is None or row["party_id"] == own:
            return Name(row["name"])
        if row["party_id"] == self.maker_id:
            return Name(self._party_name(row, "party__"))
        return _another_place()

    def party(self, value: str | None) -> Name | None:
        if not value:
            return None
        row: dict[str, Any] | None = None
        location = self.locations.get(value)
        if location is not None and location["party_id"] is not None:
            row = {
                "pk": location["party_id"], "name": location["party__name"],
                "name_en": location["party__name_en"], "role": location["party__role"],
            }  # fmt: skip
        else:
            row = self.parties.get(gln_of(value) or "")
        if row is None:
            return Name(value) if self.partner_party is None else _another_party()
        if not self._visible(row["pk"]):
            return _another_party()
        return Name(self._party_name(row), _role_label(row["role"]))


def _language_is_english() -> bool:
    from django.utils import translation

    return (translation.get_language() or "").startswith("en")


def _role_label(role: str | None) -> str:
    try:
        return str(PartyRole(role).label) if role else ""
    except ValueError:
        return role or ""


def _another_party() -> Name:
    return Name(pgettext("unit page", "another party"), hidden=True)


def _another_place() -> Name:
    return Name(pgettext("unit page", "another party's site"), hidden=True)


def resolve_names(
    places: Iterable[str], parties: Iterable[str], *, user: User | None, maker_id: int | None
) -> Names:
    """The names of ``places`` (SGLNs) and ``parties`` (PGLN URNs, GLNs, or a location's SGLN
    standing for its party): two statements."""
    wanted_places = {p for p in places if p}
    wanted_parties = {p for p in parties if p}
    sglns = wanted_places | {p for p in wanted_parties if p.startswith(_SGLN)}
    names = Names(user=user, maker_id=maker_id)
    if sglns:
        names.locations = {
            row["sgln"]: dict(row)
            for row in Location.objects.filter(sgln__in=sglns).values(
                "sgln", "name", "party_id", "party__name", "party__name_en", "party__role"
            )
        }
    glns = {g for p in wanted_parties if p not in names.locations and (g := gln_of(p))}
    if glns:
        names.parties = {
            row["gln"]: dict(row)
            for row in Party.objects.filter(gln__in=glns).values(
                "pk", "gln", "name", "name_en", "role"
            )
        }
    return names


# Who recorded each event -----------------------------------------------------------------------


def _person(first: str | None, last: str | None, printed: str | None, username: str | None) -> str:
    return printed or " ".join(p for p in (first, last) if p) or username or ""


def recorded_by(
    event_ids: list[str], *, user: User | None, maker: str
) -> tuple[dict[str, str], set[str]]:
    """eventID -> the printed name of the person whose capture stored it, and the capture jobs
    that stored them (their audit entries are part of the unit's history): one statement."""
    if not event_ids:
        return {}, set()
    rows = Event.objects.filter(event_id__in=event_ids).values_list(
        "event_id",
        "capture_job__user__printed_name",
        "capture_job__user__first_name",
        "capture_job__user__last_name",
        "capture_job__user__username",
        "capture_job__user__party_id",
        "capture_job__user_id",
        "capture_job_id",
    )
    own = user.party_id if user is not None else None
    out: dict[str, str] = {}
    jobs: set[str] = set()
    for event_id, printed, first, last, username, party_id, user_id, job_id in rows:
        if job_id is not None:
            jobs.add(str(job_id))
        if user_id is None:
            continue
        if own is None or party_id == own:
            out[event_id] = _person(first, last, printed, username)
        elif party_id is None:
            out[event_id] = maker  # the maker's staff: the company, not the person
    return out, jobs


# The timeline ----------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _via(via: str) -> dict[str, str] | None:
    """Why an event of another object is in this unit's life (None: the unit's own)."""
    kind, _sep, epc = via.partition(":")
    texts = {
        "container": pgettext("timeline path", "while packed in"),
        "component": pgettext("timeline path", "of the fitted part"),
        "origin": pgettext("timeline path", "of the material it was made from"),
        "bizTransaction": pgettext("timeline path", "same business document"),
    }
    if kind not in texts:
        return None
    if kind == "bizTransaction":
        return {"text": texts[kind], "epc": "", "number": unit_documents.number_of(epc)}
    return {"text": texts[kind], "epc": epc, "number": ""}


def _counterparts(event: dict[str, Any], names: Names) -> list[Name]:
    """Where a shipment went, or where a receipt came from (parties, one per name)."""
    step = phases.term(event["bizStep"])
    if step in ("shipping", "departing"):
        values = [d["destination"] for d in event["destinationList"]]
    elif step in phases.RECEIVING_STEPS:
        values = [s["source"] for s in event["sourceList"]]
    else:
        return []
    out: list[Name] = []
    for value in values:
        name = names.party(value)
        if name is not None and name.text not in {n.text for n in out}:
            out.append(name)
    return out


def build_steps(
    events: list[dict[str, Any]],
    *,
    names: Names,
    who: dict[str, str],
    found: dict[str, int],
    user: User | None,
) -> list[dict[str, Any]]:
    anchors = {e["eventID"]: f"ev-{n}" for n, e in enumerate(events, start=1)}
    steps: list[dict[str, Any]] = []
    for event in events:
        declaration = event["errorDeclaration"]
        correction = None
        if declaration:
            correction = {
                "reason": vocab.error_reason_label(declaration.get("reason")),
                "declared_at": parse_time(declaration.get("declarationTime")),
                "by": [
                    {"anchor": anchors.get(i, ""), "event_id": i}
                    for i in declaration.get("correctiveEventIDs") or []
                ],
            }
        where = names.place(event["bizLocation"] or event["readPoint"])
        steps.append({
            "anchor": anchors[event["eventID"]],
            "event_id": event["eventID"],
            "phase": event["phase"],
            "what": vocab.event_label(event["bizStep"], event["eventType"], event["action"]),
            "biz_step": phases.term(event["bizStep"]) or "",
            "event_type": event["eventType"],
            "action": event["action"] or "",
            "disposition": vocab.disposition_label(event["disposition"]),
            "when": parse_time(event["eventTime"]),
            "where": where,
            "who": who.get(event["eventID"], ""),
            "counterparts": _counterparts(event, names),
            "documents": unit_documents.documents(event["bizTransactionList"], found, user),
            "via": _via(event["via"]),
            "retracted": event["retracted"],
            "correction": correction,
            "corrects": [
                {"anchor": anchors.get(i, ""), "event_id": i} for i in event["corrects"]
            ],
            "conditions": event["conditions"],
            "excursions": event["excursions"],
        })  # fmt: skip
    return steps


def by_phase(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The eight lifecycle phases in order, each with its steps (maybe none)."""
    groups: dict[str, list[dict[str, Any]]] = {p: [] for p in phases.PHASES}
    for step in steps:
        groups.setdefault(step["phase"] or "other", []).append(step)
    return [
        {"key": key, "label": vocab.phase_label(key) or _("Other"), "steps": items}
        for key, items in groups.items()
    ]


# The header ------------------------------------------------------------------------------------


def _product(product_id: int | None, user: User | None) -> dict[str, Any] | None:
    if product_id is None:
        return None
    row = (
        Product.objects.filter(pk=product_id)
        .values(
            "pk", "name", "name_en", "model", "nmpa_registration_no", "udi_pi_elements",
            "manufacturer_id", "manufacturer__name", "manufacturer__name_en",
        )
        .first()
    )  # fmt: skip
    if row is None:
        return None
    english = _language_is_english()
    return {
        "id": row["pk"],
        "name": (row["name_en"] if english and row["name_en"] else row["name"]),
        "model": row["model"],
        "registration_no": row["nmpa_registration_no"],
        "pi_elements": row["udi_pi_elements"],
        "manufacturer_id": row["manufacturer_id"],
        "manufacturer": (
            row["manufacturer__name_en"]
            if english and row["manufacturer__name_en"]
            else row["manufacturer__name"]
        ),
    }


def _manufactured(steps: list[dict[str, Any]], work_orders: dict[str, date | None]) -> date | None:
    """The production date the label carries: the work order's, else the day it was made."""
    for step in steps:
        if step["biz_step"] == "commissioning" and step["via"] is None and not step["retracted"]:
            for doc in step["documents"]:
                if work_orders.get(doc.number):
                    return work_orders[doc.number]
            return timezone.localtime(step["when"]).date() if step["when"] else None
    return None


def _work_order_dates(numbers: Iterable[str]) -> dict[str, date | None]:
    from medtrace.production.models import WorkOrder

    wanted = [n for n in numbers if unit_documents.kind_of(n) == "WO"]
    if not wanted:
        return {}
    return dict(
        WorkOrder.objects.filter(number__in=wanted).values_list("number", "production_date")
    )


def label_udi(target: Target) -> UnitUdi | None:
    """The unit's UDI as its label carries it, from the state, the product and the work order
    (the same answer as the page's header, in at most four small statements)."""
    from medtrace.ledger.models import EventBizTransaction, EventEpc

    state = target.state or {}
    product = _product(state.get("product_id"), None)
    pi = product["pi_elements"] if product else None
    manufactured = None
    if pi and "manufactured" in pi:
        made = (
            EventEpc.objects.filter(
                epc=target.epc,
                role__in=("epc", "output"),
                event__biz_step="commissioning",
                event__retraction__isnull=True,
            )
            .order_by("event_time", "event_id")
            .values_list("event_id", "event_time")
            .first()
        )
        if made is not None:
            values = EventBizTransaction.objects.filter(event_id=made[0]).values_list(
                "value", flat=True
            )
            dates = _work_order_dates(unit_documents.number_of(v) for v in values)
            manufactured = next((d for d in dates.values() if d), None)
            manufactured = manufactured or timezone.localtime(made[1]).date()
    if product is None and not state.get("gtin"):
        return None
    return unit_udi(
        epc=target.epc, gtin=state.get("gtin"), serial=state.get("serial"), lot=state.get("lot"),
        expiry=state.get("expiry"), manufactured=manufactured, pi_elements=pi,
    )  # fmt: skip


def unit_page(*, target: Target, user: User | None, include_history: bool) -> dict[str, Any]:
    """Everything the unit page shows about ``target`` (a serialized unit ``user`` may see)."""
    state = target.state or {}
    timeline = selectors.unit_timeline(id=target.epc, user=user)
    backward = selectors.trace_backward(id=target.epc, user=user, include_history=include_history)
    events = timeline["events"]
    product = _product(state.get("product_id"), user)
    holder_id = state.get("possessing_party") or state.get("owning_party")
    party_values = {holder_id} if holder_id else set()
    for event in events:
        party_values.update(s["source"] for s in event["sourceList"])
        party_values.update(d["destination"] for d in event["destinationList"])
    places = {state.get("biz_location")} | {e["bizLocation"] or e["readPoint"] for e in events}
    names = resolve_names(
        {p for p in places if p},
        party_values,
        user=user,
        maker_id=product["manufacturer_id"] if product else None,
    )
    maker = product["manufacturer"] if product else ""
    who, jobs = recorded_by([e["eventID"] for e in events], user=user, maker=maker)
    numbers = {
        unit_documents.number_of(b["bizTransaction"])
        for e in events
        for b in e["bizTransactionList"]
    }
    found = unit_documents.lookup(numbers) if user is None or user.party_id is None else {}
    steps = build_steps(events, names=names, who=who, found=found, user=user)
    udi: UnitUdi | None = None
    if product is not None or state.get("gtin"):
        pi = product["pi_elements"] if product else None
        manufactured = None
        if pi and "manufactured" in pi:
            manufactured = _manufactured(steps, _work_order_dates(numbers))
        udi = unit_udi(
            epc=target.epc, gtin=state.get("gtin"), serial=state.get("serial"),
            lot=state.get("lot"), expiry=state.get("expiry"), manufactured=manufactured,
            pi_elements=pi,
        )  # fmt: skip
    parts = _flatten(backward["root"], [])
    records = unit_records.unit_records(
        target=target, user=user, parts=parts, root=backward["root"], work_orders=numbers,
        capture_jobs=jobs,
    )  # fmt: skip
    last = next((s for s in reversed(steps) if s["via"] is None and not s["retracted"]), None)
    header = {
        "epc": target.epc,
        "gtin": state.get("gtin"),
        "serial": state.get("serial"),
        "lot": state.get("lot"),
        "expiry": state.get("expiry"),
        "expired": bool(state.get("expiry") and state["expiry"] < timezone.localdate()),
        "udi": udi,
        "product": product,
        "disposition": vocab.disposition_label(state.get("disposition")),
        "disposition_term": state.get("disposition") or "",
        "last_step": last,
        "holder": names.party(holder_id),
        "location": names.place(state.get("biz_location")),
        "contained_in": state.get("container"),
        "installed_in": state.get("installed_in"),
    }
    return {
        "unit": header,
        "phases": by_phase(steps),
        "event_count": len(steps),
        "corrections": sum(1 for s in steps if s["retracted"]),
        "backward": backward,
        "parts": parts,
        **records,
    }


def _flatten(node: dict[str, Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for child in node.get("children", []):
        out.append(child)
        _flatten(child, out)
    return out
