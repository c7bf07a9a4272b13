"""EPCIS 2.0 REST binding: capture (POST /epcis/capture, /epcis/events; GET capture jobs)."""

from __future__ import annotations

import json
import tempfile
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from medtrace.accounts.models import User

from . import services
from .epcis_http import authenticated, json_response, problem
from .models import CaptureJob

_JSON_TYPES = ("application/json", "application/ld+json", "")


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_document(job: CaptureJob) -> dict[str, Any]:
    return {
        "captureID": str(job.id),
        "createdAt": _iso(job.created_at),
        "finishedAt": _iso(job.finished_at),
        "running": job.running,
        "success": job.success,
        "captureErrorBehaviour": job.error_behaviour,
        "errors": job.errors,
        "eventCount": job.event_count,
        "capturedCount": job.captured_count,
    }


def _body(request: HttpRequest) -> tuple[Any, HttpResponse | None]:
    media = request.content_type or ""
    if media not in _JSON_TYPES:
        return None, problem(
            415,
            "epcisException:ValidationException",
            f"Unsupported media type {media!r}",
            detail="send application/json or application/ld+json",
        )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_large = problem(
        413,
        "epcisException:CaptureLimitExceededException",
        "Capture payload too large",
        detail=f"the limit is {services.CAPTURE_FILE_SIZE_LIMIT} bytes "
        "(GS1-EPCIS-Capture-File-Size-Limit); split the document",
    )
    if declared.isdigit() and int(declared) > services.CAPTURE_FILE_SIZE_LIMIT:
        return None, too_large
    # read() rather than .body: Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, right for forms)
    # must not cap EPCIS documents, whose own limit is the capture file-size limit above.
    raw = request.read(services.CAPTURE_FILE_SIZE_LIMIT + 1)
    if len(raw) > services.CAPTURE_FILE_SIZE_LIMIT:
        return None, too_large
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, problem(
            400, "epcisException:ValidationException", f"The body is not valid JSON: {exc}"
        )


def _rejected(exc: services.CaptureRejected, *, single: bool = False) -> HttpResponse:
    first = exc.problems[0] if exc.problems else None
    status, type_ = exc.status, exc.type
    if status == 409:
        # OpenAPI: POST /events answers 409 for an eventID already taken; a document is
        # refused as a whole with 400.
        if single:
            type_ = "epcisException:ResourceAlreadyExistsException"
        else:
            status = 400
    return problem(
        status,
        type_,
        first.as_dict()["title"] if first else "Capture rejected",
        detail=f"{len(exc.problems)} problem(s); nothing was stored",
        errors=[p.as_dict() for p in exc.problems],
    )


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


# Roles that write nothing (DESIGN §9: the auditor is read-only everywhere). Capture is not a
# model permission (accounts/roles.py), so a user whose only roles are these is refused here.
READ_ONLY_ROLES = frozenset({"auditor"})


def _read_only(user: User) -> bool:
    if user.is_superuser:
        return False
    roles = set(user.groups.values_list("name", flat=True))
    return bool(roles) and roles <= READ_ONLY_ROLES


# A partner's token needs this scope to capture its own receipts (never epcis:capture).
PARTNER_RECEIVE = "partner:receive"


def _partner_refused(request: HttpRequest) -> HttpResponse | None:
    """Capture is for internal users and systems. A partner's capture would write custody
    (UnitCustody) and so widen its own scope, so partners are refused (they query, scoped,
    instead), with one exception: a partner POSTing its receipt of goods shipped to it, which
    ``_partner_receipt`` checks event by event. The read-only auditor captures nothing."""
    user = _user(request)
    if user is None:
        return None
    if user.party_id is not None and request.method == "POST":
        return None  # _partner_receipt decides
    if user.party_id is None:
        if request.method == "POST" and _read_only(user):
            return problem(
                403,
                "epcisException:SecurityException",
                "The auditor role is read-only: it cannot capture EPCIS events",
            )
        return None
    return problem(
        403,
        "epcisException:SecurityException",
        "EPCIS capture is for internal users and systems; partner accounts may query the "
        "events of their own devices",
    )


