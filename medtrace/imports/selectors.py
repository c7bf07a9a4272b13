"""Import reads: the jobs a user may see, and a running job's progress."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from medtrace.accounts.models import User
from medtrace.errors import NotFound

from .models import ImportJob
from .services import progress_key

VIEW_ALL = "imports.view_importjob"


def job_list(*, user: User) -> QuerySet[ImportJob]:
    """Everyone sees the jobs they started; QA/RA, the auditor and the administrator see all."""
    qs = ImportJob.objects.select_related("created_by").defer("errors")
    if user.has_perm(VIEW_ALL):
        return qs
    return qs.filter(created_by=user)


def job_get(*, user: User, pk: int) -> ImportJob:
    job = ImportJob.objects.select_related("created_by").filter(pk=pk).first()
    if job is None or (job.created_by_id != user.pk and not user.has_perm(VIEW_ALL)):
        raise NotFound(f"No import job {pk}")
    return job


def job_progress(job: ImportJob) -> dict[str, Any]:
    """Status, phase and rows processed of ``total`` (None: not known yet), with the live
    figures of a running import from the cache."""
    live = cache.get(progress_key(job.pk)) if not job.finished else None
    phase, processed, total = job.phase, job.processed_rows, job.total_rows
    if live:
        phase, processed, total = live["phase"], live["processed"], live["total"]
    percent = min(100, round(100 * processed / total)) if total else None
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "phase": phase,
        "phase_display": str(
            dict(ImportJob._meta.get_field("phase").choices or []).get(phase, phase)
        ),
        "processed": processed,
        "total": total,
        "percent": 100 if job.finished else percent,
        "finished": job.finished,
        "error_count": job.error_count,
    }
