"""Import writes: upload a file as an import job, run it (validate every row; store all or
nothing).

``import_create`` checks the permission for the kind, keeps the file (named by its SHA-256
under ``ATTACHMENT_DIR/imports``) and creates the job. ``import_run`` streams the file through
the kind's importer in chunks of ``READ_CHUNK`` rows, collecting every error of every row; then:

- any error: the job is ``invalid`` and lists them (nothing was stored);
- a dry run: the job is ``valid`` and says what would be created (nothing was stored);
- otherwise the importer stores everything in one transaction (``imported``), with the audit
  entries of every record and of the job itself; an error found while storing undoes it all.

Progress (rows validated, then rows stored) goes to the job row while validating, and to the
cache throughout (the job row cannot show it while the storing transaction is open); the
import page polls ``selectors.job_progress``, the CLI draws a bar from the callback.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.errors import Conflict, MedtraceError, ValidationFailed

from .base import Importer, Refused, RowError
from .history import HistoryImporter
from .masterdata import LocationImporter, MaterialImporter, PartyImporter, ProductImporter
from .models import ImportJob, ImportKind, ImportPhase, ImportStatus
from .reader import SNIFF_BYTES, FileReader, FileUnreadable, detect_format

IMPORTERS: dict[str, type[Importer]] = {
    ImportKind.PARTIES: PartyImporter,
    ImportKind.LOCATIONS: LocationImporter,
    ImportKind.PRODUCTS: ProductImporter,
    ImportKind.MATERIALS: MaterialImporter,
    ImportKind.HISTORY: HistoryImporter,
}
READ_CHUNK = 2000
MAX_FILE_BYTES = 512 * 1024 * 1024
# Who watches: (phase, rows processed, rows in this phase or None).
Watcher = Callable[[str, int, int | None], None]


def importer_for(kind: str) -> type[Importer]:
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ValidationFailed(
            f"kind: {kind!r} is not an import kind; expected one of {', '.join(IMPORTERS)}",
            field="kind",
            details=[
                {
                    "field": "kind",
                    "message": "unknown import kind",
                    "expected": ", ".join(IMPORTERS),
                }
            ],
        ) from None


def file_path(sha256: str) -> Path:
    return Path(settings.ATTACHMENT_DIR) / "imports" / sha256[:2] / sha256


def _keep(stream: IO[bytes]) -> tuple[str, int, bytes]:
    """Copy the upload to the import store; (SHA-256, size, first bytes)."""
    store = Path(settings.ATTACHMENT_DIR) / "imports"
    store.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    tmp = store / f".upload-{time.monotonic_ns()}"
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(1024 * 1024):
                if not head:
                    head = chunk[:SNIFF_BYTES]
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise ValidationFailed(
                        f"file: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it",
                        field="file",
                    )
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        target = file_path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return sha, size, head


def import_create(
    *, kind: str, name: str, stream: IO[bytes], dry_run: bool, user: User | None
) -> ImportJob:
    """Keep the uploaded file as a new import job of ``kind`` (not run yet)."""
    importer_for(kind).check_permission(user)
    name = Path((name or "").strip()).name
    if not name:
        raise ValidationFailed("file: the file has no name", field="file")
    sha, size, head = _keep(stream)
    if not size:
        raise ValidationFailed(f"file: {name} is empty", field="file")
    try:
        fmt = detect_format(name, head)
    except FileUnreadable as exc:
        raise ValidationFailed(f"file: {exc}", field="file") from exc
    return ImportJob.objects.create(
        kind=kind,
        dry_run=dry_run,
        file_name=name[:255],
        file_format=fmt,
        file_size=size,
        file_sha256=sha,
        created_by=user,
    )


class Tracker:
    """Publishes a running job's progress: the cache always, the job row when it can."""

    DB_EVERY = 1.0  # seconds between progress writes to the job row

    def __init__(self, job: ImportJob, watcher: Watcher | None) -> None:
        self.job = job
        self.watcher = watcher
        self._db_at = 0.0

    def phase(self, phase: str, total: int | None) -> None:
        self.job.phase = phase
        self.job.total_rows = total
        self.job.processed_rows = 0
        self.publish(force=True)

    def total(self, total: int | None) -> None:
        if total is not None and self.job.total_rows is None:
            self.job.total_rows = total
            self.publish(force=True)

    def advance(self, rows: int) -> None:
        self.job.processed_rows += rows
        self.publish()

    def publish(self, *, force: bool = False) -> None:
        job = self.job
        cache.set(
            progress_key(job.pk),
            {"phase": job.phase, "processed": job.processed_rows, "total": job.total_rows},
            timeout=24 * 3600,
        )
        now = time.monotonic()
        # Inside the storing transaction the row is invisible to the page until it commits.
        if not connection.in_atomic_block and (force or now - self._db_at >= self.DB_EVERY):
            self._db_at = now
            ImportJob.objects.filter(pk=job.pk).update(
                phase=job.phase, processed_rows=job.processed_rows, total_rows=job.total_rows
            )
        if self.watcher is not None:
            self.watcher(job.phase, job.processed_rows, job.total_rows)


def progress_key(job_id: int) -> str:
    return f"medtrace:import-progress:{job_id}"