def _partner_receipt(request: HttpRequest, *, single: bool) -> HttpResponse:
    """A partner's POST: only receiving events of goods in transit to its party are captured
    (medtrace.distribution.epcis_receipt); anything else is 403 and stores nothing."""
    from medtrace.distribution.epcis_receipt import partner_capture
    from medtrace.errors import MedtraceError

    user = _user(request)
    assert user is not None
    data, error = _body(request)
    if error is not None:
        return error
    if not isinstance(data, dict):
        return problem(400, "epcisException:ValidationException", "The body must be a JSON object")
    try:
        result = partner_capture(user=user, data=data, single=single)
    except services.CaptureRejected as exc:
        return _rejected(exc, single=single)
    except MedtraceError as exc:
        return problem(403, "epcisException:SecurityException", exc.message, details=exc.details)
    if isinstance(result, CaptureJob):
        return json_response(
            job_document(result),
            status=202,
            content_type="application/json",
            headers={"Location": f"/epcis/capture/{result.id}"},
        )
    from urllib.parse import quote

    return json_response(
        result.document,
        status=201,
        headers={"Location": f"/epcis/events/{quote(result.event_id, safe='')}"},
    )


def _capture_streamed(request: HttpRequest, size: int, behaviour: str) -> HttpResponse:
    """A large document goes to a spooled temporary file and is captured as a stream."""
    media = request.content_type or ""
    if media not in _JSON_TYPES:
        return problem(
            415,
            "epcisException:ValidationException",
            f"Unsupported media type {media!r}",
            detail="send application/json or application/ld+json",
        )
    if size > services.CAPTURE_FILE_SIZE_LIMIT:
        return problem(
            413, "epcisException:CaptureLimitExceededException", "Capture payload too large"
        )
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        while block := request.read(1024 * 1024):
            spool.write(block)
        spool.seek(0)
        try:
            job = services.capture_stream(
                stream=spool,  # type: ignore[arg-type]  # a seekable binary file
                user=_user(request),
                behaviour=behaviour,
            )
        except services.CaptureRejected as exc:
            return _rejected(exc)
    return json_response(
        job_document(job),
        status=202,
        content_type="application/json",
        headers={"Location": f"/epcis/capture/{job.id}"},
    )


@require_http_methods(["GET", "POST"])
@authenticated("epcis:capture", partner_scope=PARTNER_RECEIVE)
def capture(request: HttpRequest) -> HttpResponse:
    if (refused := _partner_refused(request)) is not None:
        return refused
    if request.method == "POST" and getattr(request.user, "party_id", None) is not None:
        return _partner_receipt(request, single=False)
    if request.method == "GET":
        jobs = CaptureJob.objects.filter(user=_user(request)).order_by("-created_at")[:100]
        return json_response([job_document(j) for j in jobs], content_type="application/json")
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", services.ROLLBACK).lower()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > services.STREAM_THRESHOLD:
        return _capture_streamed(request, int(declared), behaviour)
    data, error = _body(request)
    if error is not None:
        return error
    try:
        job = services.capture_document(data=data, user=_user(request), behaviour=behaviour)
    except services.CaptureRejected as exc:
        return _rejected(exc)
    return json_response(
        job_document(job),
        status=202,
        content_type="application/json",
        headers={"Location": f"/epcis/capture/{job.id}"},
    )


@require_http_methods(["GET"])
@authenticated("epcis:capture")
def capture_job(request: HttpRequest, capture_id: str) -> HttpResponse:
    if (refused := _partner_refused(request)) is not None:
        return refused
    try:
        job = CaptureJob.objects.get(pk=UUID(capture_id))
    except (ValueError, CaptureJob.DoesNotExist):
        return problem(
            404, "epcisException:NoSuchResourceException", f"No capture job {capture_id}"
        )
    return json_response(job_document(job), content_type="application/json")


def post_event(request: HttpRequest) -> HttpResponse:
    """POST /epcis/events: one event, 201 with its Location."""
    if (refused := _partner_refused(request)) is not None:
        return refused
    if getattr(request.user, "party_id", None) is not None:
        return _partner_receipt(request, single=True)
    data, error = _body(request)
    if error is not None:
        return error
    if not isinstance(data, dict):
        return problem(
            400,
            "epcisException:ValidationException",
            "The body must be one EPCIS event (a JSON object)",
        )
    try:
        event = services.capture_event(data=data, user=_user(request))
    except services.CaptureRejected as exc:
        return _rejected(exc, single=True)
    from urllib.parse import quote

    return json_response(
        event.document,
        status=201,
        headers={"Location": f"/epcis/events/{quote(event.event_id, safe='')}"},
    )
