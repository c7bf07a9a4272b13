"""The partner's pages: its incoming shipments, and confirming what arrived by scanning it.

A distributor's or hospital's user sees only shipments addressed to its own party (another
party's: 404). Each scan is checked at once (it must be in transit to the partner), so the page
shows what is on the shipment, what is extra and what is still missing before the receipt is
confirmed.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from medtrace.accounts import scoping
from medtrace.accounts.models import User

from . import selectors, services
from .models import ReceiptChannel, Shipment
from .receipts import ReceiptPlan
from .views import FormError, _errors, add_scan, collected, page


def _partner_only(user: User) -> None:
    from medtrace.errors import PermissionDenied

    if not scoping.is_partner(user):
        raise PermissionDenied(
            _("This page is for the consignee's own staff (a distributor or hospital user).")
        )


@page(staff=False)
def incoming(request: HttpRequest, user: User) -> HttpResponse:
    _partner_only(user)
    return render(
        request,
        "distribution/incoming.html",
        {
            "shipments": selectors.incoming(user=user),
            "received": selectors.shipments(user=user).exclude(
                pk__in=selectors.incoming(user=user).values("pk")
            )[:50],
            "returns": selectors.returns(user=user)[:50],
        },
    )


@page(staff=False)
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    _partner_only(user)
    shipment: Shipment = selectors.shipment_get(user=user, pk=pk)
    items: list[str] = []
    plan: ReceiptPlan | None = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        items = collected(request)

        def check(scans: list[str]) -> ReceiptPlan:
            return services.receipt_check(shipment=shipment, scans=scans, user=user, field="scan")

        if request.POST.get("action") == "confirm" and items:
            try:
                receipt = services.shipment_receive(
                    shipment=shipment,
                    scans=items,
                    user=user,
                    channel=ReceiptChannel.UI,
                    field="scan",
                )
            except FormError as exc:
                errors = _errors(exc)
            else:
                if receipt.missing or receipt.extra:
                    messages.warning(
                        request,
                        _(
                            "Receipt %(n)s recorded with discrepancies: %(m)s missing, "
                            "%(e)s not on the shipment. The sender has been told."
                        )
                        % {"n": receipt.number, "m": len(receipt.missing), "e": len(receipt.extra)},
                    )
                else:
                    messages.success(
                        request, _("Receipt %(n)s recorded: complete.") % {"n": receipt.number}
                    )
                return redirect("distribution:shipment", pk=shipment.pk)
        else:
            items, plan, errors = add_scan(request, items, check)
    shipped = list(selectors.shipment_items(shipment))
    covered = set(plan.everything) if plan else set()
    rows = [
        {
            "item": item,
            "state": (
                "received" if item.received else ("scanned" if item.epc in covered else "open")
            ),
        }
        for item in shipped
    ]
    return render(
        request,
        "distribution/receive.html",
        {
            "shipment": shipment,
            "items": items,
            "rows": rows,
            "extra": plan.extra if plan else [],
            "missing": len(plan.missing) if plan else None,
            "errors": errors,
        },
        status=422 if errors and request.method == "POST" else 200,
    )
