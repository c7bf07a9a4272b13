"""What the recall pages share: who may see a page, errors next to their field, countdowns.

Staff pages (``staff_page``) are for internal users with a recall permission; a partner user
who opens the campaign list is sent to its portal, and gets 403 on the other staff pages. The
portal (``portal_page``) is for distributor and hospital users only; another party's notice is
"not found" (404), never "not allowed", so its existence does not leak.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, NotFound
from medtrace.masterdata.models import PartyRole

from . import common

View = Callable[..., HttpResponse]
_INDEX = re.compile(r"\[(\d+)\]")


def forbidden(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "web/forbidden.html", {"message": message}, status=status)


def actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def is_consignee(user: User) -> bool:
    """A distributor's or hospital's user: the partners recall notices go to."""
    party = user.party if user.party_id else None
    return party is not None and party.role in common.CONSIGNEE_ROLES


def staff_page(perm: str = common.PERM_VIEW, *, to_portal: bool = False) -> Callable[[View], View]:
    """Signed-in staff with ``perm``. Partners: to their portal when ``to_portal``, else 403.
    A service's NotFound (or any error outside a form) renders the forbidden page with its
    status."""

    def wrap(view: View) -> View:
        @login_required
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = actor(request)
            if common.is_partner(user):
                if to_portal and is_consignee(user):
                    return redirect("recalls:portal")
                return forbidden(request, _("The recall pages are for our own staff."))
            if not user.has_perm(perm):
                return forbidden(
                    request,
                    _("You need the permission %(perm)s for this recall page.") % {"perm": perm},
                )
            try:
                return view(request, *args, **kwargs)
            except MedtraceError as exc:
                return forbidden(request, exc.message, exc.status)

        return inner

    return wrap


def portal_page(view: View) -> View:
    """Signed-in distributor or hospital users (their own notices only)."""

    @login_required
    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = actor(request)
        if not is_consignee(user):
            return forbidden(
                request,
                _("The recall notice portal is for distributors' and hospitals' users."),
            )
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return forbidden(request, exc.message, 404)
        except MedtraceError as exc:
            return forbidden(request, exc.message, exc.status)

    return inner


def field_of(exc: MedtraceError) -> str:
    """The form field an error names: ``serials[3]`` -> ``serials``, ``hhe.hazard`` ->
    ``hhe_hazard``; the ``field: `` prefix of a message is the same name."""
    name = (exc.field or "").split("[")[0]
    return name.replace(".", "_")


def errors_of(
    exc: MedtraceError, fields: Iterable[str], rename: dict[str, str] | None = None
) -> dict[str, Any]:
    """``{field: message}`` for the template; an error of no known field goes to ``form``.
    Per-item errors (``details`` list of ``{"field", "message"}``) land in ``items`` as
    ``{index: message}`` under ``<field>_items``."""
    known = set(fields)
    rename = rename or {}
    name = field_of(exc)
    name = rename.get(name, name)
    out: dict[str, Any] = {}
    message = exc.message
    # The services prefix messages with their field name ("title: this field is required");
    # next to the field, the prefix says nothing new.
    if exc.field and message.startswith(f"{exc.field}: "):
        message = message[len(exc.field) + 2 :]
    out[name if name in known else "form"] = message
    if isinstance(exc.details, list):
        items: dict[int, str] = {}
        for item in exc.details:
            if not isinstance(item, dict):
                continue
            index = item.get("index")
            if not isinstance(index, int):
                found = _INDEX.search(str(item.get("field") or ""))
                index = int(found.group(1)) if found else None
            if index is not None and index not in items:
                items[index] = str(item.get("message", ""))
        if items:
            out[f"{name}_items"] = items
    return out


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


def span_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return ngettext("%(d)s day %(h)s h", "%(d)s days %(h)s h", days) % {"d": days, "h": hours}
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": mins}
    return _("%(m)s min") % {"m": mins}


def countdown(
    due: datetime | None, *, done: datetime | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A deadline as the pages show it: ``state`` met / met_late / overdue / soon (under a day
    left) / due / none, and a text ("2 days 3 h left", "overdue by 5 h", "met")."""
    if due is None:
        return {"due": None, "state": "none", "text": "—"}
    now = now or timezone.now()
    if done is not None:
        if done <= due:
            return {"due": due, "state": "met", "text": _("met")}
        return {
            "due": due,
            "state": "met_late",
            "text": _("met %(span)s late") % {"span": span_text(done - due)},
        }
    if now > due:
        return {
            "due": due,
            "state": "overdue",
            "text": _("overdue by %(span)s") % {"span": span_text(now - due)},
        }
    left = due - now
    return {
        "due": due,
        "state": "soon" if left < timedelta(days=1) else "due",
        "text": _("%(span)s left") % {"span": span_text(left)},
    }


def consignee_roles() -> tuple[str, ...]:
    return tuple(str(r) for r in (PartyRole.DISTRIBUTOR, PartyRole.HOSPITAL))
