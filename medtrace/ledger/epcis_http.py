"""Shared plumbing of the EPCIS 2.0 REST binding: auth, GS1 headers, RFC 7807 problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from medtrace.accounts.services import token_authenticate

from .services import CAPTURE_FILE_SIZE_LIMIT, CAPTURE_LIMIT

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"

View = Callable[..., HttpResponse]


def gs1_headers(response: HttpResponse) -> HttpResponse:
    response["GS1-EPCIS-Version"] = EPCIS_VERSION
    response["GS1-CBV-Version"] = CBV_VERSION
    response["GS1-EPCIS-Min"] = EPCIS_VERSION
    response["GS1-EPCIS-Max"] = EPCIS_VERSION
    response["GS1-CBV-Min"] = CBV_VERSION
    response["GS1-CBV-Max"] = CBV_VERSION
    response["GS1-EPC-Format"] = "Always_EPC_URN"
    response["GS1-EPCIS-Capture-Limit"] = str(CAPTURE_LIMIT)
    response["GS1-EPCIS-Capture-File-Size-Limit"] = str(CAPTURE_FILE_SIZE_LIMIT)
    response["GS1-Capture-Error-Behaviour"] = "all"
    response["GS1-Vendor-Version"] = "medtrace"
    return response


def problem(
    status: int, type_: str, title: str, *, detail: str | None = None, **extra: Any
) -> HttpResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type="application/problem+json"
    )
    return gs1_headers(response)


def json_response(
    body: Any,
    *,
    status: int = 200,
    content_type: str = "application/ld+json",
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, default=str), status=status, content_type=content_type
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return gs1_headers(response)


def authenticated(scope: str, *, partner_scope: str | None = None) -> Callable[[View], View]:
    """Bearer token with `scope`, or a signed-in session; CSRF does not apply to tokens.

    ``partner_scope``: the scope a partner user's token needs instead (partner tokens never
    carry ``epcis:capture``; ``partner:receive`` lets them capture their own receipts, which
    the view checks event by event)."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            header = request.headers.get("Authorization", "")
            if header.lower().startswith("bearer "):
                token = token_authenticate(header[7:].strip())
                if token is None:
                    return problem(
                        401,
                        "epcisException:SecurityException",
                        "Unknown, expired or revoked API token",
                    )
                needed = scope
                if partner_scope and token.user.party_id is not None:
                    needed = partner_scope
                if needed not in token.scopes:
                    return problem(
                        403,
                        "epcisException:SecurityException",
                        f"This API token lacks the scope {needed!r}",
                        detail=f"create one with `medtrace create_token USER --scope {needed}`",
                    )
                request.user = token.user
                request.api_token = token  # type: ignore[attr-defined]
            elif not request.user.is_authenticated:
                return problem(
                    401,
                    "epcisException:SecurityException",
                    "Authentication required: send 'Authorization: Bearer <token>'",
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


__all__ = ["JsonResponse", "authenticated", "gs1_headers", "json_response", "problem"]
