"""Import endpoints: upload a CSV/XLSX file and run it, follow jobs, download empty templates.

Thin: the scope ``imports:write``, then the services. An upload runs in the request (a
100,000-row file takes well under a minute); ``GET /imports/{id}`` shows a job's progress to
another client meanwhile and its outcome afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.core.pagination import Pagination
from medtrace.errors import Conflict, ValidationFailed

from . import selectors, services
from .blanks import CSV_TYPE, XLSX_TYPE, template_file
from .models import ImportJob, ImportStatus

router = Router(tags=["imports"])
SCOPE = "imports:write"
_FILE: Any = File(None, description="The CSV (UTF-8 or GB18030) or XLSX file; row 1 is the header")


class ImportErrorOut(Schema):
    row: int | None = Field(description="Row of the file (the header is row 1); null: the file")
    column: str | None
    message: str
    expected: str = Field(description="What the column takes")
    value: str = Field(description="The cell as read (at most 200 characters)")
    code: str


class ImportJobSummaryOut(Schema):
    id: int
    kind: str
    dry_run: bool
    status: str = Field(description="pending, running, valid, invalid, imported or failed")
    phase: str
    file_name: str
    file_format: str
    file_size: int
    file_sha256: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total_rows: int | None
    processed_rows: int
    error_count: int
    summary: dict[str, int]

    @staticmethod
    def resolve_created_by(obj: ImportJob) -> str | None:
        return obj.created_by.get_username() if obj.created_by is not None else None


class ImportJobOut(ImportJobSummaryOut):
    errors: list[ImportErrorOut] = Field(
        description="Every error (up to 10,000; error_count counts them all), by row and column"
    )
    capture_jobs: list[str] = Field(description="Ledger capture jobs of a history import")


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@router.post("/imports", response={200: ImportJobOut, 201: ImportJobOut})
def create_import(
    request: HttpRequest,
    kind: Form[str] = "",
    dry_run: Form[bool] = False,
    file: UploadedFile | None = _FILE,
) -> Status:
    """Import a file of ``kind`` (parties, locations, products, materials, history); multipart.
    All or nothing: any bad row refuses the whole file (422, every error by row and column in
    ``details``, nothing stored). ``dry_run``: validate only; 200 with the job, ``status``
    valid or invalid and its errors, nothing stored. Imported: 201 with the job."""
    require_scope(request, SCOPE)
    user = _actor(request)
    services.importer_for(kind).check_permission(user)
    if file is None:
        raise ValidationFailed(
            "file: required; send the CSV or XLSX file as multipart form data", field="file"
        )
    job = services.import_create(
        kind=kind, name=file.name or "", stream=file, dry_run=dry_run, user=user
    )
    job = services.import_run(job=job, user=user)
    if job.status == ImportStatus.INVALID and not job.dry_run:
        raise services.refusal(job)
    if job.status == ImportStatus.FAILED:
        raise Conflict(
            f"import {job.pk} failed, nothing was stored: {job.errors[0]['message']}",
            details=job.errors,
        )
    return Status(201 if job.status == ImportStatus.IMPORTED else 200, job)


@router.get("/imports", response=list[ImportJobSummaryOut])
@paginate(Pagination)
def list_imports(request: HttpRequest, kind: str | None = None, status: str | None = None):
    """Import jobs, newest first: your own; QA/RA, the auditor and the administrator see all."""
    require_scope(request, SCOPE)
    qs = selectors.job_list(user=_actor(request))
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


_TEMPLATE_EXTRA = {
    "responses": {
        200: {
            "description": "The header row: CSV (UTF-8 with BOM) or XLSX",
            "content": {
                CSV_TYPE: {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}


@router.get("/imports/templates/{kind}", openapi_extra=_TEMPLATE_EXTRA)
def import_template(
    request: HttpRequest,
    kind: Literal["parties", "locations", "products", "materials", "history"],
    format: Literal["csv", "xlsx"] = "csv",
) -> HttpResponse:
    """The empty template of ``kind``: the header row only. The README lists what each column
    takes."""
    require_scope(request, SCOPE)
    body, content_type, name = template_file(kind, format)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/imports/{job_id}", response=ImportJobOut)
def get_import(request: HttpRequest, job_id: int) -> ImportJob:
    """One import job with its errors; while it runs, its progress (rows processed of total in
    the current phase)."""
    require_scope(request, SCOPE)
    job = selectors.job_get(user=_actor(request), pk=job_id)
    live = selectors.job_progress(job)
    job.phase, job.processed_rows, job.total_rows = live["phase"], live["processed"], live["total"]
    return job
