"""The traceability certificate (产品追溯证明) of one unit (issue 5 item 7).

One document a maker can hand to a hospital or a regulator: the UDI, the whole lifecycle, the
genealogy, the inspections and releases with their signatures, the current holder, and a
verification hash. ``certificate_issue`` builds the content from the same selectors the unit page
uses (so it is partner-scoped like them), stores it as a ``TraceCertificate`` and returns it;
``certificate_pdf`` prints it; ``certificate_verify`` checks a stored certificate against its
hash and against today's ledger.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction, Signature
from medtrace.errors import NotFound, ValidationFailed
from medtrace.lib import udi
from medtrace.lib.hashing import canonical_json, jsonable, sha256_hex
from medtrace.masterdata.models import Location, Product
from medtrace.trace import selectors as trace

from .models import TraceCertificate
from .services import next_number, own_party

FORMAT = "medtrace-traceability-certificate/1"


def _udi(unit: dict[str, Any]) -> str | None:
    if not unit.get("gtin"):
        return None
    try:
        return udi.build_element_string(
            gtin=unit["gtin"],
            serial=unit.get("serial"),
            lot=unit.get("lot"),
            expiry=unit.get("expiry"),
        )
    except (udi.UdiError, ValueError):
        return None


def _flatten(node: dict[str, Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for child in node.get("children", []):
        out.append(child)
        _flatten(child, out)
    return out


def _signatures(object_type: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for sig in Signature.objects.filter(object_type=object_type, object_id__in=ids).order_by(
        "signed_at"
    ):
        out.setdefault(sig.object_id, []).append(
            {
                "printed_name": sig.printed_name,
                "username": sig.username,
                "meaning": sig.meaning,
                "signed_at": sig.signed_at.isoformat(),
                "content_sha256": sig.content_sha256,
            }
        )
    return out


def _releases(targets: list[str], gtin: str | None, lot: str | None) -> list[dict[str, Any]]:
    from django.db.models import Q

    from medtrace.quality.models import ReleaseItem

    match = Q(target__in=targets)
    if gtin and lot:
        match |= Q(gtin=gtin, lot=lot)
    items = list(
        ReleaseItem.objects.filter(match)
        .select_related("release", "release__released_by")
        .order_by("release__released_at")
    )
    sigs = _signatures("quality.release", [str(i.release_id) for i in items])
    return [
        {
            "number": item.release.number,
            "target": item.target,
            "released_at": item.release.released_at.isoformat(),
            "released_by": item.release.released_by.display_name()
            if item.release.released_by
            else None,
            "signatures": sigs.get(str(item.release_id), []),
        }
        for item in items
    ]


def _inspections(targets: list[str]) -> list[dict[str, Any]]:
    try:
        from medtrace.quality.selectors import inspections_for
    except ImportError:
        return []
    return list(inspections_for(targets))


def certificate_content(*, id: str, user: User | None) -> dict[str, Any]:
    """What the certificate of the unit ``id`` (any identifier form) says, as of now."""
    timeline = trace.unit_timeline(id=id, user=user)
    unit = timeline.get("unit")
    if unit is None or timeline["kind"] not in ("serial", "hibc"):
        raise ValidationFailed(
            f"id: {id!r} is not a serialized unit; a traceability certificate is issued per unit",
            field="id",
        )
    backward = trace.trace_backward(id=timeline["epc"], user=user, include_history=True)
    parts = _flatten(backward["root"], [])
    places = {e["bizLocation"] for e in timeline["events"] if e["bizLocation"]} | {
        e["readPoint"] for e in timeline["events"] if e["readPoint"]
    }
    names = dict(Location.objects.filter(sgln__in=places).values_list("sgln", "name"))
    product = None
    if unit.get("product"):
        row = (
            Product.objects.filter(pk=unit["product"]["id"]).select_related("manufacturer").first()
        )
        if row is not None:
            product = {
                "name": row.name,
                "model": row.model,
                "registration_no": row.nmpa_registration_no,
                "risk_class": row.risk_class,
                "manufacturer": row.manufacturer.name,
            }
    events = [
        {
            "time": e["eventTime"],
            "phase": e["phase"],
            "type": e["eventType"],
            "action": e["action"],
            "biz_step": e["bizStep"],
            "disposition": e["disposition"],
            "where": names.get(e["bizLocation"] or "") or e["bizLocation"],
            "read_point": names.get(e["readPoint"] or "") or e["readPoint"],
            "documents": [
                f"{b.get('type') or ''}:{b['bizTransaction']}".lstrip(":")
                for b in e["bizTransactionList"]
            ],
            "retracted": e["retracted"],
            "event_id": e["eventID"],
        }
        for e in timeline["events"]
    ]
    genealogy = [
        {
            "level": p["level"],
            "epc": p["epc"],
            "relation": p["relation"],
            "what": (p.get("material") or {}).get("name") or (p.get("product") or {}).get("name"),
            "serial": p.get("serial"),
            "lot": p.get("lot"),
            "supplier": (p.get("supplier") or {}).get("name"),
            "current": p["current"],
            "valid_from": p["valid_from"],
            "valid_to": p["valid_to"],
        }
        for p in parts
    ]
    targets = [timeline["epc"], *{p["epc"] for p in parts}]
    issuer = own_party()
    holder = unit.get("holder") or {}
    content = {
        "format": FORMAT,
        "issuer": {"name": issuer.name, "gln": issuer.gln},
        "unit": {
            "epc": timeline["epc"],
            "udi": _udi(unit),
            "gtin": unit.get("gtin"),
            "serial": unit.get("serial"),
            "lot": unit.get("lot"),
            "expiry": unit.get("expiry"),
            "product": product,
        },
        "current": {
            "disposition": unit.get("disposition"),
            "holder": holder.get("name") or holder.get("id"),
            "holder_gln": holder.get("gln"),
            "holder_role": holder.get("role"),
            "location": names.get(unit.get("location") or "") or unit.get("location"),
            "contained_in": unit.get("contained_in"),
            "installed_in": unit.get("installed_in"),
        },
        "lifecycle": events,
        "genealogy": genealogy,
        "inspections": _inspections(targets),
        "releases": _releases(targets, unit.get("gtin"), unit.get("lot")),
    }
    # Plain JSON (the quality selectors give datetimes): the content is stored in a JSONField
    # and hashed, and verify() compares it with a rebuilt one.
    return dict(jsonable(content))


def certificate_issue(*, id: str, user: User | None) -> TraceCertificate:
    """Build, store and audit a certificate of the unit ``id``."""
    content = certificate_content(id=id, user=user)
    with transaction.atomic():
        now = timezone.now()
        number = next_number("TC")
        content = {"number": number, "issued_at": now.isoformat(), **content}
        cert = TraceCertificate.objects.create(
            number=number,
            epc=content["unit"]["epc"],
            issued_at=now,
            issued_by=user if user is not None and user.is_authenticated else None,
            content=content,
            sha256=sha256_hex(content),
        )
        audit.record(
            action=AuditAction.CREATE,
            object_type=audit.label_of(cert),
            object_id=cert.pk,
            object_repr=str(cert),
            changes={"number": number, "epc": cert.epc, "sha256": cert.sha256},
            user=user,
        )
    return cert


def certificate_get(*, number: str, user: User | None) -> TraceCertificate:
    cert = TraceCertificate.objects.filter(number=number).first()
    if cert is None:
        raise NotFound(f"No traceability certificate {number!r}", details={"number": number})
    # The reader must be allowed to see the unit (a partner only its own units: else 404).
    trace.resolve_target(cert.epc, user=user, allow_class=False)
    return cert


def certificate_verify(cert: TraceCertificate, *, user: User | None) -> dict[str, Any]:
    """Is the stored content what was issued (hash), and does today's ledger still say the
    same (``current``: False when events were added or corrected since)?"""
    intact = sha256_hex(cert.content) == cert.sha256
    now = certificate_content(id=cert.epc, user=user)
    stored = {k: v for k, v in cert.content.items() if k not in ("number", "issued_at")}
    current = canonical_json(now) == canonical_json(stored)
    changed = []
    if not current:
        changed = sorted(
            k for k in now if canonical_json(now.get(k)) != canonical_json(stored.get(k))
        )
    return {
        "number": cert.number,
        "epc": cert.epc,
        "sha256": cert.sha256,
        "intact": intact,
        "current": current,
        "changed_sections": changed,
    }
