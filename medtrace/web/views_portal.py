"""The partner portal: a distributor's or hospital's home page.

One page with what the partner does in medtrace: its devices (units it holds or held, by the
partner scoping of ``medtrace.accounts.scoping``), incoming shipments to confirm, recall notices
to acknowledge (with the units still awaiting a disposition and the deadline) and complaints to
submit. Every list goes through the same scoped selectors as the detailed pages, so nothing of
another party appears; staff have no portal (403) and land on their own home page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.ledger.models import UnitState
from medtrace.web.links import page_url

# How many rows each section shows; the section's own page lists the rest.
_LIMIT = 25


def portal_context(user: User) -> dict[str, object]:
    """Everything the portal shows to ``user`` (a partner), each list scoped to its party."""
    from medtrace.complaints import selectors as complaints
    from medtrace.distribution import selectors as distribution
    from medtrace.recalls import common as recalls
    from medtrace.recalls.models import NoticeStatus, UnitStatus

    role = user.party.role if user.party is not None else ""
    units = scoping.scope_units(user, UnitState.objects.select_related("product")).order_by(
        "-last_event_time", "epc"
    )
    serialized = units.filter(serial__isnull=False)
    devices = [{"unit": u, "url": page_url(u.epc, "unit")} for u in serialized[:_LIMIT]]
    notices = list(
        recalls.notices_visible(user)
        .exclude(status=NoticeStatus.RESOLVED)
        .annotate(pending=Count("units", filter=Q(units__status=UnitStatus.PENDING)))
        .order_by("deadline_at", "-sent_at", "-id")[:_LIMIT]
    )
    context: dict[str, object] = {
        "party": user.party,
        "devices": devices,
        "device_count": serialized.count(),
        "notices": notices,
        "incoming": list(distribution.incoming(user=user)[:_LIMIT])
        if role in ("distributor", "hospital")
        else [],
        "may_receive": role in ("distributor", "hospital"),
        "may_complain": role == "hospital",
        "complaints": list(complaints.complaint_list(user=user)[:_LIMIT])
        if role == "hospital"
        else [],
    }
    return context


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not scoping.is_partner(user):
        message = _("The portal is for partners' staff (a distributor's or hospital's user).")
        return render(request, "web/forbidden.html", {"message": message}, status=403)
    return render(request, "web/portal.html", portal_context(user))
