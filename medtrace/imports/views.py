"""Import pages (/imports/): upload a file, watch it run, read its errors.

Uploading keeps the file as a job (``import_create``) and opens the job's page. There a small
script starts the run (``POST run/``) and polls ``progress/`` every half second, drawing a
progress bar (rows validated, then rows stored) until the run answers; then the page reloads
with the outcome: what was created, or every error by row and column. Without JavaScript the
page offers a button that runs the import and comes back to the page.

For internal staff who may import at least one kind (the master-data add permissions, or
``imports.import_history``); partners get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, PermissionDenied, ValidationFailed

from . import selectors, services
from .blanks import FORMATS, template_file
from .models import ImportKind, ImportStatus

View = Callable[..., HttpResponse]
LIST_LIMIT = 50
SUMMARY_LABELS = {
    "parties": gettext_lazy("parties"),
    "locations": gettext_lazy("locations"),
    "products": gettext_lazy("products"),
    "identifiers": gettext_lazy("DIs (packaging levels)"),
    "materials": gettext_lazy("materials"),
    "material_sources": gettext_lazy("approved material sources"),
    "units": gettext_lazy("units"),
    "events": gettext_lazy("ledger events"),
    "rows": gettext_lazy("rows"),
    "blank_rows": gettext_lazy("empty rows (not data, not read)"),
    "rows_with_errors": gettext_lazy("rows with errors"),
}


def _forbidden(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "web/forbidden.html", {"message": message}, status=status)


def allowed_kinds(user: User) -> list[tuple[str, str]]:
    """The kinds ``user`` may import, with their labels."""
    out = []
    for kind, label in ImportKind.choices:
        try:
            services.importer_for(kind).check_permission(user)
        except PermissionDenied:
            continue
        out.append((kind, str(label)))
    return out


def import_page(view: View) -> View:
    @login_required
    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        assert isinstance(user, User)
        if user.party_id is not None:
            return _forbidden(request, _("Imports are for our own staff."))
        if not allowed_kinds(user) and not user.has_perm(selectors.VIEW_ALL):
            return _forbidden(request, _("Your role may not import any kind of data."))
        try:
            return view(request, user, *args, **kwargs)
        except MedtraceError as exc:
            return _forbidden(request, exc.message, exc.status)

    return inner


@require_http_methods(["GET", "POST"])
@import_page
def import_list(request: HttpRequest, user: User) -> HttpResponse:
    kinds = allowed_kinds(user)
    form: dict[str, Any] = {"kind": request.GET.get("kind") or (kinds[0][0] if kinds else "")}
    error = ""
    if request.method == "POST":
        form = {"kind": request.POST.get("kind", ""), "dry_run": bool(request.POST.get("dry_run"))}
        upload = request.FILES.get("file")
        # Who may import this kind first (403 from import_page); then what is wrong with the form.
        importer = services.importer_for(form["kind"])
        importer.check_permission(user)
        try:
            if upload is None:
                raise ValidationFailed(_("Choose the file to import."), field="file")
            job = services.import_create(
                kind=form["kind"],
                name=upload.name or "",
                stream=upload,
                dry_run=form["dry_run"],
                user=user,
            )
        except ValidationFailed as exc:
            error = exc.message
        else:
            return redirect("imports:detail", pk=job.pk)
    jobs = list(selectors.job_list(user=user)[:LIST_LIMIT])
    return render(
        request,
        "imports/list.html",
        {
            "kinds": kinds,
            "all_kinds": ImportKind.choices,
            "formats": FORMATS,
            "form": form,
            "error": error,
            "jobs": jobs,
            "limit": LIST_LIMIT,
        },
        status=422 if error else 200,
    )


@require_GET
@import_page
def import_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    job = selectors.job_get(user=user, pk=pk)
    return render(
        request,
        "imports/detail.html",
        {
            "job": job,
            "progress": selectors.job_progress(job),
            "may_run": job.status == ImportStatus.PENDING and job.created_by_id == user.pk,
            "more_errors": max(job.error_count - len(job.errors), 0),
            "summary": [(SUMMARY_LABELS.get(k, k), v) for k, v in (job.summary or {}).items()],
        },
    )


@require_POST
@import_page
def import_run(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    job = selectors.job_get(user=user, pk=pk)
    if job.created_by_id != user.pk:
        raise PermissionDenied(_("Only whoever uploaded the file runs its import."))
    job = services.import_run(job=job, user=user)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(selectors.job_progress(job))
    return redirect("imports:detail", pk=job.pk)


@require_GET
@import_page
def import_progress(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    return JsonResponse(selectors.job_progress(selectors.job_get(user=user, pk=pk)))


@require_GET
@import_page
def import_template(request: HttpRequest, user: User, kind: str, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        return _forbidden(request, _("Templates come as csv or xlsx."), 404)
    body, content_type, name = template_file(kind, fmt)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
