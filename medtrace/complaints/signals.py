"""Complaint signals (issue 6 item 3): customer feedback -> the affected lot, its supplier and
every unit made with it, automatically.

When ``threshold`` complaints within ``window_days`` (a ``SignalRule``) name one lot, or units
made with one supplier component lot, QA gets an alert with the evidence: the complaint numbers
and units, the lot, the window, for a component lot its supplier (name and GLN), and the number
of units made with the lot (forward trace) and who holds them. ``ComplaintSignal`` keeps the
open signal per lot: a further complaint joins it (its evidence grows) instead of raising a
second alert. A signal stays open until its alert is resolved or dismissed; after that the next
complaint that reaches the threshold opens a new one.

The alert is the alert rule ``complaint_cluster``'s (``alerts.rules.fire``, dedupe key
``<dimension>:<lot>``): the rule's enabled switch, recipients, severity (critical anyway when a
complaint reports an injury or death) and e-mail apply, and its ``params["dimensions"]`` choose
which signal rules count. The threshold and window stay per dimension in ``SignalRule``.

The evaluation runs inside the intake transaction and locks the active rules first, so two
complaints taken at the same moment are counted one after the other (each sees the other once
it commits) and a pair arriving together cannot both stay under the threshold.

Counting is set-based: one query per rule over the complaints' lot column and the stored
component lots of complained units (``ComplaintComponentLot``), whatever the number of keys.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from medtrace.alerts import rules as alert_rules
from medtrace.alerts.models import Alert, AlertRuleKind, AlertStatus
from medtrace.audit import services as audit
from medtrace.errors import MedtraceError
from medtrace.lib import udi
from medtrace.masterdata.models import Material, MaterialSupplier, Product
from medtrace.procurement.models import MaterialLot

from .device import identity_facts
from .models import (
    Complaint,
    ComplaintComponentLot,
    ComplaintSignal,
    SignalDimension,
    SignalRule,
    SignalStatus,
)

# How many units, holders and containers an alert's evidence lists (the counts are complete).
MAX_LISTED = 50
_CLOSED_ALERT = (AlertStatus.RESOLVED, AlertStatus.DISMISSED)
ALERT_KIND = AlertRuleKind.COMPLAINT_CLUSTER

Member = tuple[int, str, str, str, datetime, bool]  # pk, number, unit, serial, received, harm


def _keys(complaint: Complaint) -> dict[str, list[str]]:
    return {
        SignalDimension.LOT: [complaint.lot_class] if complaint.lot_class else [],
        SignalDimension.COMPONENT_LOT: sorted(
            complaint.components.values_list("epc_class", flat=True)
        ),
    }


def _members(
    dimension: str, keys: list[str], start: datetime, end: datetime
) -> dict[str, list[Member]]:
    """The complaints received in [start, end] per key: one query."""
    found: dict[str, list[Member]] = defaultdict(list)
    rows: list[tuple[Any, ...]]
    if dimension == SignalDimension.LOT:
        rows = list(
            Complaint.objects.filter(
                lot_class__in=keys, received_at__gte=start, received_at__lte=end
            )
            .order_by("pk")
            .values_list("lot_class", "pk", "number", "unit_epc", "serial", "received_at", "injury")
        )
    else:
        rows = list(
            ComplaintComponentLot.objects.filter(
                epc_class__in=keys,
                complaint__received_at__gte=start,
                complaint__received_at__lte=end,
            )
            .order_by("complaint_id")
            .values_list(
                "epc_class",
                "complaint_id",
                "complaint__number",
                "complaint__unit_epc",
                "complaint__serial",
                "complaint__received_at",
                "complaint__injury",
            )
        )
    for key, pk, number, unit, serial, received, harm in rows:
        found[key].append((pk, number, unit, serial, received, harm))
    return found


def signals_evaluate(*, complaint: Complaint) -> list[ComplaintSignal]:
    """Apply the active rules to the lot and component lots of ``complaint`` (in the caller's
    transaction); return the signals it opened or joined."""
    config = alert_rules.rule(ALERT_KIND)
    if not config.enabled:
        return []
    dimensions = config.params.get("dimensions") or list(SignalDimension.values)
    rules = list(
        SignalRule.objects.select_for_update()
        .filter(active=True, dimension__in=dimensions)
        .order_by("pk")
    )
    keys = _keys(complaint)
    out: list[ComplaintSignal] = []
    done: set[tuple[str, str]] = set()
    for rule in rules:
        wanted = keys.get(rule.dimension) or []
        if not wanted:
            continue
        end = complaint.received_at
        start = end - timedelta(days=rule.window_days)
        for key, members in sorted(_members(rule.dimension, wanted, start, end).items()):
            if (rule.dimension, key) in done or len(members) < rule.threshold:
                continue
            done.add((rule.dimension, key))
            out.append(_raise_or_join(rule=rule, key=key, members=members, start=start, end=end))
    return out


def _open_signal(dimension: str, key: str) -> ComplaintSignal | None:
    signal = (
        # No select_related: PostgreSQL cannot lock the nullable side of an outer join.
        ComplaintSignal.objects.select_for_update()
        .filter(dimension=dimension, key=key, status=SignalStatus.OPEN)
        .first()
    )
    if signal is None:
        return None
    if signal.alert is not None and signal.alert.status in _CLOSED_ALERT:
        # QA resolved or dismissed it: the signal is over; a new one may start.
        before = audit.snapshot(signal)
        signal.status = SignalStatus.CLOSED
        signal.closed_at = timezone.now()
        signal.save(update_fields=["status", "closed_at"])
        audit.record_update(
            signal, before, reason=f"its alert was {signal.alert.status}", user=None
        )
        return None
    return signal


def _raise_or_join(
    *, rule: SignalRule, key: str, members: list[Member], start: datetime, end: datetime
) -> ComplaintSignal:
    now = timezone.now()
    pks = [m[0] for m in members]
    signal = _open_signal(rule.dimension, key)
    if signal is not None:
        before = audit.snapshot(signal)
        signal.complaints.add(*pks)
        every = list(
            signal.complaints.order_by("received_at", "pk").values_list(
                "number", "unit_epc", "serial"
            )
        )
        signal.evidence = {
            **signal.evidence,
            "complaints": [n for n, _u, _s in every],
            "units": sorted({u for _n, u, _s in every if u})[:MAX_LISTED],
            "serials": sorted({s for _n, _u, s in every if s})[:MAX_LISTED],
            "count": len(every),
            "last_window": {"from": start.isoformat(), "to": end.isoformat()},
        }
        signal.last_seen = now
        signal.save(update_fields=["evidence", "last_seen"])
        audit.record_update(signal, before, reason="a further complaint", user=None)
        return signal
    evidence = signal_evidence(rule=rule, key=key, members=members, start=start, end=end)
    harm = any(m[5] for m in members)
    lot_name = evidence.get("lot_number") or key
    what = (
        f"lot {lot_name}"
        if rule.dimension == SignalDimension.LOT
        else f"units made with component lot {lot_name}"
        + (f" of {evidence['supplier']['name']}" if evidence.get("supplier") else "")
    )
    numbers = ", ".join(m[1] for m in members[:10]) + (" …" if len(members) > 10 else "")
    dedupe_key = f"{rule.dimension}:{key}"
    alert = alert_rules.fire(
        ALERT_KIND,
        dedupe_key=dedupe_key,
        severity="critical" if harm else None,
        title=f"Complaint signal: {len(members)} complaints against {what} within "
        f"{rule.window_days} days",
        message=(
            f"{len(members)} complaints ({numbers}) were received between "
            f"{start:%Y-%m-%d} and {end:%Y-%m-%d} against {what} "
            f"(rule: {rule.threshold} within {rule.window_days} days). "
            f"{evidence['units_made']} units were made with the lot; the evidence lists who "
            "holds them. Review the complaints and decide on a CAPA or a recall."
        ),
        evidence=evidence,
        object_type="lot" if rule.dimension == SignalDimension.LOT else "material_lot",
        object_id=key[:64],
    )
    if alert is None:
        # A live alert for this lot already exists (its signal was closed meanwhile): the new
        # signal joins that alert rather than raising a second one.
        alert = Alert.objects.filter(
            kind=ALERT_KIND, dedupe_key=dedupe_key, status__in=alert_rules.LIVE
        ).first()
    with transaction.atomic():
        signal = ComplaintSignal.objects.create(
            dimension=rule.dimension,
            key=key,
            rule=rule,
            alert=alert,
            evidence=evidence,
            first_seen=now,
            last_seen=now,
        )
        signal.complaints.set(pks)
    audit.record_create(signal, user=None)
    return signal


def _supplier(key: str, gtin: str) -> tuple[dict[str, Any] | None, str]:
    """The supplier (name, GLN) and material name of a component lot: the receiving record
    (procurement), else the material's one approved source."""
    lot = MaterialLot.objects.select_related("supplier", "material").filter(epc=key).first()
    if lot is None:
        # Serialized parts received with this supplier lot (the class is nobody's own EPC).
        lot = _serial_parts(key).select_related("supplier", "material").first()
    if lot is not None:
        s = lot.supplier
        return {"id": s.pk, "name": s.name, "gln": s.gln or None}, lot.material.name
    material = Material.objects.filter(gtin=gtin).first() if gtin else None
    if material is None:
        return None, ""
    sources = list(
        MaterialSupplier.objects.select_related("supplier").filter(material=material, approved=True)
    )
    if len(sources) == 1:
        s = sources[0].supplier
        return {"id": s.pk, "name": s.name, "gln": s.gln or None}, material.name
    return None, material.name


