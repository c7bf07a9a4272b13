"""What the unit page shows (DESIGN §1 "scan any UDI and see its whole life in one page", §11).

``unit_page`` reads the unit's timeline and composition with the trace selectors (partner-scoped
there), then everything else in a constant number of statements, whatever the length of the
history: one ``unit_batch`` statement for the product, the names of places and parties, who
recorded each event, the linked documents, what is open against the unit and its documents and
certificates; then the signatures and the audit history of its records (``unit_history``).
On PostgreSQL the page's reads share one transaction without JIT and parallel workers
(``page_reads``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.ledger.models import EventBizTransaction, EventEpc
from medtrace.masterdata.models import Product
from medtrace.trace import phases, selectors
from medtrace.trace.selectors import Target

from . import unit_documents, unit_history, unit_names, unit_records, vocab
from .unit_batch import Branch, as_date, as_json, run
from .unit_names import Name, Names
from .unit_symbol import UnitUdi, unit_udi

# The timeline ---------------------------------------------------------------------------------


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
        return {
            "kind": kind,
            "text": texts[kind],
            "epc": "",
            "number": unit_documents.number_of(epc),
        }
    return {"kind": kind, "text": texts[kind], "epc": epc, "number": ""}


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
    known: dict[str, dict[str, Any]],
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
            "documents": unit_documents.documents(event["bizTransactionList"], known, user),
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

_PRODUCT_FIELDS = {
    "id": "id", "name": "name", "name_en": "name_en", "model": "model",
    "registration_no": "nmpa_registration_no", "pi": "udi_pi_elements",
    "manufacturer_id": "manufacturer_id", "manufacturer": "manufacturer__name",
    "manufacturer_en": "manufacturer__name_en",
}  # fmt: skip


def _product_branch(product_id: int | None) -> list[Branch]:
    if product_id is None:
        return []
    return [Branch("product", Product.objects.filter(pk=product_id), _PRODUCT_FIELDS)]


def _product(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    row = rows[0]
    english = unit_names.english()
    return {
        "id": row["id"],
        "name": row["name_en"] if english and row["name_en"] else row["name"],
        "model": row["model"],
        "registration_no": row["registration_no"],
        "pi_elements": as_json(row["pi"]),
        "manufacturer_id": row["manufacturer_id"],
        "manufacturer": (
            row["manufacturer_en"] if english and row["manufacturer_en"] else row["manufacturer"]
        ),
    }


def _manufactured(steps: list[dict[str, Any]], known: dict[str, dict[str, Any]]) -> date | None:
    """The production date the label carries: the work order's, else the day it was made."""
    for step in steps:
        if step["biz_step"] == "commissioning" and step["via"] is None and not step["retracted"]:
            for doc in step["documents"]:
                made = as_date((known.get(doc.number) or {}).get("date"))
                if made is not None:
                    return made
            return timezone.localtime(step["when"]).date() if step["when"] else None
    return None


def label_udi(target: Target) -> UnitUdi | None:
    """The unit's UDI as its label carries it, from the state, the product and the work order
    (the same answer as the page's header), in at most three small statements."""
    state = target.state or {}
    product = _product(run(_product_branch(state.get("product_id"))).get("product", []))
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
            numbers = [unit_documents.number_of(v) for v in values]
            known = unit_documents.found(run(unit_documents.branches(numbers)))
            dates = [as_date(row.get("date")) for row in known.values()]
            manufactured = next((d for d in dates if d), None)
            manufactured = manufactured or timezone.localtime(made[1]).date()
    if product is None and not state.get("gtin"):
        return None
    return unit_udi(
        epc=target.epc, gtin=state.get("gtin"), serial=state.get("serial"), lot=state.get("lot"),
        expiry=state.get("expiry"), manufactured=manufactured, pi_elements=pi,
    )  # fmt: skip


