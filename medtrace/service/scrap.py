"""Scrap and decommissioning, with a reason, a method and an e-signature (DESIGN §8).

``scrap_create`` checks the signer's password first (``signature_precheck``: a wrong password
is counted, and nothing of the scrap is stored), then in one transaction: the ScrapRecord and
its items, an ObjectEvent DELETE ``decommissioning`` / ``destroyed`` per place (CBV: the unit
leaves active life; the state machine then treats it as scrapped and refuses installing,
servicing, fitting parts into and shipping it), the installed base set to ``scrapped``, the
audit entries and the signature (meaning "approved").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.signatures import signature_apply, signature_precheck
from medtrace.errors import Conflict
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle import rules
from medtrace.lifecycle.services import next_number

from . import common
from .common import PERM_SCRAP, invalid
from .installed_base import installations_end
from .models_lifecycle import InstalledUnit, InstallStatus, ScrapItem, ScrapMethod, ScrapRecord

MAX_UNITS = 1000


def _units(units: Sequence[str], user: User | None) -> list[UnitState]:
    if isinstance(units, str) or not isinstance(units, Sequence):
        raise invalid("units", "expected a list of scanned units")
    scans = [u for u in units if isinstance(u, str) and u.strip()]
    if not scans:
        raise invalid("units", "scan at least one unit", "required")
    if len(scans) > MAX_UNITS:
        raise invalid("units", f"at most {MAX_UNITS} units per scrap record")
    states: dict[str, UnitState] = {}
    for index, scan in enumerate(scans):
        state = common.resolve_unit(scan, user=user, field=f"units[{index}]")
        states.setdefault(state.epc, state)
    return list(states.values())


def scrap_create(
    *,
    units: Sequence[str],
    reason: str,
    method: str,
    user: User,
    password: str,
    scrapped_at: Any = None,
) -> ScrapRecord:
    """Scrap ``units`` (any UDI forms), signed by ``user`` with ``password`` ("approved")."""
    common.require(user, PERM_SCRAP, "scrap units")
    why = common.text("reason", reason, required=True, max_length=4000)
    if method not in ScrapMethod.values:
        raise invalid(
            "method",
            f"{method!r} is not a scrap method; expected one of {', '.join(ScrapMethod.values)}",
        )
    at = common.moment("scrapped_at", scrapped_at)
    states = _units(units, user)
    epcs = [s.epc for s in states]
    rules.check(rules.Step.SCRAP, epcs, field="units")
    signature_precheck(
        user=user, password=password, object_type="service.scraprecord", object_repr="scrap"
    )
    with transaction.atomic():
        common.lock_units(epcs)
        rules.check(rules.Step.SCRAP, epcs, field="units")
        installed = {
            row.unit_epc: row
            for row in InstalledUnit.objects.select_related("department").filter(
                unit_epc__in=epcs, status=InstallStatus.IN_USE
            )
        }
        record = ScrapRecord.objects.create(
            number=next_number("SCR"),
            reason=why,
            method=method,
            scrapped_at=at,
            scrapped_by=user,
        )
        try:
            with transaction.atomic():
                ScrapItem.objects.bulk_create(
                    [
                        ScrapItem(
                            record=record,
                            unit_epc=s.epc,
                            serial=s.serial or "",
                            product_id=s.product_id,
                            installation=installed.get(s.epc),
                        )
                        for s in states
                    ]
                )
        except IntegrityError as exc:  # scrapped concurrently by another record
            raise Conflict(
                "units: a unit was scrapped by someone else just now", field="units"
            ) from exc
        # One event per place: units scrapped where they are installed, the rest where they are.
        by_place: dict[str | None, list[str]] = defaultdict(list)
        for epc in epcs:
            row = installed.get(epc)
            by_place[row.department.sgln if row is not None else None].append(epc)
        events = ev.emit(
            [
                ev.object_event(
                    action="DELETE",
                    epcs=group,
                    biz_step="decommissioning",
                    disposition="destroyed",
                    at=at,
                    read_point=place,
                    biz_location=place,
                    transactions=[ev.bt(common.BTT_SCRAP, record.number)],
                )
                for place, group in by_place.items()
            ],
            user=user,
        )
        record.event = events[0]
        record.save(update_fields=["event"])
        audit.record(
            action="create",
            object_type=audit.label_of(record),
            object_id=record.pk,
            object_repr=str(record),
            changes={**audit.snapshot(record), "units": epcs},
            user=user,
            reason=why,
        )
        installations_end(
            epcs=list(installed),
            status=InstallStatus.SCRAPPED,
            at=at,
            user=user,
            reason=f"scrapped: {record.number}",
        )
        signature_apply(record=record, meaning="approved", user=user, password=password)
    return record
