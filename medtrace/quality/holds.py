"""Holds and quarantine, lifting them, and QC release with an e-signature.

Each follows DESIGN §4: the document rows, the EPCIS events (bizStep ``holding`` /
``inspecting``), the projections and the audit entries are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import PermissionDenied, SequenceViolation, ValidationFailed
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number, next_numbers

from .models import Hold, HoldKind, Release, ReleaseItem

PERM_HOLD = "quality.add_hold"
PERM_LIFT = "quality.change_hold"
PERM_RELEASE = "quality.add_release"

HOLD_DISPOSITION = {
    HoldKind.HOLD: "sellable_not_accessible",
    HoldKind.QUARANTINE: "sellable_not_accessible",
    HoldKind.RECALL: "recalled",
}


def _require(user: User | None, perm: str, what: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(f"You may not {what} (needs {perm!r})")


# Lot-level identifiers (a whole lot, not one instance): GS1 LGTIN, HIBC lot, our own lot URN.
CLASS_PREFIXES = ("urn:epc:class:", "urn:medtrace:lot:", "urn:medtrace:hibc-lot:")


def is_lot_class(target: str) -> bool:
    return target.startswith(CLASS_PREFIXES)


def split_targets(
    targets: Sequence[str], field: str = "targets"
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Instance EPCs, and lot classes as (class URN, gtin, lot); duplicates dropped."""
    instances: list[str] = []
    classes: list[tuple[str, str, str]] = []
    for index, target in enumerate(dict.fromkeys(t.strip() for t in targets if t.strip())):
        if is_lot_class(target):
            gtin = lot = ""
            if target.startswith("urn:epc:class:lgtin:"):
                try:
                    identity = udi.parse(target)
                except udi.UdiError as exc:
                    raise ValidationFailed(f"{field}[{index}]: {exc}", field=field) from exc
                gtin, lot = identity.gtin or "", identity.lot or ""
            classes.append((target, gtin, lot))
        else:
            instances.append(target)
    if not instances and not classes:
        raise ValidationFailed(f"{field}: name at least one unit or lot", field=field)
    return instances, classes


def targets_from_scans(scans: Iterable[str], *, field: str = "targets") -> list[str]:
    """Turn whatever was scanned (any UDI form, §5) into EPC URNs or lot class URNs."""
    from medtrace.errors import MedtraceError
    from medtrace.trace.selectors import resolve_target

    out = []
    for index, text in enumerate(scans):
        text = (text or "").strip()
        if not text:
            continue
        try:
            out.append(resolve_target(text, user=None).epc)
        except MedtraceError as exc:
            raise ValidationFailed(f"{field}[{index}]: {exc.message}", field=field) from exc
    return out


def hold_place(
    *,
    targets: Sequence[str],
    kind: str = HoldKind.HOLD,
    reason: str,
    user: User | None,
    source: str = "",
    at: datetime | None = None,
    biz_location: str | None = None,
) -> list[Hold]:
    """Hold units, containers or lots (``targets``: EPC URNs or lot class URNs)."""
    _require(user, PERM_HOLD, "place holds")
    return place_holds(
        targets=targets,
        kind=kind,
        reason=reason,
        user=user,
        source=source,
        at=at,
        biz_location=biz_location,
    )


