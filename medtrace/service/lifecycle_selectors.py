"""Reads of the installed base, maintenance, tickets and scrap, scoped to the requesting user.

Internal staff need the model's view permission (403 without it). A hospital partner sees its
own hospital's installed base, the visits to it and the tickets it reported or that concern its
installed units; another hospital's rows are "not found" (404), never "forbidden", so their
existence does not leak (DESIGN §9). Plans and scrap records are the maker's documents: a
partner sees none. ``None`` is the CLI: everything.

``maintenance_due`` is one SQL statement over installations x plans with each pair's latest
visit, then two bulk loads; no query per unit (issue 7 alerts read it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.errors import NotFound, PermissionDenied
from medtrace.ledger.models import EdgeKind, GenealogyEdge

from . import common
from .common import (
    PERM_INSTALL_VIEW,
    PERM_PLAN_VIEW,
    PERM_SCRAP_VIEW,
    PERM_TICKET_VIEW,
    PERM_VISIT_VIEW,
)
from .models_lifecycle import (
    InstalledUnit,
    InstallStatus,
    MaintenancePlan,
    MaintenanceVisit,
    ScrapRecord,
    ServiceTicket,
    TicketStatus,
)

OPEN_TICKET_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.DIAGNOSED,
    TicketStatus.IN_REPAIR,
    TicketStatus.TESTING,
)


def _staff_may(user: User, perm: str, what: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(
            f"You need the permission {perm} to see {what}", details={"required": perm}
        )


def _hospital_id(user: User | None) -> int | None:
    """The partner's hospital id; -1 for a partner that is no hospital (sees nothing)."""
    if not common.is_partner(user):
        return None
    hospital = common.partner_hospital(user)
    return hospital.pk if hospital is not None else -1


def scope_installations(user: User | None, qs: QuerySet[InstalledUnit]) -> QuerySet[InstalledUnit]:
    if user is None:
        return qs
    hospital = _hospital_id(user)
    if hospital is not None:
        return qs.filter(hospital_id=hospital)
    _staff_may(user, PERM_INSTALL_VIEW, "the installed base")
    return qs


def scope_visits(user: User | None, qs: QuerySet[MaintenanceVisit]) -> QuerySet[MaintenanceVisit]:
    if user is None:
        return qs
    hospital = _hospital_id(user)
    if hospital is not None:
        return qs.filter(installation__hospital_id=hospital)
    _staff_may(user, PERM_VISIT_VIEW, "maintenance visits")
    return qs


def scope_tickets(user: User | None, qs: QuerySet[ServiceTicket]) -> QuerySet[ServiceTicket]:
    if user is None:
        return qs
    hospital = _hospital_id(user)
    if hospital is not None:
        return qs.filter(Q(reporter_id=hospital) | Q(installation__hospital_id=hospital))
    _staff_may(user, PERM_TICKET_VIEW, "service tickets")
    return qs


def scope_plans(user: User | None, qs: QuerySet[MaintenancePlan]) -> QuerySet[MaintenancePlan]:
    if user is None:
        return qs
    if common.is_partner(user):
        return qs.none()
    _staff_may(user, PERM_PLAN_VIEW, "maintenance plans")
    return qs


def scope_scrap(user: User | None, qs: QuerySet[ScrapRecord]) -> QuerySet[ScrapRecord]:
    if user is None:
        return qs
    if common.is_partner(user):
        return qs.none()
    _staff_may(user, PERM_SCRAP_VIEW, "scrap records")
    return qs


# Installed base ----------------------------------------------------------------------------


def _unit_q(unit: str, user: User | None) -> Q:
    """Rows of the unit ``unit`` names (any UDI form); a bare serial also matches directly."""
    from medtrace.errors import MedtraceError
    from medtrace.trace.selectors import resolve_target

    text = unit.strip()
    condition = Q(unit_epc=text) | Q(serial=text)
    with contextlib.suppress(MedtraceError):
        condition |= Q(unit_epc=resolve_target(text, user=user, allow_class=False).epc)
    return condition


