"""Rate limits per client on sign-in and capture (DESIGN §9).

A fixed-window counter in Django's cache: each client key gets one counter per window of
``seconds``, and a request beyond ``count`` in the window is refused with 429 and a
``Retry-After`` of the seconds left in the window. The rules are ``settings.RATE_LIMITS``
("requests/seconds", from ``MEDTRACE_RATE_LOGIN`` and ``MEDTRACE_RATE_CAPTURE``).

Which client a request counts against:

- sign-in: the client IP (``REMOTE_ADDR``; a proxy in front must pass the real address there),
  counting failed attempts only (a successful sign-in redirects and is not counted);
- capture: the bearer token (by its hash), else the signed-in user, else the client IP.

The counters live in the default cache. With the per-process local-memory cache each worker
process counts on its own, so N workers allow up to N times the limit; a shared cache (Redis,
memcached) makes the limit exact.

``RateLimitMiddleware`` applies the rules to the views named in ``LIMITED_VIEWS``; a view that
signs in by other means can call ``check(request, "login")``, which raises ``RateLimited``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from medtrace.errors import RateLimited

# URL name -> rule, for POST requests only.
LIMITED_VIEWS = {
    "login": "login",
    "admin:login": "login",
    "epcis:capture": "capture",
    "epcis:events": "capture",
}


@dataclass(frozen=True)
class Rule:
    count: int
    seconds: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: Rule
    used: int
    retry_after: int  # whole seconds until the window ends (at least 1)


def rule_for(scope: str) -> Rule:
    text = settings.RATE_LIMITS[scope]
    count, _slash, seconds = str(text).partition("/")
    return Rule(count=int(count), seconds=int(seconds))


def hit(scope: str, key: str, *, now: float | None = None) -> Decision:
    """Count one request of ``key`` against the ``scope`` rule and say whether it may pass."""
    rule = rule_for(scope)
    now = time.time() if now is None else now
    window = int(now // rule.seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"medtrace:rate:{scope}:{digest}:{window}"
    cache.add(cache_key, 0, timeout=rule.seconds + 1)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # the counter expired between add and incr
        cache.add(cache_key, 1, timeout=rule.seconds + 1)
        used = 1
    retry_after = max(1, math.ceil((window + 1) * rule.seconds - now))
    return Decision(allowed=used <= rule.count, rule=rule, used=used, retry_after=retry_after)


def peek(scope: str, key: str, *, now: float | None = None) -> Decision:
    """Whether ``key`` may make one more ``scope`` request, without counting it."""
    rule = rule_for(scope)
    now = time.time() if now is None else now
    window = int(now // rule.seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    used = int(cache.get(f"medtrace:rate:{scope}:{digest}:{window}", 0))
    retry_after = max(1, math.ceil((window + 1) * rule.seconds - now))
    return Decision(allowed=used < rule.count, rule=rule, used=used, retry_after=retry_after)


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def client_key(request: HttpRequest, scope: str) -> str:
    if scope == "login":
        return f"ip:{client_ip(request)}"
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and header[7:].strip():
        from medtrace.accounts.services import hash_token

        return f"token:{hash_token(header[7:].strip())}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def message(scope: str, decision: Decision) -> str:
    what = _("failed sign-in attempts") if scope == "login" else _("capture requests")
    return _(
        "Too many %(what)s from this client: the limit is %(count)d per %(seconds)d seconds. "
        "Try again in %(retry)d seconds."
    ) % {
        "what": what,
        "count": decision.rule.count,
        "seconds": decision.rule.seconds,
        "retry": decision.retry_after,
    }


def _refusal(scope: str, decision: Decision) -> RateLimited:
    return RateLimited(
        message(scope, decision),
        retry_after=decision.retry_after,
        details={
            "limit": decision.rule.count,
            "window_seconds": decision.rule.seconds,
            "retry_after": decision.retry_after,
        },
    )


def check(request: HttpRequest, scope: str) -> None:
    """Count this request; raise ``RateLimited`` when the client is over the limit."""
    decision = hit(scope, client_key(request, scope))
    if not decision.allowed:
        raise _refusal(scope, decision)


def response_for(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """429 in the shape the path's clients read: RFC 7807 for EPCIS, the API error shape for
    /api/, a page for people."""
    response: HttpResponse
    if request.path.startswith("/epcis/"):
        from medtrace.ledger.epcis_http import problem

        response = problem(
            429,
            "about:blank",
            "Too Many Requests",
            detail=exc.message,
            retryAfter=exc.retry_after,
        )
    elif request.path.startswith("/api/"):
        response = HttpResponse(
            json.dumps(exc.as_dict(), ensure_ascii=False),
            status=429,
            content_type="application/json",
        )
    else:
        response = render(request, "web/rate_limited.html", {"message": exc.message}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


class RateLimitMiddleware:
    """Refuse POSTs to the views of ``LIMITED_VIEWS`` beyond their rule, before the view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "_medtrace_login_attempt", False) and response.status_code != 302:
            # Only a failed sign-in counts (a successful one redirects): people signing in
            # are never throttled, guessing passwords across user names is.
            hit("login", client_key(request, "login"))
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method != "POST" or request.resolver_match is None:
            return None
        scope = LIMITED_VIEWS.get(request.resolver_match.view_name)
        if scope is None:
            return None
        if scope == "login":
            decision = peek(scope, client_key(request, scope))
            if not decision.allowed:
                return response_for(request, _refusal(scope, decision))
            request._medtrace_login_attempt = True  # type: ignore[attr-defined]
            return None
        try:
            check(request, scope)
        except RateLimited as exc:
            return response_for(request, exc)
        return None
