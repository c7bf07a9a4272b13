"""Adverse events: the regulatory report of a reportable complaint, with frozen due dates.

The clocks run from the complaint's awareness time (``received_at``). Due dates come from
``medtrace.lib.clocks.adverse_event_deadlines`` once, when the adverse event is created, and are
stored per jurisdiction (CN: death 7 d, serious injury 20 d, other 30 d, a group event 12 h as
well; FDA MDR: 30 days or 5 work days; EU MDR vigilance: 2 / 10 / 15 days). A year the CN or
US working-day calendar does not cover is refused with the clock's own message (422), never
guessed.

Jurisdictions are the caller's choice; by default China (where we are registered) plus the US
or the EU when the complainant is there (the simplest honest rule: where the device was used).

Each deadline records the submission to the regulator (reference number and time); an adverse
event is ``reported`` once every deadline has its submission.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, NotFound, ValidationFailed
from medtrace.lib import clocks
from medtrace.lifecycle.services import next_number

from . import common
from .common import PERM_AE, PERM_AE_CHANGE, invalid
from .models import (
    AdverseEvent,
    AdverseEventDeadline,
    AdverseEventStatus,
    Complaint,
    Jurisdiction,
    Severity,
)

# EU and EEA member states (ISO 3166-1 alpha-2), where the MDR's vigilance rules apply.
_EU = "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO"
EU_COUNTRIES = frozenset(_EU.split(" "))


def default_jurisdictions(complaint: Complaint) -> list[str]:
    """China always; the US or the EU too when the complainant is there."""
    out = [Jurisdiction.CN.value]
    country = (complaint.complainant_party.country if complaint.complainant_party else "") or ""
    country = country.upper()
    if country == "US":
        out.append(Jurisdiction.US.value)
    elif country in EU_COUNTRIES:
        out.append(Jurisdiction.EU.value)
    return out


def default_severity(complaint: Complaint) -> str:
    if complaint.death:
        return Severity.DEATH
    if complaint.injury:
        return Severity.SERIOUS_INJURY
    return Severity.MALFUNCTION


def _jurisdictions(value: Any, complaint: Complaint) -> list[str]:
    if value in (None, "", []):
        return default_jurisdictions(complaint)
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, Iterable):
        raise invalid("jurisdictions", "expected a list of CN, US, EU")
    out: list[str] = []
    for item in value:
        code = str(item).strip().upper()
        if code not in Jurisdiction.values:
            raise invalid(
                "jurisdictions",
                f"{item!r} is not a jurisdiction; expected some of "
                f"{', '.join(Jurisdiction.values)}",
            )
        if code not in out:
            out.append(code)
    return out


def deadlines_compute(
    *,
    awareness: datetime,
    jurisdictions: list[str],
    severity: str,
    group_event: bool,
    public_health_threat: bool,
    five_day: bool,
) -> list[clocks.Deadline]:
    """The due dates, or a 422 naming what the clock could not compute (a calendar year)."""
    try:
        return clocks.adverse_event_deadlines(
            awareness=awareness,
            jurisdictions=jurisdictions,
            severity=severity,
            group_event=group_event,
            public_health_threat=public_health_threat,
            five_day=five_day,
        )
    except clocks.CalendarYearMissing as exc:
        raise ValidationFailed(
            f"jurisdictions: the deadline cannot be computed: {exc}",
            field="jurisdictions",
            details={"calendar": exc.calendar, "year": exc.year, "covered": list(exc.covered)},
        ) from exc
    except ValueError as exc:
        raise ValidationFailed(f"severity: {exc}", field="severity") from exc


class AdverseEventPlan:
    """The checked inputs of an adverse event, with its computed deadlines (before any write)."""

    def __init__(
        self,
        complaint: Complaint,
        *,
        severity: Any = None,
        jurisdictions: Any = None,
        group_event: Any = False,
        public_health_threat: Any = False,
        five_day: Any = False,
    ) -> None:
        self.severity = str(severity or default_severity(complaint))
        if self.severity not in Severity.values:
            raise invalid(
                "severity",
                f"{severity!r} is not a severity; expected one of {', '.join(Severity.values)}",
            )
        self.jurisdictions = _jurisdictions(jurisdictions, complaint)
        self.group_event = bool(common.yes_no("group_event", group_event))
        self.public_health_threat = bool(
            common.yes_no("public_health_threat", public_health_threat)
        )
        self.five_day = bool(common.yes_no("five_day", five_day))
        self.awareness = complaint.received_at
        self.deadlines = deadlines_compute(
            awareness=self.awareness,
            jurisdictions=self.jurisdictions,
            severity=self.severity,
            group_event=self.group_event,
            public_health_threat=self.public_health_threat,
            five_day=self.five_day,
        )


def adverse_event_store(
    *, complaint: Complaint, plan: AdverseEventPlan, user: User | None
) -> AdverseEvent:
    """Store the adverse event and its deadlines (in the caller's transaction, complaint
    locked)."""
    if AdverseEvent.objects.filter(complaint=complaint).exists():
        existing = AdverseEvent.objects.get(complaint=complaint)
        raise Conflict(
            f"{complaint.number} already has the adverse event {existing.number}",
            details={"adverse_event": existing.number},
        )
    ae = AdverseEvent.objects.create(
        number=next_number("AE"),
        complaint=complaint,
        awareness_at=plan.awareness,
        severity=plan.severity,
        group_event=plan.group_event,
        public_health_threat=plan.public_health_threat,
        five_day=plan.five_day,
        jurisdictions=plan.jurisdictions,
        created_by=user,
        created_at=timezone.now(),
    )
    AdverseEventDeadline.objects.bulk_create(
        [
            AdverseEventDeadline(
                adverse_event=ae,
                jurisdiction=d.jurisdiction,
                key=d.key,
                label=d.label,
                basis=d.basis,
                due_at=d.due,
            )
            for d in plan.deadlines
        ]
    )
    audit.record(
        action="create",
        object_type=audit.label_of(ae),
        object_id=ae.pk,
        object_repr=str(ae),
        changes={
            **audit.snapshot(ae),
            "deadlines": {d.key: d.due.isoformat() for d in plan.deadlines},
        },
        user=user,
        reason=f"reportable complaint {complaint.number}",
    )
    return ae


def adverse_event_create(
    *,
    complaint: Complaint,
    user: User | None,
    severity: Any = None,
    jurisdictions: Any = None,
    group_event: Any = False,
    public_health_threat: Any = False,
    five_day: Any = False,
) -> AdverseEvent:
    """Create the adverse event of ``complaint`` explicitly (the reportability decision
    "reportable" creates it too). Refused for a complaint decided not reportable."""
    common.require(user, PERM_AE, "create adverse events")
    _refuse_not_reportable(complaint)
    common.refuse_closed(complaint, "get an adverse event")
    plan = AdverseEventPlan(
        complaint,
        severity=severity,
        jurisdictions=jurisdictions,
        group_event=group_event,
        public_health_threat=public_health_threat,
        five_day=five_day,
    )
    with transaction.atomic():
        locked = common.complaint_for_update(complaint)
        common.refuse_closed(locked, "get an adverse event")
        _refuse_not_reportable(locked)
        return adverse_event_store(complaint=locked, plan=plan, user=user)


def _refuse_not_reportable(complaint: Complaint) -> None:
    if complaint.reportable is False:
        raise Conflict(
            f"{complaint.number} was decided not reportable; record a new reportability "
            "decision (reportable, with its justification) to report it",
            field="reportable",
        )


def adverse_event_report(
    *,
    adverse_event: AdverseEvent,
    key: str,
    reference: str,
    user: User | None,
    reported_at: Any = None,
) -> AdverseEventDeadline:
    """Record the submission to the regulator for the deadline ``key`` (its reference number
    and time). The adverse event is ``reported`` once every deadline is."""
    common.require(user, PERM_AE_CHANGE, "record adverse event reports")
    ref = common.text("reference", reference, required=True, max_length=120)
    at = common.moment("reported_at", reported_at)
    if at < adverse_event.awareness_at:
        raise invalid(
            "reported_at",
            f"{at:%Y-%m-%d %H:%M} is before the awareness time "
            f"{adverse_event.awareness_at:%Y-%m-%d %H:%M}",
            "before_awareness",
        )
    with transaction.atomic():
        ae = AdverseEvent.objects.select_for_update().get(pk=adverse_event.pk)
        deadline = (
            AdverseEventDeadline.objects.select_for_update()
            .filter(adverse_event=ae, key=key)
            .first()
        )
        if deadline is None:
            keys = list(
                AdverseEventDeadline.objects.filter(adverse_event=ae).values_list("key", flat=True)
            )
            raise NotFound(
                f"{ae.number} has no deadline {key!r}; expected one of {', '.join(keys)}",
                field="key",
            )
        if deadline.reported_at is not None:
            raise Conflict(
                f"{ae.number}: {deadline.key} was already reported on "
                f"{deadline.reported_at:%Y-%m-%d %H:%M} (reference {deadline.reference})",
                field="key",
            )
        before = audit.snapshot(deadline)
        deadline.reported_at = at
        deadline.reported_by = user
        deadline.reference = ref
        deadline.save(update_fields=["reported_at", "reported_by", "reference"])
        late = at > deadline.due_at
        audit.record_update(
            deadline,
            before,
            user=user,
            reason=f"submitted to the regulator{' after the due date' if late else ''}: {ref}",
        )
        if not AdverseEventDeadline.objects.filter(
            adverse_event=ae, reported_at__isnull=True
        ).exists():
            ae_before = audit.snapshot(ae)
            ae.status = AdverseEventStatus.REPORTED
            ae.save(update_fields=["status"])
            audit.record_update(ae, ae_before, user=user, reason="every deadline reported")
    return deadline
