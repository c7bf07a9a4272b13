"""What the quality pages share: the staff-only decorator and collected scans."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError

from . import services

View = Callable[..., HttpResponse]


def staff_page(perm: str) -> Callable[[View], View]:
    """Signed-in staff with ``perm``; partners and other roles see the 403 page."""

    def wrap(view: View) -> View:
        @login_required
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if getattr(user, "party_id", None) is not None or not user.has_perm(perm):
                message = _("Quality pages are for the manufacturer's quality staff.")
                return render(request, "web/forbidden.html", {"message": message}, status=403)
            return view(request, *args, **kwargs)

        return inner

    return wrap


def actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def scans_of(request: HttpRequest) -> tuple[list[str], dict[str, str], list[str]]:
    """The scans collected so far (``scans`` repeated + the new ``scan``), each resolved:
    (resolved targets, {raw scan: error}, raw scans in order)."""
    raw = [s for s in request.GET.getlist("scans") if s.strip()]
    new = request.GET.get("scan", "").strip()
    if new and new not in raw:
        raw.append(new)
    targets: list[str] = []
    errors: dict[str, str] = {}
    for text in raw:
        try:
            targets.append(services.scan_target(text, field="scan"))
        except MedtraceError as exc:
            errors[text] = exc.message
    return list(dict.fromkeys(targets)), errors, raw