def place_holds(
    *,
    targets: Sequence[str],
    kind: str = HoldKind.HOLD,
    reason: str,
    user: User | None,
    source: str = "",
    at: datetime | None = None,
    biz_location: str | None = None,
) -> list[Hold]:
    """``hold_place`` without the permission check: for documents that carry their own
    authority (a nonconformance places its hold whoever reported it)."""
    if kind not in HoldKind.values:
        raise ValidationFailed(
            f"kind: {kind!r} is not a hold kind; expected one of {', '.join(HoldKind.values)}",
            field="kind",
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the goods are held", field="reason")
    instances, classes = split_targets(targets, "targets")
    rules.check(rules.Step.HOLD, instances, field="targets")
    now = at or timezone.now()
    with transaction.atomic():
        # Set-based: a recall may hold thousands of units at once. One counter update for the
        # numbers, one bulk insert, one pass over the audit chain (same entries as one by one).
        wanted = [(t, "", "") for t in instances] + classes
        holds = Hold.objects.bulk_create(
            [
                Hold(
                    number=number,
                    kind=kind,
                    target=target,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    source=source,
                    placed_at=now,
                    placed_by=user,
                )
                for number, (target, gtin, lot) in zip(
                    next_numbers("HOLD", len(wanted)), wanted, strict=True
                )
            ],
            batch_size=1000,
        )
        audit.record_create_many(holds, user=user, reason=reason)
        ev.emit(
            [
                ev.object_event(
                    epcs=instances,
                    quantities=[ev.quantity_class(c) for c, _g, _l in classes],
                    biz_step="holding",
                    disposition=HOLD_DISPOSITION[HoldKind(kind)],
                    at=now,
                    biz_location=biz_location,
                    transactions=[ev.bt("testres", source)] if source else [],
                )
            ],
            user=user,
        )
    return holds


def hold_lift(*, hold: Hold, user: User | None, reason: str, at: datetime | None = None) -> Hold:
    """Lift an open hold (the row keeps who placed and who lifted it, and why)."""
    _require(user, PERM_LIFT, "lift holds")
    return lift_hold(hold=hold, user=user, reason=reason, at=at)


def lift_hold(
    *,
    hold: Hold,
    user: User | None,
    reason: str,
    at: datetime | None = None,
    emit_event: bool = True,
) -> Hold:
    """``hold_lift`` without the permission check (the caller's document carries the
    authority). ``emit_event=False`` closes the hold record only: for goods that leave stock
    (scrapped or returned to the supplier), which must not become "active" again."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the hold is lifted", field="reason")
    now = at or timezone.now()
    with transaction.atomic():
        locked = Hold.objects.select_for_update().get(pk=hold.pk)
        if locked.lifted_at is not None:
            raise ValidationFailed(
                f"hold: {locked.number} was already lifted on {locked.lifted_at:%Y-%m-%d}",
                field="hold",
            )
        before = audit.snapshot(locked)
        locked.lifted_at = now
        locked.lifted_by = user
        locked.lift_reason = reason
        locked.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        audit.record_update(locked, before, user=user, reason=reason)
        is_class = is_lot_class(locked.target)
        if not emit_event:
            return locked
        ev.emit(
            [
                ev.object_event(
                    epcs=[] if is_class else [locked.target],
                    quantities=[ev.quantity_class(locked.target)] if is_class else [],
                    biz_step="holding",
                    disposition="active",
                    at=now,
                )
            ],
            user=user,
        )
    return locked


def _check_final_inspection(instances: list[str], classes: list[str]) -> None:
    """A unit whose product has an active final inspection plan is released only after a
    passing final inspection (its own, or its lot's)."""
    from .selectors import release_blockers

    blocked = release_blockers(instances, classes)
    if not blocked:
        return
    first = blocked[0]
    more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
    raise SequenceViolation(
        f"Cannot release {first['serial']}: it {first['reasons'][0]['message']}{more}",
        field="targets",
        details=blocked,
    )


def release_create(
    *,
    targets: Sequence[str],
    user: User,
    password: str,
    note: str = "",
    at: datetime | None = None,
) -> Release:
    """QC release of units or lots, e-signed by ``user`` (meaning "released").

    Units whose product has an active final inspection plan need a passing final inspection
    (``SequenceViolation`` naming each unit otherwise). The signature is checked next (a wrong
    password is counted and nothing is released); the release, its items, the
    inspecting/conformant event and the audit entries then commit together with the signature.
    """
    _require(user, PERM_RELEASE, "release goods")
    instances, classes = split_targets(targets, "targets")
    rules.check(rules.Step.RELEASE, instances, field="targets")
    _check_final_inspection(instances, [c for c, _g, _l in classes])
    signature_precheck(
        user=user, password=password, object_type="quality.release", object_repr="QC release"
    )
    now = at or timezone.now()
    with transaction.atomic():
        release = Release.objects.create(
            number=next_number("REL"), released_at=now, released_by=user, note=note.strip()
        )
        ReleaseItem.objects.bulk_create(
            [ReleaseItem(release=release, target=t) for t in instances]
            + [ReleaseItem(release=release, target=c, gtin=g, lot=lot) for c, g, lot in classes],
            batch_size=2000,
        )
        audit.record(
            action="create",
            object_type=audit.label_of(release),
            object_id=release.pk,
            object_repr=str(release),
            changes={"items": len(instances) + len(classes), "note": release.note},
            user=user,
        )
        ev.emit(
            [
                ev.object_event(
                    epcs=instances,
                    quantities=[ev.quantity_class(c) for c, _g, _l in classes],
                    biz_step="inspecting",
                    disposition="conformant",
                    at=now,
                    transactions=[ev.bt("testres", release.number)],
                )
            ],
            user=user,
        )
        signature_apply(record=release, meaning="released", user=user, password=password)
    return release
