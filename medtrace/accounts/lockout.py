"""The answer to a locked-out sign-in (django-axes' AXES_LOCKOUT_CALLABLE).

Axes' own response is a 429 page without ``Retry-After``; this one carries it (the lock-out
period, counted from the last failed attempt) and answers JSON to API clients.
"""

from __future__ import annotations

import json
from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    limit = get_failure_limit(request, credentials)
    response: HttpResponse
    if request.path.startswith("/api/"):
        text = _(
            "Too many failed sign-in attempts: this account is locked for %(minutes)s minutes "
            "from this address, or until an administrator unlocks it."
        ) % {"minutes": minutes}
        body = {
            "error": "locked_out",
            "message": text,
            "field": None,
            "details": {"failure_limit": limit, "lockout_minutes": minutes},
        }
        response = HttpResponse(json.dumps(body), status=429, content_type="application/json")
    else:
        response = render(
            request,
            settings.AXES_LOCKOUT_TEMPLATE,
            {"failure_limit": limit, "lockout_minutes": minutes},
            status=429,
        )
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
