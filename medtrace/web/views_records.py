"""Record pages: a record's e-signatures (with signing) and its full audit history; the audit
trail for auditors. Thin: the audit selectors and services do the work."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_http_methods

from medtrace.audit import selectors
from medtrace.audit.models import AuditAction, SignatureMeaning
from medtrace.audit.pdf import record_pdf
from medtrace.audit.signatures import signature_apply, signing_locked
from medtrace.errors import MedtraceError, NotFound, PermissionDenied
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export

# Where the record's own page is, when it has one.
_RECORD_PAGES = {"masterdata.product": "web:product_detail"}


def _ref(request: HttpRequest, object_type: str, object_id: str) -> selectors.RecordRef:
    try:
        return selectors.resolve_record(object_type, object_id, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _change_rows(entry: object) -> list[tuple[str, object, object, bool]]:
    """(field, old, new, is_change) rows of one entry, for the history table."""
    changes = getattr(entry, "changes", None) or {}
    action = getattr(entry, "action", "")
    rows = []
    for field, value in changes.items():
        if action == AuditAction.UPDATE and isinstance(value, list) and len(value) == 2:
            rows.append((field, value[0], value[1], True))
        else:
            rows.append((field, None, value, False))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def record_page(request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
    ref = _ref(request, object_type, object_id)
    sign_error = None
    sign_status = 422
    if request.method == "POST":
        if ref.instance is None:
            raise Http404("deleted records cannot be signed")
        if not request.user.has_perm("audit.add_signature"):
            sign_error = PermissionDenied("Your role cannot sign records").message
            sign_status = 403
        else:
            try:
                signature_apply(
                    record=ref.instance,
                    meaning=request.POST.get("meaning", ""),
                    user=request.user,
                    password=request.POST.get("password", ""),
                    reason=request.POST.get("reason", ""),
                )
            except MedtraceError as exc:
                sign_error, sign_status = exc.message, exc.status
            else:
                return redirect(request.path)
    history = [(entry, _change_rows(entry)) for entry in selectors.record_history(ref)]
    page_name = _RECORD_PAGES.get(ref.object_type)
    return render(
        request,
        "web/record.html",
        {
            "ref": ref,
            "verbose_name": ref.model._meta.verbose_name,
            "signatures": selectors.record_signatures(ref),
            "history": history,
            "meanings": SignatureMeaning.choices,
            "can_sign": ref.instance is not None and request.user.has_perm("audit.add_signature"),
            "signing_locked": signing_locked(request.user),
            "sign_error": sign_error,
            "record_url": reverse(page_name, args=[ref.object_id]) if page_name else None,
        },
        status=sign_status if sign_error else 200,
    )


@login_required
def record_pdf_view(request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
    ref = _ref(request, object_type, object_id)
    body = record_pdf(ref, language=translation.get_language() or "zh-hans")
    response = HttpResponse(body, content_type="application/pdf")
    name = f"{ref.object_type.replace('.', '-')}-{ref.object_id}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    try:
        entries = selectors.audit_entries(
            user=request.user,
            object_type=request.GET.get("object_type") or None,
            object_id=request.GET.get("object_id") or None,
            actor=request.GET.get("actor") or None,
            action=request.GET.get("action") or None,
        )
    except PermissionDenied as exc:
        return render(request, "web/forbidden.html", {"message": exc.message}, status=403)
    if wants_export(request):
        return lists.respond(request, "audit-trail", entries)
    page = Paginator(entries, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "web/audit_trail.html",
        {
            "page": page,
            "rows": [(entry, _change_rows(entry)) for entry in page.object_list],
            "actions": AuditAction.choices,
            "filters": request.GET,
        },
    )
