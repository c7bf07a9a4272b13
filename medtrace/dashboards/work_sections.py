"""The queues of the "My work" page, one builder per queue (``work.my_work`` picks them by role).

Each builder reads through the owning app's selectors where one exists (its partner scoping and
permission checks included), counts the whole queue in one query and fetches its first items,
oldest or most urgent first, in one more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.errors import ValidationFailed

from .work import TOP, Builder, Item, Memo, Section, first

MAX_SCAN = 50  # the QC queues come from a selector that looks at recent units only


def _url(name: str, *args: object) -> str:
    return reverse(name, args=args)


# Everyone -------------------------------------------------------------------------------------


def alerts_section(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.alerts import selectors

    queue = selectors.work_queue(user=user, scope="mine")
    items = [
        Item(
            text=a.title,
            url=_url("alerts:detail", a.pk),
            when=a.created_at,
            note=a.get_severity_display(),
            bad=a.severity == "critical",
        )
        for a in first(queue.alerts)
    ]
    return Section(
        "alerts",
        _("Alerts addressed to me or my department"),
        queue.counts[selectors.LIVE],
        items,
        more_url=_url("alerts:queue"),
    )


# QA/RA and QC ---------------------------------------------------------------------------------


def nonconformances(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.quality import selectors

    qs = selectors.nc_list(status="unclosed").order_by("opened_at", "id")
    items = [
        Item(
            text=nc.title,
            ref=nc.number,
            url=_url("quality:nc_detail", nc.pk),
            when=nc.opened_at,
            note=nc.get_status_display(),
        )
        for nc in first(qs)
    ]
    return Section(
        "nonconformances",
        _("Open nonconformances"),
        qs.count(),
        items,
        more_url=_url("quality:nc_list"),
    )


def holds(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.quality import selectors

    qs = selectors.hold_list(active=True).order_by("placed_at", "id")
    items = [
        Item(
            text=h.reason or h.target,
            ref=h.number,
            url=_url("quality:holds"),
            when=h.placed_at,
            note=h.get_kind_display(),
        )
        for h in first(qs)
    ]
    return Section(
        "holds",
        _("Holds to release"),
        qs.count(),
        items,
        more_url=_url("quality:holds"),
        help=_("Open QC holds, quarantines and recall holds, oldest first."),
    )


def complaints(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.complaints import selectors
    from medtrace.complaints.models import ComplaintStatus

    qs = (
        selectors.complaint_list(user=user)
        .filter(status__in=(ComplaintStatus.OPEN, ComplaintStatus.INVESTIGATING))
        .order_by("received_at", "id")
    )
    items = [
        Item(
            text=c.product.name if c.product_id else c.udi_text,
            ref=c.number,
            url=_url("complaints:detail", c.number),
            when=c.received_at,
            note=c.get_status_display(),
            bad=bool(c.injury or c.death),
        )
        for c in first(qs)
    ]
    return Section(
        "complaints",
        _("Complaints to assess"),
        qs.count(),
        items,
        more_url=_url("complaints:list"),
        help=_("Open or under investigation: reportability not decided yet."),
    )


def adverse_reports(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.complaints import selectors
    from medtrace.complaints.models import AdverseEventDeadline

    visible = selectors.adverse_event_list(user=user)
    qs = (
        AdverseEventDeadline.objects.filter(
            reported_at__isnull=True, adverse_event__in=visible.values("pk")
        )
        .select_related("adverse_event__complaint")
        .order_by("due_at", "id")
    )
    items = []
    for d in first(qs):
        complaint = d.adverse_event.complaint
        items.append(
            Item(
                text=_(d.label),
                ref=d.adverse_event.number,
                url=_url("complaints:detail", complaint.number)
                if complaint is not None
                else _url("complaints:adverse_events"),
                due=d.due_at,
                note=d.get_jurisdiction_display(),
                bad=d.due_at < now,
            )
        )
    return Section(
        "adverse_reports",
        _("Adverse-event reports due"),
        qs.count(),
        items,
        more_url=_url("complaints:adverse_events"),
        help=_("Regulatory reports not yet filed, the nearest deadline first."),
    )


def recalls_to_decide(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.recalls.common import campaigns_visible
    from medtrace.recalls.models import CampaignStatus

    qs = (
        campaigns_visible(user)
        .filter(status__in=(CampaignStatus.DRAFT, CampaignStatus.OPEN), approved_at__isnull=True)
        .order_by("created_at", "id")
    )
    items = [
        Item(
            text=c.title,
            ref=c.number,
            url=_url("recalls:detail", c.number),
            when=c.created_at,
            note=_("to approve") if c.classified_at else _("to classify"),
        )
        for c in first(qs)
    ]
    return Section(
        "recalls",
        _("Recalls to classify or approve"),
        qs.count(),
        items,
        more_url=_url("dashboards:recalls"),
    )


def recall_notices_overdue(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.recalls.common import notices_visible
    from medtrace.recalls.models import NoticeStatus

    qs = (
        notices_visible(user)
        .exclude(status=NoticeStatus.DRAFT)
        .filter(acknowledged_at__isnull=True, deadline_at__lt=now)
        .select_related("consignee", "campaign")
        .order_by("deadline_at", "id")
    )
    items = [
        Item(
            text=n.consignee.name,
            ref=n.number,
            url=_url("recalls:notice", n.number),
            due=n.deadline_at,
            note=n.campaign.number,
            bad=True,
        )
        for n in first(qs)
    ]
    return Section(
        "recall_notices",
        _("Recall notices not acknowledged in time"),
        qs.count(),
        items,
        more_url=_url("dashboards:recalls"),
    )


def _awaiting(which: str, title: Any, help_text: Any) -> Builder:
    def build(user: User, now: datetime, memo: Memo) -> Section:
        from medtrace.quality import selectors

        # One scan serves both QC queues (inspection and release) of the page.
        if "awaiting" not in memo:
            memo["awaiting"] = selectors.awaiting(limit=MAX_SCAN)
        rows = memo["awaiting"][which]
        items = [
            Item(
                text=r["product"] or "",
                ref=r["serial"] or r["epc"],
                url=f"{_url('web:trace')}?id={r['epc']}",
                note=(r.get("result") or "") if which == "inspection" else "",
                bad=r.get("result") == "fail",
            )
            for r in rows[:TOP]
        ]
        section = Section(which, str(title), len(rows), items, more_url=_url("quality:home"))
        section.help = str(help_text) % {"n": MAX_SCAN} if len(rows) >= MAX_SCAN else ""
        return section

    return build


def incoming_lots(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.procurement import selectors

    qs = selectors.lots_awaiting_inspection().order_by("created_at", "id")
    items = [
        Item(
            text=f"{lot.material.name} · {lot.identifier}",
            ref=lot.lot or lot.identifier,
            url=_url("procurement:lot_detail", lot.pk),
            when=lot.created_at,
            note=lot.supplier.name if lot.supplier_id else "",
        )
        for lot in first(qs)
    ]
    return Section(
        "incoming_lots",
        _("Supplier lots awaiting incoming inspection"),
        qs.count(),
        items,
        more_url=_url("procurement:inspection_list"),
    )


# Warehouse ------------------------------------------------------------------------------------


def put_away(user: User, now: datetime, memo: Memo) -> Section:
    from django.db.models import Q

    from medtrace.ledger.models import UnitState
    from medtrace.lifecycle.services import own_party
    from medtrace.masterdata.models import Location
    from medtrace.warehouse.common import STORAGE_KINDS
    from medtrace.warehouse.selectors import in_stock_q, our_ids, released_q

    try:
        us = own_party()
    except ValidationFailed:  # no own company in master data yet: nothing is ours to store
        return Section("put_away", _("Released units to put away"), 0, [])
    storage = Location.objects.filter(party=us, kind__in=STORAGE_KINDS).values("sgln")
    ours = (
        Q(possessing_party__isnull=True)
        | Q(possessing_party="")
        | Q(possessing_party__in=our_ids())
    )
    qs = (
        UnitState.objects.filter(
            in_stock_q(), ours, released_q(), product__isnull=False, container__isnull=True
        )
        .exclude(biz_location__in=storage)
        .select_related("product")
        .order_by("last_event_time", "epc")
    )
    items = [
        Item(
            text=u.product.name if u.product else "",
            ref=u.serial or u.epc,
            url=f"{_url('web:trace')}?id={u.epc}",
            when=u.last_event_time,
        )
        for u in first(qs)
    ]
    return Section(
        "put_away",
        _("Released units to put away"),
        qs.count(),
        items,
        more_url=_url("warehouse:move"),
        help=_("Released and in our hands, not in a warehouse or bin yet (and not packed)."),
    )


def _pick_lists(key: str, status: str, title: Any, help_text: Any) -> Builder:
    def build(user: User, now: datetime, memo: Memo) -> Section:
        from medtrace.warehouse.models import PickList

        qs = (
            PickList.objects.filter(status=status)
            .select_related("product")
            .order_by("created_at", "id")
        )
        items = [
            Item(
                text=f"{p.product.name} × {p.quantity}",
                ref=p.number,
                url=_url("warehouse:pick_list", p.pk),
                when=p.completed_at or p.created_at,
                note=p.sales_order_ref,
            )
            for p in first(qs)
        ]
        return Section(
            key,
            str(title),
            qs.count(),
            items,
            more_url=_url("warehouse:pick_lists"),
            help=str(help_text),
        )

    return build


def stock_counts(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.warehouse.models import StockCount, StockCountStatus

    qs = (
        StockCount.objects.filter(status=StockCountStatus.OPEN)
        .select_related("location")
        .order_by("created_at", "id")
    )
    items = [
        Item(
            text=c.location.name,
            ref=c.number,
            url=_url("warehouse:count", c.pk),
            when=c.created_at,
        )
        for c in first(qs)
    ]
    return Section(
        "stock_counts",
        _("Stock counts in progress"),
        qs.count(),
        items,
        more_url=_url("warehouse:counts"),
    )


def returns_expected(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.distribution import selectors
    from medtrace.distribution.models import ReturnStatus

    qs = (
        selectors.returns(user=user, status=ReturnStatus.AUTHORISED)
        .select_related("customer")
        .order_by("created_at", "id")
    )
    items = [
        Item(
            text=r.customer.name,
            ref=r.number,
            url=_url("distribution:return", r.pk),
            when=r.created_at,
        )
        for r in first(qs)
    ]
    return Section(
        "returns",
        _("Returns authorised, not received yet"),
        qs.count(),
        items,
        more_url=_url("distribution:returns"),
    )


# Production, service, sales, procurement -------------------------------------------------------


def work_orders(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.production.models_orders import WorkOrderStatus
    from medtrace.production.selectors_dhr import work_order_list

    qs = (
        work_order_list(user=user)
        .filter(status__in=(WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS))
        .order_by("planned_start", "id")
    )
    items = [
        Item(
            text=f"{wo.product.name} · {wo.commissioned_qty}/{wo.quantity}",
            ref=wo.number,
            url=_url("production:order_detail", wo.pk),
            when=wo.started_at or wo.released_at,
            note=wo.get_status_display(),
            bad=wo.planned_end is not None and wo.planned_end < now.date(),
        )
        for wo in first(qs)
    ]
    return Section(
        "work_orders",
        _("Work orders released or in progress"),
        qs.count(),
        items,
        more_url=_url("production:home"),
    )


def maintenance(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.service import selectors

    due = selectors.maintenance_due(within_days=30, user=user)
    items = [
        Item(
            text=f"{d.installation.hospital.name} · {d.plan.get_kind_display()}",
            ref=d.installation.serial,
            url=_url("service:installation", d.installation.pk),
            note=d.due_on.isoformat(),
            bad=d.overdue,
        )
        for d in due[:TOP]
    ]
    return Section(
        "maintenance",
        _("Maintenance and calibration due within 30 days"),
        len(due),
        items,
        more_url=_url("service:home"),
    )


def tickets(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.service import selectors

    qs = selectors.ticket_list(user=user, open_only=True).order_by("opened_at", "id")
    items = [
        Item(
            text=t.symptom[:80],
            ref=t.number,
            url=_url("service:ticket", t.pk),
            when=t.opened_at,
            note=t.get_status_display(),
        )
        for t in first(qs)
    ]
    return Section(
        "tickets", _("Open service tickets"), qs.count(), items, more_url=_url("service:home")
    )


def orders_to_ship(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.distribution import selectors
    from medtrace.distribution.models import SalesOrderStatus

    qs = (
        selectors.sales_orders(user=user)
        .filter(status__in=(SalesOrderStatus.CONFIRMED, SalesOrderStatus.PARTIALLY_SHIPPED))
        .select_related("customer")
        .order_by("confirmed_at", "id")
    )
    items = [
        Item(
            text=o.customer.name,
            ref=o.number,
            url=_url("distribution:order", o.pk),
            when=o.confirmed_at or o.created_at,
            note=o.get_status_display(),
        )
        for o in first(qs)
    ]
    return Section(
        "orders_to_ship",
        _("Sales orders to ship"),
        qs.count(),
        items,
        more_url=_url("distribution:home"),
    )


def _shipments(key: str, status: str, title: Any) -> Builder:
    def build(user: User, now: datetime, memo: Memo) -> Section:
        from medtrace.distribution import selectors

        qs = selectors.shipments(user=user, status=status).order_by("shipped_at", "id")
        items = [
            Item(
                text=s.consignee_name,
                ref=s.number,
                url=_url("distribution:shipment", s.pk),
                when=s.shipped_at,
                bad=status != "in_transit",
            )
            for s in first(qs)
        ]
        return Section(key, str(title), qs.count(), items, more_url=_url("distribution:home"))

    return build


def purchase_orders(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.procurement import selectors

    qs = selectors.purchase_order_list(user=user, status="open").order_by("expected_on", "id")
    items = [
        Item(
            text=po.supplier.name,
            ref=po.number,
            url=_url("procurement:po_detail", po.pk),
            when=po.released_at or po.created_at,
            note=po.expected_on.isoformat() if po.expected_on else "",
            bad=po.expected_on is not None and po.expected_on < now.date(),
        )
        for po in first(qs)
    ]
    return Section(
        "purchase_orders",
        _("Open purchase orders"),
        qs.count(),
        items,
        more_url=_url("procurement:home"),
    )


def certificates(user: User, now: datetime, memo: Memo) -> Section:
    from medtrace.procurement import selectors

    qs = selectors.certificates_expiring(days=30, today=now.date())
    items = [
        Item(
            text=f"{c.party.name} · {c.get_kind_display()}",
            ref=c.number,
            url=_url("procurement:supplier_detail", c.party_id),
            note=c.expires_on.isoformat() if c.expires_on else "",
            bad=c.expires_on is not None and c.expires_on < now.date(),
        )
        for c in first(qs)
    ]
    return Section(
        "certificates",
        _("Supplier certificates expired or expiring within 30 days"),
        qs.count(),
        items,
        more_url=_url("procurement:supplier_list"),
    )


QA, QC, WH = Role.QA_RA, Role.QC, Role.WAREHOUSE
SECTIONS: list[tuple[str, tuple[str, ...], Builder]] = [
    ("recalls", (QA,), recalls_to_decide),
    ("recall_notices", (QA,), recall_notices_overdue),
    ("adverse_reports", (QA,), adverse_reports),
    ("complaints", (QA,), complaints),
    ("nonconformances", (QA, QC), nonconformances),
    ("holds", (QA, QC), holds),
    (
        "inspection",
        (QC,),
        _awaiting(
            "inspection",
            gettext_lazy("Units awaiting final inspection"),
            gettext_lazy("Among the %(n)s most recently made units in our hands."),
        ),
    ),
    (
        "release",
        (QC,),
        _awaiting(
            "release",
            gettext_lazy("Units passed, awaiting QC release"),
            gettext_lazy("Among the %(n)s most recently made units in our hands."),
        ),
    ),
    ("incoming_lots", (QC, Role.PROCUREMENT), incoming_lots),
    ("work_orders", (Role.PRODUCTION,), work_orders),
    ("put_away", (WH,), put_away),
    (
        "pick_lists",
        (WH,),
        _pick_lists("pick_lists", "open", gettext_lazy("Pick lists to pick"), ""),
    ),
    (
        "to_ship",
        (WH, Role.SALES),
        _pick_lists(
            "to_ship",
            "picked",
            gettext_lazy("Picked, waiting to be shipped"),
            gettext_lazy("Pick lists picked in full: create the shipment."),
        ),
    ),
    ("stock_counts", (WH,), stock_counts),
    ("orders_to_ship", (Role.SALES,), orders_to_ship),
    (
        "in_transit",
        (Role.SALES,),
        _shipments("in_transit", "in_transit", gettext_lazy("Shipments in transit")),
    ),
    (
        "discrepancies",
        (Role.SALES,),
        _shipments(
            "discrepancies",
            "received_with_discrepancies",
            gettext_lazy("Shipments received with discrepancies"),
        ),
    ),
    ("maintenance", (Role.SERVICE,), maintenance),
    ("tickets", (Role.SERVICE,), tickets),
    ("returns", (WH, Role.SERVICE), returns_expected),
    ("purchase_orders", (Role.PROCUREMENT,), purchase_orders),
    ("certificates", (Role.PROCUREMENT,), certificates),
]
