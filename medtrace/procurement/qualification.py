"""Supplier qualification (供应商资质): certificates and approved materials, and expiry alerts.

A supplier is qualified on a day when it holds, unexpired on that day:

- a business licence (营业执照);
- for a maker of what it supplies (role supplier or manufacturer): a medical-device production
  licence (生产许可证) or a Class I production filing (生产备案凭证), and an ISO 13485
  certificate;
- for a distributor-supplier: a distribution licence (经营许可证) or a Class II distribution
  filing (经营备案凭证) instead of the production licence (no ISO 13485 needed: it makes nothing).

A certificate without an expiry date (e.g. a 长期 business licence) does not expire. A material
is orderable and receivable from the supplier only when master data lists the supplier as an
approved source of it (``MaterialSupplier.approved``). ISO 13485 §7.4.1 / NMPA GMP 附录 Art. 98:
purchase only from evaluated and approved suppliers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.alerts.models import Alert, AlertSeverity
from medtrace.alerts.services import alert_raise
from medtrace.errors import ValidationFailed
from medtrace.masterdata.models import (
    LicenceKind,
    Material,
    MaterialSupplier,
    Party,
    PartyLicence,
    PartyRole,
)

from .selectors import certificates_expiring

ALERT_EXPIRING = "certificate_expiring"
ALERT_EXPIRED = "certificate_expired"
LICENCE_OBJECT = "masterdata.partylicence"


def required_certificates(party: Party) -> list[tuple[str, tuple[str, ...]]]:
    """(label, licence kinds of which one is needed) for ``party`` as a supplier."""
    if party.role == PartyRole.DISTRIBUTOR:
        return [
            ("business licence", (LicenceKind.BUSINESS_LICENCE,)),
            (
                "medical device distribution licence or filing",
                (LicenceKind.DISTRIBUTION, LicenceKind.DISTRIBUTION_FILING),
            ),
        ]
    return [
        ("business licence", (LicenceKind.BUSINESS_LICENCE,)),
        (
            "medical device production licence or production filing",
            (LicenceKind.PRODUCTION, LicenceKind.PRODUCTION_FILING),
        ),
        ("ISO 13485 certificate", (LicenceKind.ISO13485,)),
    ]


def _kind_label(kind: str) -> str:
    return str(LicenceKind(kind).label)


def supplier_qualification(
    party: Party,
    material: Material | None = None,
    on: date | None = None,
    *,
    licences: list[PartyLicence] | None = None,
) -> list[dict[str, Any]]:
    """What stops ``party`` from supplying (``material``) on ``on``: a list of problems, each
    ``{"code", "field", "message", ...}`` (empty when qualified). ``licences`` may be passed
    pre-fetched."""
    on = on or timezone.localdate()
    problems: list[dict[str, Any]] = []
    if not party.active:
        problems.append(
            {
                "code": "supplier_inactive",
                "field": "supplier",
                "message": f"{party.name} is deactivated in master data",
            }
        )
    if party.role not in (PartyRole.SUPPLIER, PartyRole.MANUFACTURER, PartyRole.DISTRIBUTOR):
        problems.append(
            {
                "code": "not_a_supplier",
                "field": "supplier",
                "message": f"{party.name} is a {party.get_role_display()}, not a supplier",
            }
        )
        return problems
    held = licences if licences is not None else list(party.licences.all())
    for label, kinds in required_certificates(party):
        candidates = [lic for lic in held if lic.kind in kinds]
        if not candidates:
            problems.append(
                {
                    "code": "certificate_missing",
                    "field": "supplier",
                    "kind": kinds[0],
                    "message": f"{party.name} has no {label} on file",
                }
            )
            continue
        if any(lic.expires_on is None or lic.expires_on >= on for lic in candidates):
            continue
        latest = max(candidates, key=lambda lic: lic.expires_on or date.max)
        assert latest.expires_on is not None
        problems.append(
            {
                "code": "certificate_expired",
                "field": "supplier",
                "kind": latest.kind,
                "licence_id": latest.pk,
                "number": latest.number,
                "expires_on": latest.expires_on.isoformat(),
                "message": (
                    f"{party.name}: {_kind_label(latest.kind)} {latest.number} expired on "
                    f"{latest.expires_on.isoformat()}"
                ),
            }
        )
    if material is not None:
        source = MaterialSupplier.objects.filter(material=material, supplier=party).first()
        problems.extend(material_problems(party, material, source))
    return problems


def material_problems(
    party: Party, material: Material, source: MaterialSupplier | None
) -> list[dict[str, Any]]:
    """Why ``material`` may not be bought from ``party`` (``source``: their MaterialSupplier)."""
    problems: list[dict[str, Any]] = []
    if source is None:
        problems.append(
            {
                "code": "material_not_sourced",
                "field": "material",
                "material": material.code,
                "message": (
                    f"{material.code} ({material.name}) is not listed as supplied by {party.name}"
                ),
            }
        )
    elif not source.approved:
        problems.append(
            {
                "code": "material_not_approved",
                "field": "material",
                "material": material.code,
                "message": (f"{material.code} ({material.name}) is not approved from {party.name}"),
            }
        )
    elif not material.active:
        problems.append(
            {
                "code": "material_inactive",
                "field": "material",
                "material": material.code,
                "message": f"{material.code} ({material.name}) is deactivated",
            }
        )
    return problems


def require_qualified(
    party: Party,
    materials: list[tuple[Material, str]],
    *,
    on: date | None = None,
    action: str,
) -> None:
    """Raise ValidationFailed (422) naming the first problem if ``party`` may not supply each of
    ``materials`` ((material, field name) pairs) on ``on``."""
    on = on or timezone.localdate()
    licences = list(party.licences.all())
    problems = supplier_qualification(party, on=on, licences=licences)
    sources = {
        s.material_id: s
        for s in MaterialSupplier.objects.filter(
            supplier=party, material__in=[m.pk for m, _f in materials]
        )
    }
    for material, field in materials:
        for problem in material_problems(party, material, sources.get(material.pk)):
            problems.append({**problem, "field": field})
    if not problems:
        return
    first = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    raise ValidationFailed(
        f"{first['field']}: cannot {action}: supplier not qualified on {on.isoformat()}: "
        f"{first['message']}{more}",
        field=first["field"],
        details=problems,
    )


def certificates_check(days: int = 30, today: date | None = None) -> list[Alert]:
    """Raise one alert (to the procurement role) per supplier certificate that expired or expires
    within ``days`` days, once per certificate and threshold: running it again raises nothing
    new; a nearer threshold (fewer days) or a renewed certificate's new expiry raises again."""
    if days < 0:
        raise ValidationFailed("days: expected 0 or more days of warning", field="days")
    today = today or timezone.localdate()
    due = list(certificates_expiring(days=days, today=today))
    if not due:
        return []
    with transaction.atomic():
        seen: dict[tuple[str, str, str], list[int]] = {}
        for kind, object_id, evidence in Alert.objects.filter(
            kind__in=[ALERT_EXPIRING, ALERT_EXPIRED],
            object_type=LICENCE_OBJECT,
            object_id__in=[str(lic.pk) for lic in due],
        ).values_list("kind", "object_id", "evidence"):
            evidence = evidence or {}
            key = (kind, object_id, str(evidence.get("expires_on")))
            seen.setdefault(key, []).append(int(evidence.get("threshold_days", 0)))
        raised = []
        for lic in due:
            assert lic.expires_on is not None
            expired = lic.expires_on < today
            kind = ALERT_EXPIRED if expired else ALERT_EXPIRING
            key = (kind, str(lic.pk), lic.expires_on.isoformat())
            if key in seen and (expired or min(seen[key]) <= days):
                continue
            left = (lic.expires_on - today).days
            label = _kind_label(lic.kind)
            if expired:
                title = f"{lic.party.name}: {label} {lic.number} expired on {lic.expires_on}"
                message = (
                    f"{label} {lic.number} of supplier {lic.party.name} expired on "
                    f"{lic.expires_on}. Goods receipts and new purchase orders from this "
                    "supplier are blocked until a renewed certificate is on file."
                )
            else:
                title = f"{lic.party.name}: {label} {lic.number} expires on {lic.expires_on}"
                message = (
                    f"{label} {lic.number} of supplier {lic.party.name} expires on "
                    f"{lic.expires_on} (in {left} days). Ask the supplier for the renewed "
                    "certificate; after expiry, receipts from this supplier are blocked."
                )
            raised.append(
                alert_raise(
                    kind=kind,
                    severity=AlertSeverity.CRITICAL if expired else AlertSeverity.WARNING,
                    title=title,
                    message=message,
                    recipient_role="procurement",
                    evidence={
                        "party_id": lic.party_id,
                        "party": lic.party.name,
                        "licence_kind": lic.kind,
                        "number": lic.number,
                        "expires_on": lic.expires_on.isoformat(),
                        "threshold_days": 0 if expired else days,
                        "checked_on": today.isoformat(),
                    },
                    object_type=LICENCE_OBJECT,
                    object_id=str(lic.pk),
                )
            )
            seen.setdefault(key, []).append(0 if expired else days)
    return raised


def qualification_summary(party: Party, *, on: date | None = None) -> dict[str, Any]:
    """The supplier's certificates, approved materials and problems (for the page and API)."""
    on = on or timezone.localdate()
    licences = list(party.licences.select_related("scan").order_by("kind", "pk"))
    sources = list(
        MaterialSupplier.objects.filter(supplier=party)
        .select_related("material")
        .order_by("material__code")
    )
    soon = on + timedelta(days=30)
    return {
        "party": party,
        "on": on,
        "licences": [
            {
                "licence": lic,
                "expired": lic.expires_on is not None and lic.expires_on < on,
                "expiring": lic.expires_on is not None and on <= lic.expires_on <= soon,
            }
            for lic in licences
        ],
        "sources": sources,
        "problems": supplier_qualification(party, on=on, licences=licences),
        "material_problems": {
            s.material.code: material_problems(party, s.material, s) for s in sources
        },
    }
