"""The REST API at /api/v1/: one NinjaAPI gathering each app's router, one error shape."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import HttpBearer, SessionAuth

from medtrace.accounts.services import token_authenticate
from medtrace.core.openapi import build_document
from medtrace.errors import MedtraceError, PermissionDenied, RateLimited


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = token_authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


def require_scope(request: HttpRequest, scope: str) -> None:
    """Tokens act only within their scopes; a signed-in person is limited by role alone."""
    token = getattr(request, "api_token", None)
    if token is not None and scope not in token.scopes:
        raise PermissionDenied(
            f"This API token lacks the scope {scope!r}; create one with "
            f"`medtrace create_token USER --scope {scope}`",
            details={"required_scope": scope, "token_scopes": token.scopes},
        )


class MedtraceAPI(NinjaAPI):
    """The document names each schema once and declares the error responses
    (medtrace.core.openapi); it is made once per process and prefix."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        if path_prefix not in self._documents:
            self._documents[path_prefix] = build_document(self, path_prefix)
        return self._documents[path_prefix]

    @cached_property
    def _documents(self) -> dict[str, OpenAPISchema]:
        return {}


api = MedtraceAPI(
    title="medtrace API",
    version="1",
    description="Serial-number lifecycle traceability for medical devices. Every error has the "
    'shape {"error": code, "message": text, "field": name or null, "details": ...}.',
    auth=[BearerAuth(), SessionAuth()],
    urls_namespace="api",
)


def _error(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(MedtraceError)
def _medtrace_error(request: HttpRequest, exc: MedtraceError) -> HttpResponse:
    response = _error(request, exc.status, exc.as_dict())
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _loc_to_field(loc: list[Any] | tuple[Any, ...]) -> str | None:
    # ninja prefixes the location with where the value came from ("body", "query", the param
    # name); the user only needs the path inside their payload.
    parts = [
        p for p in loc if p not in ("body", "query", "path", "form", "header", "payload", "data")
    ]
    if not parts:
        return None
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = []
    for err in exc.errors:
        field = _loc_to_field(err.get("loc", ()))
        message = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            message = "unknown field; remove it or check its spelling"
        elif err.get("type") == "literal_error" and err.get("ctx", {}).get("expected"):
            message = f"not an accepted value; expected {err['ctx']['expected']}"
        details.append({"field": field, "message": message, "code": err.get("type")})
    first = details[0] if details else {"field": None, "message": "invalid request"}
    text = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return _error(
        request,
        422,
        {
            "error": "validation_failed",
            "message": text,
            "field": first["field"],
            "details": details,
        },
    )


INT64 = 2**63


def _big_integer_field(request: HttpRequest) -> str | None:
    """The query, path or body parameter holding an integer beyond 64 bits, if one does."""

    def big(value: Any) -> bool:
        if isinstance(value, str):
            value = value.strip()
            if not (value.isascii() and value.lstrip("+-").isdigit()):
                return False
            value = int(value)
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= INT64

    match = request.resolver_match
    for name, value in [*(match.kwargs.items() if match else []), *request.GET.items()]:
        if big(value):
            return str(name)
    try:
        body = json.loads(request.body) if request.body else None
    except ValueError:
        return None
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        path, value = stack.pop(0)
        if isinstance(value, dict):
            stack += [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        elif big(value):
            return path
    return None


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def _out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A number beyond what the database stores (SQLite: OverflowError on a 64-bit integer;
    # PostgreSQL: numeric value out of range, or text longer than its column): the client's
    # value, not our fault, but no schema bound caught it first.
    field = _big_integer_field(request)
    if field is not None:
        problem = f"out of range; expected an integer between {-INT64} and {INT64 - 1}"
    else:
        problem = "a value is out of range or too long to be stored"
    return _error(
        request,
        422,
        {
            "error": "validation_failed",
            "message": f"{field}: {problem}" if field else problem,
            "field": field,
            "details": [{"field": field, "message": problem, "code": "out_of_range"}],
        },
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request,
        401,
        {
            "error": "unauthenticated",
            "message": "Sign in, or send 'Authorization: Bearer <token>' (medtrace create_token)",
            "field": None,
            "details": None,
        },
    )


@api.exception_handler(AuthorizationError)
def _authz_error(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return _error(
        request,
        403,
        {"error": "permission_denied", "message": str(exc), "field": None, "details": None},
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(
        request,
        404,
        {"error": "not_found", "message": str(exc) or "Not found", "field": None, "details": None},
    )


_HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(
        request,
        exc.status_code,
        {
            "error": _HTTP_ERROR_CODES.get(exc.status_code, "http_error"),
            "message": str(exc),
            "field": None,
            "details": None,
        },
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404 (urls.handler404): under /api/ in the API's error shape, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": "not_found",
                "message": f"No API endpoint at {request.path}; /api/v1/docs lists them",
                "field": None,
                "details": None,
            },
            status=404,
        )
    return page_not_found(request, exception)


def _register_routers() -> None:
    from medtrace.accounts.api import router as tokens_router
    from medtrace.alerts.api import router as alerts_router
    from medtrace.alerts.api_alerts import router as alert_queue_router
    from medtrace.audit.api import router as audit_router
    from medtrace.complaints.api import router as complaints_router
    from medtrace.conditions.api import router as conditions_router
    from medtrace.distribution.api import router as distribution_router
    from medtrace.exports.api import router as exports_router
    from medtrace.imports.api import router as imports_router
    from medtrace.lifecycle.api import router as lifecycle_router
    from medtrace.masterdata.api import router as masterdata_router
    from medtrace.masterdata.api_labels import router as labels_router
    from medtrace.procurement.api import router as procurement_router
    from medtrace.production.api import router as production_router
    from medtrace.quality.api import router as quality_router
    from medtrace.recalls.api import router as recalls_router
    from medtrace.recalls.api_documents import router as recall_documents_router
    from medtrace.service.api import router as service_router
    from medtrace.service.api_lifecycle import router as service_lifecycle_router
    from medtrace.trace.api import router as trace_router
    from medtrace.warehouse.api import router as warehouse_router

    api.add_router("/", masterdata_router)
    api.add_router("/", audit_router)
    api.add_router("/", labels_router)
    api.add_router("/", trace_router)
    api.add_router("/", service_router)
    api.add_router("/", service_lifecycle_router)
    api.add_router("/", complaints_router)
    api.add_router("/", production_router)
    api.add_router("/", procurement_router)
    api.add_router("/", quality_router)
    api.add_router("/", warehouse_router)
    api.add_router("/", distribution_router)
    api.add_router("/", conditions_router)
    api.add_router("/", lifecycle_router)
    api.add_router("/", recalls_router)
    api.add_router("/", recall_documents_router)
    api.add_router("/", alerts_router)
    api.add_router("/", alert_queue_router)
    api.add_router("/", tokens_router)
    api.add_router("/", exports_router)
    api.add_router("/", imports_router)


_register_routers()