def _reach(key: str) -> dict[str, Any]:
    """What the lot reached (forward trace): finished units made with it, all units and
    components, who holds them, and the cases or pallets they are packed in."""
    from medtrace.trace.selectors import trace_forward

    parts = list(_serial_parts(key).values_list("epc", flat=True))
    if parts:
        return _parts_reach(parts)
    try:
        result = trace_forward(id=key, user=None)
    except MedtraceError:
        return {"units_made": 0, "affected": 0, "holders": [], "containers": []}
    made = sum(1 for row in result.rows if row[1] == "product")
    containers = sorted({row[13] for row in result.rows if row[13]})
    return {
        "units_made": made,
        "affected": result.count,
        "holders": [
            {"name": h.get("name"), "gln": h.get("gln"), "role": h.get("role"), "count": h["count"]}
            for h in result.summary[:MAX_LISTED]
        ],
        "containers": containers[:MAX_LISTED],
    }


def _serial_parts(key: str) -> QuerySet[MaterialLot]:
    """The serialized parts received with the supplier lot ``key`` (a lot class URN)."""
    try:
        identity = udi.parse(key)
    except (udi.UdiError, ValueError):
        return MaterialLot.objects.none()
    if not identity.gtin or not identity.lot or identity.serial:
        return MaterialLot.objects.none()
    return MaterialLot.objects.filter(
        material__gtin=identity.gtin, lot=identity.lot, tracking="serial"
    ).order_by("epc")


