"""Give every request an ID (X-Request-ID, echoed back) and tell the audit trail its channel."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse

from .context import audit_context, clean_request_id, new_request_id


def source_for_path(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/epcis/"):
        return "epcis"
    if path.startswith("/admin/"):
        return "admin"
    return "ui"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get("X-Request-ID")) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        # A reason for the change may come as a header (percent-encode non-ASCII text), which is
        # how DELETE requests, having no body, give theirs.
        reason = unquote(request.headers.get("X-Change-Reason", "")).strip()
        with audit_context(
            source=source_for_path(request.path), request_id=request_id, reason=reason
        ):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
