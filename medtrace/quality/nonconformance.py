"""Nonconformance records (不合格品处理): open, e-signed disposition, close.

Status flow ``open -> dispositioned -> closed``; every step is audited in its transaction.

- Opening names the units (EPCs) or lots (class URNs) and by default puts them on QC hold
  (``Hold.source`` = the NC number); QA/RA gets an alert.
- The disposition (rework, scrap, use as is, return to supplier) is e-signed (DESIGN §8) with
  meaning "approved". A use-as-is disposition is a concession and only QA/RA may sign it
  (``quality.approve_concession``). Scrap destroys the units in the same transaction, right after
  the signature: an ObjectEvent DELETE, bizStep ``destroying``, disposition ``destroyed``.
- Closing lifts the NC's holds where the disposition lets the goods back into stock: use as is,
  and rework once every unit or lot has passed an inspection after the disposition. Scrapped and
  returned goods leave stock: their hold records are closed without an "active" event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Party

from .holds import is_lot_class, lift_hold, place_holds, split_targets
from .models import (
    Hold,
    HoldKind,
    InspectionResult,
    NcCategory,
    NcDisposition,
    NcStatus,
    Nonconformance,
    NonconformanceItem,
)

PERM_NC_OPEN = "quality.add_nonconformance"
PERM_NC_CHANGE = "quality.change_nonconformance"
PERM_CONCESSION = "quality.approve_concession"


def _require(user: User | None, perm: str, message: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(f"{message} (needs {perm!r})")


def _text(value: str | None, field: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"{field}: {what}", field=field)
    return text


def nonconformance_open(
    *,
    targets: Sequence[str],
    title: str,
    description: str,
    source: str = "",
    category: str = NcCategory.PRODUCT,
    user: User | None,
    hold: bool = True,
    at: datetime | None = None,
    inspection: InspectionResult | None = None,
    biz_location: str | None = None,
) -> Nonconformance:
    """Open a nonconformance on ``targets`` (unit EPCs or lot class URNs) and, with ``hold``,
    put them on QC hold in the same transaction. ``user`` None = raised by the system.

    Without ``hold`` the targets may be empty (a process or environment nonconformance that
    names no goods yet).
    """
    _require(user, PERM_NC_OPEN, "You may not open nonconformances")
    title = _text(title, "title", "say in a few words what is wrong")
    description = _text(description, "description", "describe the nonconformance")
    if category not in NcCategory.values:
        raise ValidationFailed(
            f"category: {category!r} is not a nonconformance category; expected one of "
            f"{', '.join(NcCategory.values)}",
            field="category",
        )
    cleaned = [t.strip() for t in targets if t and t.strip()]
    if cleaned or hold:
        instances, classes = split_targets(cleaned, "targets")
    else:
        instances, classes = [], []
    if hold:
        rules.check(rules.Step.HOLD, instances, field="targets")
    now = at or timezone.now()
    with transaction.atomic():
        nc = Nonconformance.objects.create(
            number=next_number("NC"),
            title=title[:200],
            description=description,
            category=category,
            source=(source or "").strip()[:120],
            inspection=inspection,
            opened_at=now,
            opened_by=user,
        )
        NonconformanceItem.objects.bulk_create(
            [NonconformanceItem(nonconformance=nc, target=t) for t in instances]
            + [
                NonconformanceItem(nonconformance=nc, target=c, gtin=g, lot=lot)
                for c, g, lot in classes
            ],
            batch_size=2000,
        )
        every = instances + [c for c, _g, _l in classes]
        audit.record(
            action="create",
            object_type=audit.label_of(nc),
            object_id=nc.pk,
            object_repr=str(nc),
            changes={**audit.snapshot(nc), "targets": every, "hold": hold},
            user=user,
            reason=description,
        )
        if hold:
            place_holds(
                targets=every,
                kind=HoldKind.HOLD,
                reason=f"{nc.number}: {title}",
                user=user,
                source=nc.number,
                at=now,
                biz_location=biz_location,
            )
        from medtrace.alerts.services import alert_raise

        shown = ", ".join(every[:5]) + (f" and {len(every) - 5} more" if len(every) > 5 else "")
        alert_raise(
            kind="nonconformance_opened",
            severity="warning",
            title=f"{nc.number}: {title}",
            message=(
                f"{description}\n\n"
                + (f"Covers: {shown}. " if every else "")
                + ("The goods are on QC hold until the NC is closed." if hold and every else "")
                + (f" Source: {nc.source}." if nc.source else "")
            ).strip(),
            recipient_role="qa_ra",
            evidence={"number": nc.number, "targets": every[:50], "source": nc.source},
            object_type=audit.label_of(nc),
            object_id=str(nc.pk),
        )
    return nc


def _open_holds(nc: Nonconformance) -> list[Hold]:
    return list(Hold.objects.filter(source=nc.number, lifted_at__isnull=True).order_by("pk").all())


def nonconformance_disposition(
    *,
    nc: Nonconformance,
    disposition: str,
    reason: str,
    user: User,
    password: str,
    supplier: Party | None = None,
    at: datetime | None = None,
) -> Nonconformance:
    """Decide what happens to the goods, e-signed by ``user`` (meaning "approved").

    A wrong password is counted and nothing is stored. ``supplier``: for a return to supplier.
    """
    _require(user, PERM_NC_CHANGE, "You may not disposition nonconformances")
    if disposition not in NcDisposition.values:
        raise ValidationFailed(
            f"disposition: {disposition!r} is not a disposition; expected one of "
            f"{', '.join(NcDisposition.values)}",
            field="disposition",
        )
    if disposition == NcDisposition.USE_AS_IS and not user.has_perm(PERM_CONCESSION):
        raise PermissionDenied(
            "A use-as-is disposition is a concession: only QA/RA may approve and sign it "
            f"(needs {PERM_CONCESSION!r})",
            field="disposition",
        )
    reason = _text(reason, "reason", "justify the disposition")
    nc = Nonconformance.objects.get(pk=nc.pk)  # the caller's copy may be stale
    if nc.status != NcStatus.OPEN:
        raise Conflict(
            f"{nc.number} is {nc.get_status_display().lower()} "
            f"({nc.get_disposition_display().lower() or '-'}); only an open nonconformance "
            "takes a disposition",
            field="status",
        )
    if disposition == NcDisposition.RETURN_TO_SUPPLIER:
        if supplier is None:
            raise ValidationFailed(
                "supplier: name the supplier the goods go back to", field="supplier"
            )
    elif supplier is not None:
        raise ValidationFailed(
            "supplier: only a return-to-supplier disposition names a supplier", field="supplier"
        )
    items = list(nc.items.values_list("target", "gtin", "lot"))
    instances = [t for t, _g, _l in items if not is_lot_class(t)]
    classes = [t for t, _g, _l in items if is_lot_class(t)]
    if disposition == NcDisposition.SCRAP:
        if not items:
            raise ValidationFailed(
                f"disposition: {nc.number} names no units or lots to scrap", field="disposition"
            )
        rules.check(rules.Step.SCRAP, instances, field="targets")
    signature_precheck(
        user=user, password=password, object_type=audit.label_of(nc), object_repr=str(nc)
    )
    now = at or timezone.now()
    with transaction.atomic():
        locked = Nonconformance.objects.select_for_update().get(pk=nc.pk)
        if locked.status != NcStatus.OPEN:
            raise Conflict(f"{locked.number} was dispositioned meanwhile", field="status")
        before = audit.snapshot(locked)
        locked.disposition = disposition
        locked.disposition_reason = reason
        locked.supplier = supplier
        locked.status = NcStatus.DISPOSITIONED
        locked.dispositioned_at = now
        locked.dispositioned_by = user
        locked.save()
        audit.record_update(locked, before, user=user, reason=reason)
        signature_apply(
            record=locked, meaning="approved", user=user, password=password, reason=reason
        )
        if disposition == NcDisposition.SCRAP:
            # After the signature: the destruction is what the signed disposition authorises.
            ev.emit(
                [
                    ev.object_event(
                        action="DELETE",
                        epcs=instances,
                        quantities=[ev.quantity_class(c) for c in classes],
                        biz_step="destroying",
                        disposition="destroyed",
                        at=now,
                        transactions=[ev.bt("testres", locked.number)],
                    )
                ],
                user=user,
            )
    return locked


def rework_pending(nc: Nonconformance) -> list[str]:
    """The targets of a rework NC that have not passed an inspection since the disposition."""
    from .selectors import latest_results

    if nc.dispositioned_at is None:
        return list(nc.items.values_list("target", flat=True))
    targets = list(nc.items.values_list("target", flat=True))
    latest = latest_results(targets, since=nc.dispositioned_at)
    return [t for t in targets if latest.get(t) != "pass"]


def _labels(targets: list[str]) -> dict[str, str]:
    """A unit's serial, a lot's "lot L", else the URN: what people read in messages."""
    from medtrace.ledger.models import UnitState

    from .selectors import lot_of_class

    serials = dict(
        UnitState.objects.filter(epc__in=targets, serial__isnull=False).values_list("epc", "serial")
    )
    out = {}
    for t in targets:
        lot = lot_of_class(t)[1] if is_lot_class(t) else ""
        out[t] = serials.get(t) or (f"lot {lot}" if lot else t)
    return out


def nonconformance_close(
    *, nc: Nonconformance, user: User | None, note: str, at: datetime | None = None
) -> Nonconformance:
    """Close a dispositioned nonconformance and settle its holds (see the module docstring)."""
    _require(user, PERM_NC_CHANGE, "You may not close nonconformances")
    note = _text(note, "note", "say how the nonconformance was resolved")
    nc = Nonconformance.objects.get(pk=nc.pk)  # the caller's copy may be stale
    if nc.status != NcStatus.DISPOSITIONED:
        expected = (
            "give it a signed disposition first" if nc.status == NcStatus.OPEN else "it is closed"
        )
        raise Conflict(
            f"{nc.number} is {nc.get_status_display().lower()}; {expected}", field="status"
        )
    if nc.disposition == NcDisposition.REWORK:
        pending = rework_pending(nc)
        if pending:
            labels = _labels(pending)
            shown = ", ".join(labels[t] for t in pending[:5])
            shown += f" and {len(pending) - 5} more" if len(pending) > 5 else ""
            raise ValidationFailed(
                f"nonconformance: re-inspect the reworked goods before closing {nc.number}; "
                f"no passing inspection since the disposition for {shown}",
                field="nonconformance",
                details=[{"target": t, "code": "not_reinspected"} for t in pending],
            )
    back_to_stock = nc.disposition in (NcDisposition.USE_AS_IS, NcDisposition.REWORK)
    now = at or timezone.now()
    with transaction.atomic():
        locked = Nonconformance.objects.select_for_update().get(pk=nc.pk)
        if locked.status != NcStatus.DISPOSITIONED:
            raise Conflict(f"{locked.number} was closed meanwhile", field="status")
        before = audit.snapshot(locked)
        locked.status = NcStatus.CLOSED
        locked.closed_at = now
        locked.closed_by = user
        locked.close_note = note
        locked.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
        audit.record_update(locked, before, user=user, reason=note)
        why = f"{locked.number} closed ({locked.get_disposition_display()}): {note}"
        for hold in _open_holds(locked):
            lift_hold(hold=hold, user=user, reason=why, at=now, emit_event=back_to_stock)
    return locked