def _claim(job: ImportJob) -> ImportJob:
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), phase=ImportPhase.READING
    )
    if not claimed:
        current = ImportJob.objects.get(pk=job.pk)
        raise Conflict(
            f"import {job.pk} is {current.get_status_display()}; a job runs once (upload the "
            "file again to run it again)",
            field="status",
        )
    return ImportJob.objects.get(pk=job.pk)


def _end(job: ImportJob, status: str, *, errors: list[dict[str, Any]], count: int) -> None:
    job.status = status
    if status != ImportStatus.IMPORTED:
        job.capture_jobs = []  # rolled back with everything else
    job.phase = ImportPhase.DONE
    job.errors = errors
    job.error_count = count
    job.finished_at = timezone.now()
    job.save()
    cache.delete(progress_key(job.pk))


def _read(job: ImportJob, importer: Importer, tracker: Tracker) -> FileReader:
    reader = FileReader(file_path(job.file_sha256), job.file_format, importer.spec)
    chunk = []
    for row in reader:
        tracker.total(reader.total)
        chunk.append(row)
        if len(chunk) >= READ_CHUNK:
            importer.validate(chunk)
            tracker.advance(len(chunk))
            chunk = []
    if chunk:
        importer.validate(chunk)
        tracker.advance(len(chunk))
    assert reader.header is not None
    for name, message, code in reader.header.problems:
        importer.error(1, name, message, code=code)
    return reader


def import_run(*, job: ImportJob, user: User | None, watcher: Watcher | None = None) -> ImportJob:
    """Run an uploaded job once; the job says how it ended (raises only if the job cannot be
    run at all: permission, already run)."""
    job = _claim(job)
    importer_cls = importer_for(job.kind)
    try:
        importer_cls.check_permission(user)
    except MedtraceError as exc:
        _end(job, ImportStatus.FAILED, errors=[_whole(exc.message, "permission")], count=1)
        raise
    importer = importer_cls(job=job, user=user)
    tracker = Tracker(job, watcher)
    tracker.phase(ImportPhase.READING, None)
    try:
        reader = _read(job, importer, tracker)
        tracker.phase(ImportPhase.CHECKING, importer.rows_read)
        importer.finish()
        job.summary = {**importer.summary(), "blank_rows": reader.blank_rows}
        if importer.errors:
            job.summary["rows_with_errors"] = len(importer.errors.rows)
            _end(
                job,
                ImportStatus.INVALID,
                errors=importer.errors.sorted(),
                count=importer.errors.count,
            )
        elif job.dry_run:
            _end(job, ImportStatus.VALID, errors=[], count=0)
        else:
            tracker.phase(ImportPhase.STORING, importer.rows_read)
            with transaction.atomic():
                job.summary = {
                    **importer.write(tracker.advance),
                    "blank_rows": reader.blank_rows,
                }
                _end(job, ImportStatus.IMPORTED, errors=[], count=0)
                audit.record(
                    action=AuditAction.CREATE,
                    object_type=audit.label_of(job),
                    object_id=job.pk,
                    object_repr=str(job),
                    changes=_audited(job),
                    user=user,
                    reason=f"import {job.pk}: {job.file_name}",
                )
    except FileUnreadable as exc:
        _end(job, ImportStatus.INVALID, errors=[_whole(str(exc), "file")], count=1)
    except Refused as exc:
        _end(
            job,
            ImportStatus.INVALID,
            errors=[e.as_dict() for e in exc.errors],
            count=len(exc.errors),
        )
    except IntegrityError as exc:
        # A unique key taken by someone else between validation and storing.
        message = f"a record conflicts with one stored meanwhile; nothing was stored: {exc}"
        _end(job, ImportStatus.FAILED, errors=[_whole(message, "conflict")], count=1)
    except MedtraceError as exc:
        # A rule the validation could not see (a key taken by someone else meanwhile, ...).
        _end(job, ImportStatus.FAILED, errors=[_whole(exc.message, exc.code)], count=1)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _end(job, ImportStatus.FAILED, errors=[_whole(message, "error")], count=1)
        raise
    return job


def _whole(message: str, code: str) -> dict[str, Any]:
    return RowError(row=None, column=None, message=message, code=code).as_dict()


def _audited(job: ImportJob) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "file_name": job.file_name,
        "file_sha256": job.file_sha256,
        "file_size": job.file_size,
        "summary": job.summary,
        "capture_jobs": job.capture_jobs,
    }


def refusal(job: ImportJob) -> ValidationFailed:
    """The API's and CLI's error for a job that stored nothing because of its errors."""
    first = job.errors[0] if job.errors else {}
    where = (
        _("row %(row)s, %(column)s: ") % {"row": first.get("row"), "column": first.get("column")}
        if first.get("row")
        else ""
    )
    rows = job.summary.get("rows_with_errors") or 0
    count = ngettext("%(n)d error", "%(n)d errors", job.error_count) % {"n": job.error_count}
    if rows:
        count += ngettext(" in %(n)d row", " in %(n)d rows", rows) % {"n": rows}
    return ValidationFailed(
        _("import %(id)s refused, nothing was stored: %(count)s; first: %(where)s%(message)s")
        % {
            "id": job.pk,
            "count": count,
            "where": where,
            "message": first.get("message", ""),
        },
        field=first.get("column"),
        details=job.errors,
    )
