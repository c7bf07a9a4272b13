"""Conditions pages: a scan station for readings, logger import, limits, and a record's page.

The station works with a keyboard-wedge scanner and no JavaScript: the scan box has the focus,
and Enter (the form's first button) adds the scanned unit, case or lot to the list, which
travels in hidden fields; with the scan box empty and a reading typed, Enter records.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, PermissionDenied, ValidationFailed
from medtrace.lifecycle.services import own_party
from medtrace.masterdata.models import Location, Product

from . import evaluation, selectors, services
from .models import Phase, ProfilePhase
from .readings import Problem, parse_pasted, split_targets

# A dry-run file travels back in the page to be imported without uploading it again.
_CARRY_MAX = 4 * 1024 * 1024


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required
    user = request.user
    if scoping.is_partner(user) or not user.has_perm("conditions.view_conditionrecord"):
        raise PermissionDenied(_("Condition records are the manufacturer's quality records"))
    return user


def _forbidden(request: HttpRequest, exc: MedtraceError) -> HttpResponse:
    return render(request, "web/forbidden.html", {"message": exc.message}, status=403)


def _locations() -> list[Location]:
    """Active locations, ours first (a transport logger may end at a partner's site)."""
    try:
        ours = own_party().pk
    except MedtraceError:
        ours = None
    places = list(Location.objects.filter(active=True).select_related("party").order_by("code"))
    return sorted(places, key=lambda p: (p.party_id != ours, p.party.name, p.code))


def _errors(problems: list[Problem]) -> dict[str, str]:
    """The first message per form field (the station's fields are flat)."""
    out: dict[str, str] = {}
    for problem in problems:
        key = problem.field.split("[", 1)[0].split(".", 1)[0]
        out.setdefault(key, problem.message)
    return out


def _exc_errors(exc: MedtraceError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, list) else []
    problems = [
        Problem(str(d.get("field") or "form"), str(d.get("message") or ""), d.get("row"))
        for d in details
        if isinstance(d, dict)
    ]
    out = _errors(problems) if problems else {}
    if not out:
        out[(exc.field or "form").split("[", 1)[0]] = exc.message
    return out


def _context(request: HttpRequest, user: User, **extra: Any) -> dict[str, Any]:
    records = list(selectors.record_list(user=user, limit=20))
    context: dict[str, Any] = {
        "phases": Phase.choices,
        "locations": _locations(),
        "records": records,
        "excursions": [
            selectors.excursion_dict(e) for e in selectors.excursion_list(user=user, limit=20)
        ],
        "can_record": user.has_perm(services.PERM_RECORD),
        "station": {
            "phase": Phase.STORAGE,
            **request.session.get("conditions_station", {}),
            "targets": [],
            "errors": {},
        },
        "upload": {"phase": Phase.STORAGE, "dry_run": True, "errors": {}},
    }
    context.update(extra)
    return context


def _station_form(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "phase": post.get("phase", Phase.STORAGE),
        "location": post.get("location", ""),
        "device": post.get("device", "").strip(),
        "targets": [t for t in post.getlist("target") if t.strip()],
        "time": post.get("time", "").strip(),
        "temperature": post.get("temperature", "").strip(),
        "humidity": post.get("humidity", "").strip(),
        "paste": post.get("paste", ""),
        "note": post.get("note", ""),
        "errors": {},
    }


def _station_readings(form: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Problem]]:
    now = timezone.now()
    time = form["time"] or timezone.localtime(now).isoformat(timespec="seconds")
    readings = [
        {"time": time, "type": kind, "value": form[kind]}
        for kind in ("temperature", "humidity")
        if form[kind]
    ]
    problems: list[Problem] = []
    if form["paste"].strip():
        parsed = parse_pasted(form["paste"], now=now)
        problems.extend(Problem("paste", p.text()) for p in parsed.problems)
        readings.extend(
            {"time": r.time.isoformat(), "type": r.measurement, "value": str(r.value)}
            for r in parsed.readings
        )
    return readings, problems


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The scan station: scan units/cases/lots, type or paste readings, record."""
    try:
        user = _user(request)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    if request.method == "GET":
        return render(request, "conditions/home.html", _context(request, user))
    if not user.has_perm(services.PERM_RECORD):
        return _forbidden(request, PermissionDenied(_("Your role may not record readings")))
    form = _station_form(request)
    action = request.POST.get("action", "scan")
    scan = request.POST.get("scan", "").strip()
    status = 200
    if action.startswith("remove:"):
        index = action.removeprefix("remove:")
        if index.isdigit() and int(index) < len(form["targets"]):
            form["targets"].pop(int(index))
    elif action == "clear":
        form["targets"] = []
    elif scan or (action == "scan" and not (form["temperature"] or form["humidity"]
                                             or form["paste"].strip())):  # fmt: skip
        for text in split_targets(scan):
            resolved, problems = evaluation.resolve_texts([text], user=user, field="scan")
            if problems:
                form["errors"]["scan"] = problems[0].message
                status = 422
            elif text not in form["targets"] and resolved[text] not in form["targets"]:
                form["targets"].append(resolved[text])
    else:
        readings, problems = _station_readings(form)
        if problems:
            form["errors"] = _errors(problems)
            status = 422
        else:
            try:
                done = services.readings_record(
                    targets=form["targets"],
                    readings=readings,
                    phase=form["phase"],
                    device=form["device"],
                    location=form["location"] or None,
                    user=user,
                    note=form["note"],
                )
            except PermissionDenied as exc:
                return _forbidden(request, exc)
            except MedtraceError as exc:
                form["errors"] = _exc_errors(exc)
                status = exc.status
            else:
                # Keep the station's phase, place and device for the next scans.
                request.session["conditions_station"] = {
                    k: form[k] for k in ("phase", "location", "device")
                }
                url = reverse("conditions:record", args=[done.record.number])
                return redirect(f"{url}?recorded=1")
    return render(
        request, "conditions/home.html", _context(request, user, station=form), status=status
    )


def _upload_form(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "phase": post.get("phase", Phase.STORAGE),
        "location": post.get("location", ""),
        "device": post.get("device", "").strip(),
        "targets_text": post.get("targets", ""),
        "dry_run": post.get("dry_run") == "on",
        "note": post.get("note", ""),
        "errors": {},
    }


def _upload_content(request: HttpRequest, form: dict[str, Any]) -> tuple[str, bytes] | None:
    upload = request.FILES.get("file")
    if upload is not None:
        return upload.name or "logger.csv", upload.read()
    carried = request.POST.get("carried", "")
    if carried:
        try:
            content = base64.b64decode(carried.encode(), validate=True)
        except (binascii.Error, ValueError):
            return None
        if hashlib.sha256(content).hexdigest() == request.POST.get("carried_sha256"):
            return request.POST.get("carried_name", "logger.csv"), content
    return None


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """Import a logger file: a dry run first (checked, nothing stored), then the import."""
    try:
        user = _user(request)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    if not user.has_perm(services.PERM_RECORD):
        return _forbidden(request, PermissionDenied(_("Your role may not record readings")))
    form = _upload_form(request)
    found = _upload_content(request, form)
    if found is None:
        form["errors"]["file"] = _("choose the logger file (CSV or XLSX)")
        return render(
            request, "conditions/home.html", _context(request, user, upload=form), status=422
        )
    name, content = found
    try:
        result = services.readings_import(
            name=name,
            content=content,
            phase=form["phase"],
            device=form["device"],
            location=form["location"] or None,
            targets=split_targets(form["targets_text"]),
            dry_run=form["dry_run"],
            user=user,
            note=form["note"],
        )
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except ValidationFailed as exc:
        details = exc.details if isinstance(exc.details, list) else []
        form["problems"] = details or [{"field": exc.field or "file", "message": exc.message}]
        form["errors"] = {"file": exc.message}
        return render(
            request, "conditions/home.html", _context(request, user, upload=form), status=422
        )
    except MedtraceError as exc:
        form["errors"] = {"file": exc.message}
        return render(
            request, "conditions/home.html", _context(request, user, upload=form),
            status=exc.status,
        )  # fmt: skip
    if result.dry_run:
        form["result"] = result
        form["problems"] = [p.as_dict() for p in result.problems]
        if result.ok and len(content) <= _CARRY_MAX:
            form["carried"] = base64.b64encode(content).decode()
            form["carried_name"] = name
            form["carried_sha256"] = result.sha256
        form["dry_run"] = False  # the next press imports
        groups = [
            {"group": g, "breaches": [services.breach_text(b, g.location) for b in g.breaches]}
            for g in result.groups
        ]
        form["groups"] = groups
        return render(request, "conditions/home.html", _context(request, user, upload=form))
    numbers = [r.record.number for r in result.recorded]
    if len(numbers) == 1:
        return redirect(reverse("conditions:record", args=[numbers[0]]) + "?recorded=1")
    return render(
        request,
        "conditions/home.html",
        _context(request, user, imported=numbers),
        status=201,
    )


@login_required
def record(request: HttpRequest, number: str) -> HttpResponse:
    try:
        user = _user(request)
        found = selectors.record_get(user=user, number=number)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except MedtraceError as exc:
        return render(request, "web/trace_error.html", {"error": exc.message}, status=exc.status)
    excursions = selectors.excursion_list(user=user, records=[found.pk], limit=1000)
    targets = selectors.excursion_targets(excursions)
    return render(
        request,
        "conditions/record.html",
        {
            "record": found,
            "readings": selectors.record_readings(found),
            "excursions": [
                {**selectors.excursion_dict(e), "targets": targets.get(e.pk, [])}
                for e in excursions
            ],
            "recorded": request.GET.get("recorded") == "1",
        },
    )


# Limits ----------------------------------------------------------------------------------------


def _profile_data(post: Any) -> dict[str, Any]:
    data = {
        name: post.get(name, "").strip()
        for name in ("phase", "temperature_min", "temperature_max", "humidity_min",
                     "humidity_max", "basis")
    }  # fmt: skip
    if "active" in post or "was_active" in post:
        data["active"] = post.get("active") == "on"
    return data


@login_required
@require_http_methods(["GET", "POST"])
def profiles(request: HttpRequest) -> HttpResponse:
    """Temperature and humidity limits per product and phase; QA/RA adds and changes them."""
    try:
        user = _user(request)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    errors: dict[str, str] = {}
    form: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        form = {**request.POST.dict()}
        product = Product.objects.filter(pk=request.POST.get("product") or 0).first()
        try:
            if product is None:
                raise ValidationFailed(_("product: choose the product"), field="product")
            services.profile_create(
                product=product,
                data=_profile_data(request.POST),
                user=user,
                reason=request.POST.get("reason", ""),
            )
        except PermissionDenied as exc:
            return _forbidden(request, exc)
        except MedtraceError as exc:
            errors = _exc_errors(exc)
            status = exc.status
        else:
            return redirect("conditions:profiles")
    return render(
        request,
        "conditions/profiles.html",
        {
            "profiles": selectors.profile_list(user=user),
            "products": Product.objects.filter(active=True).order_by("name", "model"),
            "phases": ProfilePhase.choices,
            "can_add": user.has_perm(services.PERM_PROFILE_ADD),
            "can_change": user.has_perm(services.PERM_PROFILE_CHANGE),
            "errors": errors,
            "form": form,
            "change_error": request.GET.get("error", ""),
        },
        status=status,
    )


@login_required
@require_POST
def profile_change(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        user = _user(request)
        profile = selectors.profile_get(user=user, pk=pk)
        data = _profile_data(request.POST)
        data["phase"] = data["phase"] or profile.phase
        services.profile_update(
            profile=profile, data=data, user=user, reason=request.POST.get("reason", "")
        )
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    except MedtraceError as exc:
        return render(
            request,
            "conditions/profiles.html",
            {
                "profiles": selectors.profile_list(user=user),
                "products": Product.objects.filter(active=True).order_by("name", "model"),
                "phases": ProfilePhase.choices,
                "can_add": user.has_perm(services.PERM_PROFILE_ADD),
                "can_change": user.has_perm(services.PERM_PROFILE_CHANGE),
                "errors": {},
                "form": {},
                "change_error": exc.message,
                "change_pk": pk,
            },
            status=exc.status,
        )
    return redirect("conditions:profiles")
