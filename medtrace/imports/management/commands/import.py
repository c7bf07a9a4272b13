"""`medtrace import KIND FILE [--dry-run] [--user USER] [--json]`: bulk import from CSV or XLSX.

KIND is parties, locations, products, materials or history. Every row is validated; any bad
row refuses the whole file (exit status 1, every error by row and column, nothing stored).
A progress bar goes to stderr. Without --user the import acts as the system (like the other
commands); with it, as that user, with that user's permissions.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.accounts.models import User
from medtrace.errors import MedtraceError
from medtrace.imports import services
from medtrace.imports.models import ImportKind, ImportStatus

SHOWN_ERRORS = 50


class Bar:
    """A text progress bar on stderr: redrawn in place on a terminal, a line per 10% else."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_phase = ""
        self.last_step = -1
        self.drawn_at = 0.0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        new_phase = phase != self.last_phase
        if self.tty:
            if not new_phase and now - self.drawn_at < 0.1 and done != total:
                return
            if new_phase and self.last_phase:
                self.stream.write("\n")
            self.stream.write("\r" + self._line(phase, done, total))
            self.stream.flush()
        else:
            step = (10 * done // total) if total else done // 10_000
            if not new_phase and step == self.last_step:
                return
            self.stream.write(self._line(phase, done, total) + "\n")
            self.last_step = step
        self.last_phase, self.drawn_at = phase, now

    def _line(self, phase: str, done: int, total: int | None) -> str:
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return f"{phase:<9} [{bar}] {done:,}/{total:,} rows {100 * done // total:3d}%"
        return f"{phase:<9} {done:,} rows"

    def close(self) -> None:
        if self.tty and self.last_phase:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "Import master data or legacy serial histories from a CSV or XLSX file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(ImportKind.values), help="what the file holds")
        parser.add_argument("file", type=Path, help="the CSV (UTF-8 or GB18030) or XLSX file")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate every row, store nothing"
        )
        parser.add_argument("--user", help="act as this user (default: the system)")
        parser.add_argument("--json", action="store_true", help="print the job as JSON")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        bar = None if options["no_progress"] else Bar(sys.stderr)
        try:
            with path.open("rb") as stream:
                job = services.import_create(
                    kind=options["kind"],
                    name=path.name,
                    stream=stream,
                    dry_run=options["dry_run"],
                    user=user,
                )
            started = time.monotonic()
            job = services.import_run(job=job, user=user, watcher=bar)
            elapsed = time.monotonic() - started
        except MedtraceError as exc:
            raise CommandError(exc.message) from exc
        finally:
            if bar is not None:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(job), ensure_ascii=False, indent=2))
        else:
            self._report(job, elapsed)
        if job.status in (ImportStatus.INVALID, ImportStatus.FAILED):
            raise CommandError(
                f"import {job.pk} {job.get_status_display()}: {job.error_count} "
                f"error{'s' if job.error_count != 1 else ''}"
            )

    def _report(self, job: Any, elapsed: float) -> None:
        what = ", ".join(f"{k} {v:,}" for k, v in job.summary.items())
        self.stdout.write(
            f"import {job.pk} ({job.kind}, {job.file_name}): {job.get_status_display()} "
            f"in {elapsed:.1f} s{f' - {what}' if what else ''}"
        )
        for e in job.errors[:SHOWN_ERRORS]:
            where = f"row {e['row']}" if e["row"] else "file"
            if e["column"]:
                where += f", {e['column']}"
            expected = f" (expected: {e['expected']})" if e["expected"] else ""
            self.stdout.write(f"  {where}: {e['message']}{expected}")
        if job.error_count > SHOWN_ERRORS:
            self.stdout.write(
                f"  ... and {job.error_count - SHOWN_ERRORS:,} more (medtrace import ... --json, "
                f"or GET /api/v1/imports/{job.pk})"
            )


def _as_json(job: Any) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "dry_run": job.dry_run,
        "status": job.status,
        "file_name": job.file_name,
        "file_sha256": job.file_sha256,
        "total_rows": job.total_rows,
        "error_count": job.error_count,
        "errors": job.errors,
        "summary": job.summary,
        "capture_jobs": job.capture_jobs,
    }