def installation_list(
    *,
    user: User | None,
    hospital_id: int | None = None,
    department_id: int | None = None,
    status: str | None = None,
    unit: str | None = None,
) -> QuerySet[InstalledUnit]:
    qs = scope_installations(
        user,
        InstalledUnit.objects.select_related(
            "hospital", "department", "product", "installed_by", "event"
        ),
    )
    if hospital_id is not None:
        qs = qs.filter(hospital_id=hospital_id)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    if status:
        qs = qs.filter(status=status)
    if unit and unit.strip():
        qs = qs.filter(_unit_q(unit, user))
    return qs.order_by("-installed_at", "-id")


def installation_get(*, user: User | None, pk: int) -> InstalledUnit:
    row = installation_list(user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No installation {pk}", details={"id": pk})
    return row


# Maintenance -------------------------------------------------------------------------------


def plan_list(
    *, user: User | None, product_id: int | None = None, active: bool | None = None
) -> QuerySet[MaintenancePlan]:
    qs = scope_plans(user, MaintenancePlan.objects.select_related("product"))
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("product_id", "kind", "number")


def plan_get(*, user: User | None, pk: int) -> MaintenancePlan:
    row = plan_list(user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No maintenance plan {pk}", details={"id": pk})
    return row


def visit_list(
    *, user: User | None, unit: str | None = None, plan_id: int | None = None
) -> QuerySet[MaintenanceVisit]:
    qs = scope_visits(
        user,
        MaintenanceVisit.objects.select_related("plan", "engineer", "attachment", "event"),
    )
    if plan_id is not None:
        qs = qs.filter(plan_id=plan_id)
    if unit and unit.strip():
        qs = qs.filter(_unit_q(unit, user))
    return qs.order_by("-performed_at", "-id")


def visit_get(*, user: User | None, pk: int) -> MaintenanceVisit:
    row = visit_list(user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No maintenance visit {pk}", details={"id": pk})
    return row


@dataclass(frozen=True)
class Due:
    """One unit's next maintenance or calibration under one plan."""

    installation: InstalledUnit
    plan: MaintenancePlan
    last_visit: MaintenanceVisit | None
    due_on: date
    today: date

    @property
    def overdue(self) -> bool:
        return self.due_on < self.today

    @property
    def days_overdue(self) -> int:
        """Days past due (negative: days left)."""
        return (self.today - self.due_on).days


def _due_pairs(hospital: int | None) -> list[tuple[int, int, int | None]]:
    """(installation id, plan id, latest visit id) for every installed unit a plan covers."""
    i_t = InstalledUnit._meta.db_table
    p_t = MaintenancePlan._meta.db_table
    v_t = MaintenanceVisit._meta.db_table
    params: list[Any] = [True, InstallStatus.IN_USE.value]
    hospital_sql = ""
    if hospital is not None:
        hospital_sql = " AND i.hospital_id = %s"
        params.append(hospital)
    sql = f"""
        SELECT i.id, p.id,
               (SELECT v.id FROM {v_t} v
                 WHERE v.plan_id = p.id AND v.unit_epc = i.unit_epc
                 ORDER BY v.performed_at DESC, v.id DESC LIMIT 1)
          FROM {i_t} i
          JOIN {p_t} p ON p.product_id = i.product_id AND p.active = %s
                      AND (p.unit_epc = '' OR p.unit_epc = i.unit_epc)
         WHERE i.status = %s{hospital_sql}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


def maintenance_due(
    *, within_days: int = 30, today: date | None = None, user: User | None = None
) -> list[Due]:
    """Installed units whose maintenance or calibration falls due within ``within_days`` of
    ``today`` (or is overdue), most overdue first. Without a visit yet, a unit is due one
    interval after its installation; after a passed visit, one interval after it; after a
    failed one, at once."""
    today = today or timezone.localdate()
    hospital = None
    if user is not None:
        hospital = _hospital_id(user)
        if hospital is None:
            _staff_may(user, PERM_INSTALL_VIEW, "the installed base")
    pairs = _due_pairs(hospital)
    if not pairs:
        return []
    installations = InstalledUnit.objects.select_related(
        "hospital", "department", "product"
    ).in_bulk({i for i, _p, _v in pairs})
    plans = MaintenancePlan.objects.select_related("product").in_bulk({p for _i, p, _v in pairs})
    visits = MaintenanceVisit.objects.in_bulk({v for _i, _p, v in pairs if v is not None})
    horizon = today + timedelta(days=within_days)
    out: list[Due] = []
    for i, p, v in pairs:
        installation, plan = installations[i], plans[p]
        visit = visits.get(v) if v is not None else None
        if visit is not None:
            due_on = visit.next_due
        else:
            installed = timezone.localtime(installation.installed_at).date()
            due_on = installed + timedelta(days=plan.interval_days)
        if due_on <= horizon:
            out.append(Due(installation, plan, visit, due_on, today))
    out.sort(key=lambda d: (d.due_on, d.installation.serial, d.plan.number))
    return out


# Genealogy ---------------------------------------------------------------------------------


def fitted_in(parts: list[str]) -> dict[str, str]:
    """Where each of ``parts`` is fitted now: ``{part: parent}`` from the open association
    edges of the genealogy (one query)."""
    return dict(
        GenealogyEdge.objects.filter(
            child__in=parts, kind=EdgeKind.ASSOCIATED, valid_to__isnull=True
        ).values_list("child", "parent")
    )


# Tickets -----------------------------------------------------------------------------------


def ticket_list(
    *,
    user: User | None,
    status: str | None = None,
    open_only: bool = False,
    unit: str | None = None,
    hospital_id: int | None = None,
) -> QuerySet[ServiceTicket]:
    qs = scope_tickets(
        user,
        ServiceTicket.objects.select_related(
            "product", "reporter", "installation", "installation__department", "opened_by"
        ),
    )
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=OPEN_TICKET_STATUSES)
    if hospital_id is not None:
        qs = qs.filter(Q(reporter_id=hospital_id) | Q(installation__hospital_id=hospital_id))
    if unit and unit.strip():
        qs = qs.filter(_unit_q(unit, user))
    return qs.order_by("-opened_at", "-id")


def ticket_get(*, user: User | None, pk: int) -> ServiceTicket:
    row = ticket_list(user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No service ticket {pk}", details={"id": pk})
    return row


def ticket_age(ticket: ServiceTicket, now: Any = None) -> timedelta:
    """How long the ticket has been open (until resolved, if it was)."""
    end = ticket.resolved_at or ticket.closed_at or now or timezone.now()
    return end - ticket.opened_at


def duration_text(value: timedelta | None) -> str:
    """ "3 d 4 h", "5 h 12 min" or "12 min"."""
    if value is None:
        return ""
    minutes = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


# Scrap -------------------------------------------------------------------------------------


def scrap_list(*, user: User | None, unit: str | None = None) -> QuerySet[ScrapRecord]:
    qs = scope_scrap(user, ScrapRecord.objects.select_related("scrapped_by", "event"))
    if unit and unit.strip():
        text = unit.strip()
        qs = qs.filter(
            pk__in=ScrapRecord.objects.filter(
                Q(items__unit_epc=text) | Q(items__serial=text) | _items_q(text, user)
            ).values("pk")
        )
    return qs.prefetch_related("items").order_by("-scrapped_at", "-id")


def _items_q(text: str, user: User | None) -> Q:
    from medtrace.errors import MedtraceError
    from medtrace.trace.selectors import resolve_target

    try:
        return Q(items__unit_epc=resolve_target(text, user=user, allow_class=False).epc)
    except MedtraceError:
        return Q(pk__in=[])


def scrap_get(*, user: User | None, pk: int) -> ScrapRecord:
    row = scrap_list(user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No scrap record {pk}", details={"id": pk})
    return row
