"""Stock counts (issue 5, item 4): the physical count of a location against the ledger.

The clerk scans everything at the location (units, and closed cases and pallets, which count
for what the ledger has inside them). Reconciling compares that with the ledger
(``selectors.stock_count_preview``) and posts it:

- every object found gets an ObjectEvent OBSERVE, bizStep ``cycle_counting``, readPoint = the
  counted location; bizLocation = where the ledger has it when that is the counted location or
  a bin inside it, else the counted location (it was found here);
- what the state machine would not let us move (in transit, scrapped) is listed, not observed;
- what is missing is listed and an alert goes to the warehouse; its ledger state is never
  changed by a count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.alerts.services import alert_raise
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.selectors import contents, with_contents
from medtrace.lifecycle.services import next_number
from medtrace.masterdata.models import Location

from . import selectors
from .common import (
    PERM_COUNT,
    PERM_RECONCILE,
    location_sglns,
    require,
    require_scans,
    resolve_scans,
    storage_location,
    untyped_bt,
)
from .models import CountResult, StockCount, StockCountLine, StockCountScan, StockCountStatus

ALERT_KIND = "stock_count_discrepancy"
_ALERT_LIST = 20  # objects named in the alert text; the full list is on the count


def stock_count_create(
    *, location: Location | int | str, user: User | None, note: str = "", at: datetime | None = None
) -> StockCount:
    """Start counting one of our warehouse or bin locations (audited)."""
    require(user, PERM_COUNT, _("count stock"))
    place = storage_location(location)
    with transaction.atomic():
        count = StockCount.objects.create(
            number=next_number("SC"),
            location=place,
            note=(note or "").strip(),
            created_at=at or timezone.now(),
            created_by=user,
        )
        audit.record_create(count, user=user)
    return count


def _open(count: StockCount) -> StockCount:
    locked = (
        StockCount.objects.select_for_update(of=("self",))
        .select_related("location")
        .get(pk=count.pk)
    )
    if locked.status != StockCountStatus.OPEN:
        raise Conflict(
            _("Stock count %(number)s is already reconciled; start a new count")
            % {"number": locked.number},
            field="count",
        )
    return locked


def stock_count_scan(
    *, count: StockCount, scans: Sequence[str], user: User | None, at: datetime | None = None
) -> list[StockCountScan]:
    """Record what was found (any UDI form); a repeated scan is counted once. Returns the new
    scans."""
    require(user, PERM_COUNT, _("count stock"))
    scanned = resolve_scans(scans, field="scans")
    require_scans(scanned, field="scans")
    now = at or timezone.now()
    with transaction.atomic():
        locked = _open(count)
        known = set(
            StockCountScan.objects.filter(
                count=locked, epc__in=[s.epc for s in scanned]
            ).values_list("epc", flat=True)
        )
        new = [
            StockCountScan(
                count=locked, epc=s.epc, text=s.text[:512], scanned_at=now, scanned_by=user
            )
            for s in scanned
            if s.epc not in known
        ]
        StockCountScan.objects.bulk_create(new)
        if new:
            audit.record(
                action=AuditAction.UPDATE,
                object_type=audit.label_of(locked),
                object_id=locked.pk,
                object_repr=str(locked),
                changes={"scans": [None, [s.epc for s in new]]},
                user=user,
            )
    return new


def stock_count_reconcile(
    *, count: StockCount, user: User | None, at: datetime | None = None
) -> StockCount:
    """Reconcile the count with the ledger and post it (see the module docstring)."""
    require(user, PERM_RECONCILE, _("reconcile stock counts"))
    now = at or timezone.now()
    with transaction.atomic():
        locked = _open(count)
        rec = selectors.stock_count_preview(locked)
        scanned = rec.scanned
        inside = contents([e for e in scanned if e.startswith("urn:epc:id:sscc:")])
        covered = {c for e in scanned for c in inside.get(e, [])}
        top = [e for e in scanned if e not in covered]
        refused = {r.epc for r in rules.refusals(rules.Step.MOVE, with_contents(top))}
        observed = [e for e in top if e not in refused and not (set(inside.get(e, [])) & refused)]
        here = set(location_sglns(locked.location))
        rows = {r.epc: r for r in rec.rows}
        groups: dict[str, list[str]] = defaultdict(list)
        for epc in observed:
            state = rows[epc].state if epc in rows else None
            current = state.biz_location if state is not None else None
            groups[current if current in here else locked.location.sgln].append(epc)
        ev.emit(
            [
                ev.object_event(
                    epcs=epcs,
                    biz_step="cycle_counting",
                    at=now,
                    read_point=locked.location.sgln,
                    biz_location=where,
                    transactions=[untyped_bt(locked.number)],
                )
                for where, epcs in groups.items()
            ],
            user=user,
        )
        seen = set(with_contents(observed))
        StockCountLine.objects.bulk_create(
            [
                StockCountLine(
                    count=locked,
                    epc=r.epc,
                    serial=(r.state.serial or "") if r.state else "",
                    product_id=r.state.product_id if r.state else None,
                    result=r.result,
                    ledger_location=(r.state.biz_location or "") if r.state else "",
                    ledger_where=r.where[:300],
                    container=r.container,
                    observed=r.epc in seen,
                    note=(
                        r.note
                        or (
                            _("not observed: the state machine refuses to move it")
                            if r.result != CountResult.MISSING and r.epc not in seen
                            else ""
                        )
                    )[:300],
                )
                for r in rec.rows
            ],
            batch_size=1000,
        )
        before = audit.snapshot(locked)
        locked.status = StockCountStatus.RECONCILED
        locked.reconciled_at = now
        locked.reconciled_by = user
        locked.matched = len(rec.matched)
        locked.missing = len(rec.missing)
        locked.unexpected = len(rec.unexpected)
        locked.save()
        audit.record_update(locked, before, user=user)
        if rec.missing or rec.unexpected:
            _alert(locked, rec)
    return locked


def _alert(count: StockCount, rec: selectors.Reconciliation) -> None:
    lines = [
        _("missing: %(unit)s (ledger: %(where)s)") % {"unit": r.label, "where": r.where}
        for r in rec.missing[:_ALERT_LIST]
    ] + [
        _("unexpected: %(unit)s (ledger: %(where)s)") % {"unit": r.label, "where": r.where}
        for r in rec.unexpected[:_ALERT_LIST]
    ]
    alert_raise(
        kind=ALERT_KIND,
        title=_("Stock count %(number)s at %(loc)s: %(missing)d missing, %(unexpected)d unexpected")
        % {
            "number": count.number,
            "loc": count.location,
            "missing": len(rec.missing),
            "unexpected": len(rec.unexpected),
        },
        message="\n".join(lines),
        recipient_role="warehouse",
        evidence={
            "count": count.number,
            "location": count.location.sgln,
            "missing": [r.epc for r in rec.missing],
            "unexpected": [r.epc for r in rec.unexpected],
        },
        object_type="warehouse.stockcount",
        object_id=str(count.pk),
    )
