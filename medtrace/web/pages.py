"""What the department pages share: the access check of a page, and service errors shown next
to their form fields."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound
from medtrace.service.common import is_partner, partner_hospital

View = Callable[..., HttpResponse]


def staff_or_hospital_page(
    perm: str, *, hospitals: bool, forbidden: Callable[[], str]
) -> Callable[[View], View]:
    """Signed-in staff with ``perm``; hospital partners too when ``hospitals`` (the services
    then limit them to their own hospital). Others get 403 with ``forbidden()``; a ``NotFound``
    from the view is a 404 page."""

    def wrap(view: View) -> View:
        @login_required
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            assert isinstance(user, User)
            if is_partner(user):
                allowed = hospitals and partner_hospital(user) is not None
            else:
                allowed = user.has_perm(perm)
            if not allowed:
                return render(request, "web/forbidden.html", {"message": forbidden()}, status=403)
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                return render(request, "web/forbidden.html", {"message": exc.message}, status=404)

        return inner

    return wrap


def form_errors(exc: MedtraceError, fields: tuple[str, ...]) -> dict[str, str]:
    """``{field: message}`` for the template; an error of no known field goes to ``form``."""
    field = (exc.field or "").split("[")[0].split(".")[0]
    return {field if field in fields else "form": exc.message}
