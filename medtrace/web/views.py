"""Pages for people. Thin: parse the request, call a selector or service, render.

A partner user sees only the products in its scope (``medtrace.accounts.scoping``); any other
product page is 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.audit.signatures import signatures_for
from medtrace.errors import MedtraceError, ValidationFailed
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.masterdata import labelling, selectors
from medtrace.masterdata.models import Product
from medtrace.trace.selectors import resolve_target
from medtrace.web.links import page_url


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if scoping.is_partner(_user(request)):
        return redirect("web:portal")
    return product_list(request)


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    products = scoping.scope_products(_user(request), selectors.product_list(q=q or None))
    if wants_export(request):
        return lists.respond(request, "products", products)
    return render(request, "web/product_list.html", {"products": products, "q": q})


def _sample_query(product: Product) -> str:
    """A plausible sample PI for the preview label of a product."""
    params: dict[str, str] = {}
    elements = product.udi_pi_elements
    today = date.today()
    if "serial" in elements:
        params["serial"] = "SAMPLE0001"
    if "lot" in elements:
        params["lot"] = f"L{today:%y%m}01"
    if "manufactured" in elements:
        params["manufactured"] = today.isoformat()
    if "expiry" in elements:
        days = product.shelf_life_days or 365
        params["expiry"] = date.fromordinal(today.toordinal() + days).isoformat()
    return urlencode(params)


@login_required
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(
        scoping.scope_products(_user(request), selectors.product_list()), pk=pk
    )
    boms = scoping.unscoped_nothing(_user(request), selectors.bom_list(product_id=product.pk))
    return render(
        request,
        "web/product_detail.html",
        {
            "product": product,
            "boms": boms,
            "sample_query": _sample_query(product),
            "signatures": signatures_for(product),
        },
    )


def _date_param(request: HttpRequest, name: str) -> date | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name}: {raw!r} is not a date; expected YYYY-MM-DD", field=name
        ) from exc


@login_required
def product_label(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    product = get_object_or_404(
        scoping.scope_products(_user(request), Product.objects.all()), pk=pk
    )
    try:
        if fmt not in ("png", "svg"):
            raise ValidationFailed("format: expected png or svg", field="format")
        symbology = request.GET.get("symbology", "datamatrix")
        if symbology not in ("datamatrix", "qr"):
            raise ValidationFailed("symbology: expected datamatrix or qr", field="symbology")
        req = labelling.LabelRequest(
            product=product,
            serial=request.GET.get("serial") or None,
            lot=request.GET.get("lot") or None,
            expiry=_date_param(request, "expiry"),
            manufactured=_date_param(request, "manufactured"),
            symbology=symbology,  # type: ignore[arg-type]
        )
        content, media_type = labelling.render(req, fmt)  # type: ignore[arg-type]
    except MedtraceError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    return HttpResponse(content, content_type=media_type)


@login_required
def scan(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "")
    context: dict[str, object] = {"scan_code": code}
    if code.strip():
        try:
            identity, product = selectors.resolve_udi(code)
            if product is not None:
                scoped = Product.objects.filter(pk=product.pk)
                product = scoping.scope_products(_user(request), scoped).first()
            context.update(identity=identity, product=product)
        except MedtraceError as exc:
            context["error"] = exc.message
        else:
            # A scan of something the ledger knows opens its page straight away.
            user = request.user if isinstance(request.user, User) else None
            try:
                target = resolve_target(code, user=user)
            except MedtraceError:
                pass
            else:
                # A unit opens its life story; a lot (01)+(10) or an SSCC (00) its trace page.
                return redirect(page_url(target.epc, target.kind))
    else:
        context["error"] = "empty scan"
    return render(request, "web/scan.html", context, status=422 if "error" in context else 200)