@contextmanager
def page_reads() -> Iterator[None]:
    """The page's reads in one transaction, on PostgreSQL without JIT and parallel workers.

    Every statement of the page is a handful of index probes; on a busy 2-core machine the
    planner's parallel plan for the timeline's hits (estimates of hundreds of rows per lot)
    spent ~30 ms starting workers to read 20 rows, and JIT compiling small statements cost more
    than running them (trace.sql.trace_reads). SET LOCAL ends with the transaction. SQLite gets
    no transaction: medtrace opens its transactions IMMEDIATE there, which would hold off every
    writer while the page reads."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('jit', 'off', true), "
                "set_config('max_parallel_workers_per_gather', '0', true)"
            )
        yield


def unit_page(*, target: Target, user: User | None) -> dict[str, Any]:
    """Everything the unit page shows about ``target`` (a serialized unit ``user`` may see)."""
    with page_reads():
        return _unit_page(target=target, user=user)


def _unit_page(*, target: Target, user: User | None) -> dict[str, Any]:
    state = target.state or {}
    partner = user is not None and user.party_id is not None
    timeline = selectors.unit_timeline(id=target.epc, user=user)
    # With history: removed parts belong to its life (the genealogy graph draws them dashed,
    # from this same read).
    backward = selectors.trace_backward(id=target.epc, user=user, include_history=True)
    events = timeline["events"]
    parts = _flatten(backward["root"], [])
    holder_id = state.get("possessing_party") or state.get("owning_party")
    party_values = {holder_id} if holder_id else set()
    for event in events:
        party_values.update(s["source"] for s in event["sourceList"])
        party_values.update(d["destination"] for d in event["destinationList"])
    places = {state.get("biz_location")} | {e["bizLocation"] or e["readPoint"] for e in events}
    numbers = {
        unit_documents.number_of(b["bizTransaction"])
        for e in events
        for b in e["bizTransactionList"]
    }
    rows = run([
        *_product_branch(state.get("product_id")),
        *unit_names.branches({p for p in places if p}, party_values),
        *([unit_names.who_branch([e["eventID"] for e in events])] if events else []),
        *([] if partner else unit_documents.branches(numbers)),
        *unit_records.branches(target=target, user=user, parts=parts),
    ])  # fmt: skip
    product = _product(rows.get("product", []))
    names = unit_names.names(
        rows, user=user, maker_id=product["manufacturer_id"] if product else None
    )
    who, jobs = unit_names.recorded_by(
        rows.get("who", []), user=user, maker=product["manufacturer"] if product else ""
    )
    known = unit_documents.found(rows)
    steps = build_steps(events, names=names, who=who, known=known, user=user)
    udi: UnitUdi | None = None
    if product is not None or state.get("gtin"):
        pi = product["pi_elements"] if product else None
        udi = unit_udi(
            epc=target.epc, gtin=state.get("gtin"), serial=state.get("serial"),
            lot=state.get("lot"), expiry=state.get("expiry"),
            manufactured=_manufactured(steps, known) if pi and "manufactured" in pi else None,
            pi_elements=pi,
        )  # fmt: skip
    # Its status: the last step that moved or changed it, its own or its case's while it was
    # inside (as UnitState has it), not a part's or a document's.
    last = next(
        (
            s
            for s in reversed(steps)
            if not s["retracted"] and (s["via"] is None or s["via"]["kind"] == "container")
        ),
        None,
    )
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
    page: dict[str, Any] = {
        "unit": header,
        "phases": by_phase(steps),
        "event_count": len(steps),
        "corrections": sum(1 for s in steps if s["retracted"]),
        "backward": backward,
        "parts": parts,
        "recalls": unit_records.recalls(rows["recalls"], user=user),
        "holds": unit_records.holds(
            rows.get("holds", []), epc=target.epc, container=state.get("container")
        ),
        "alerts": unit_records.alerts(rows.get("alerts", [])),
        "documents": unit_records.documents(
            rows, target=target, user=user, parts=parts, root=backward["root"]
        ),
        "signatures": [],
        "audit": [],
        "audit_more": False,
        "show_records": not partner,
    }
    if not partner:
        sets = unit_history.record_sets(
            epc=target.epc, gtin=state.get("gtin"), lot=state.get("lot"), work_orders=numbers
        )
        page["signatures"] = unit_history.signatures(sets, user)
        page["audit"], page["audit_more"] = unit_history.audit_history(sets, jobs, user)
    return page


def _flatten(node: dict[str, Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for child in node.get("children", []):
        out.append(child)
        _flatten(child, out)
    return out