def _parts_reach(parts: list[str]) -> dict[str, Any]:
    """What serialized parts of one supplier lot reached now: one set-based forward walk from
    all of them (the recall scope's own walk), grouped by holder."""
    from medtrace.recalls.scope import walk

    found = walk(parts).units
    made = [u for u in found if u.kind == "product"]
    holders: dict[tuple[str, str, str], int] = defaultdict(int)
    for u in found:
        holders[(u.holder_name, u.holder_gln, u.holder_role)] += 1
    return {
        "units_made": len(made),
        "affected": len(found),
        "holders": [
            {"name": name or None, "gln": gln or None, "role": role or None, "count": n}
            for (name, gln, role), n in sorted(holders.items(), key=lambda kv: -kv[1])[:MAX_LISTED]
        ],
        "containers": sorted({u.contained_in for u in found if u.contained_in})[:MAX_LISTED],
    }


def _lot_reach(gtin: str, lot: str) -> dict[str, Any]:
    """The units of one lot of our product (their UnitState rows), grouped by holder."""
    from medtrace.ledger.identifiers import resolve_holders
    from medtrace.ledger.models import UnitState

    units = UnitState.objects.filter(gtin=gtin, lot=lot)
    by_holder = list(
        units.values("possessing_party").annotate(n=Count("epc")).order_by("-n", "possessing_party")
    )
    holders = resolve_holders(
        {row["possessing_party"] for row in by_holder if row["possessing_party"]}
    )
    containers = (
        units.exclude(container=None).exclude(container="").values_list("container", flat=True)
    )
    total = sum(row["n"] for row in by_holder)
    listed = []
    for row in by_holder[:MAX_LISTED]:
        holder = holders.get(row["possessing_party"] or "")
        listed.append(
            {
                "name": holder.name if holder else None,
                "gln": holder.gln if holder else None,
                "role": holder.role if holder else None,
                "count": row["n"],
            }
        )
    return {
        "units_made": total,
        "affected": total,
        "holders": listed,
        "containers": sorted(set(containers.distinct()[:MAX_LISTED])),
    }


def signal_evidence(
    *, rule: SignalRule, key: str, members: list[Member], start: datetime, end: datetime
) -> dict[str, Any]:
    gtin, _serial, lot = identity_facts(key)
    evidence: dict[str, Any] = {
        "dimension": rule.dimension,
        "lot": key,
        "gtin": gtin or None,
        "lot_number": lot or None,
        "rule": {"id": rule.pk, "threshold": rule.threshold, "window_days": rule.window_days},
        "window": {"from": start.isoformat(), "to": end.isoformat(), "days": rule.window_days},
        "complaints": [m[1] for m in members],
        "units": sorted({m[2] for m in members if m[2]})[:MAX_LISTED],
        "serials": sorted({m[3] for m in members if m[3]})[:MAX_LISTED],
        "count": len(members),
        "injury_or_death": any(m[5] for m in members),
    }
    if rule.dimension == SignalDimension.COMPONENT_LOT:
        supplier, material = _supplier(key, gtin)
        evidence["supplier"] = supplier
        evidence["material"] = material or None
    else:
        product = Product.objects.filter(identifiers__di=gtin).first() if gtin else None
        evidence["product"] = (
            {"id": product.pk, "name": product.name, "model": product.model} if product else None
        )
    if rule.dimension == SignalDimension.LOT and gtin and lot:
        evidence.update(_lot_reach(gtin, lot))
    else:
        evidence.update(_reach(key))
    return evidence
