"""Background tasks (django-tasks): run by ``medtrace worker`` with the database backend, or
at once with the immediate backend.

``sweep`` keeps itself going: each run sends what is due in the outbox, runs the periodic jobs
that are due (``schedule``), and queues the next sweep ``WORKER_SWEEP_SECONDS`` later. The worker
queues one when it starts, so a sweep chain broken by a killed worker is mended by the next
start; a second chain is never queued while one is waiting.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

DISPATCH_BUDGET_SECONDS = 60.0


@task()
def dispatch_outbox() -> int:
    """Send every due outbox message (bounded: the sweep picks up anything left)."""
    from . import outbox

    return outbox.dispatch_due(budget_seconds=DISPATCH_BUDGET_SECONDS)


@task()
def sweep() -> dict[str, object]:
    from . import outbox, schedule

    sent = outbox.dispatch_due(budget_seconds=DISPATCH_BUDGET_SECONDS)
    ran = schedule.run_due()
    queue_sweep(delay=timedelta(seconds=settings.WORKER_SWEEP_SECONDS))
    return {"sent": sent, "jobs": ran}


def queued_backend() -> bool:
    """Whether tasks wait in the database for a worker (rather than running at once)."""
    from django_tasks import task_backends
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends["default"], DatabaseBackend)


def _waiting(path: str) -> bool:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=path, status="READY").exists()


def queue_sweep(*, delay: timedelta = timedelta(0)) -> bool:
    """Queue the next sweep unless one is already waiting (database backend only)."""
    if not queued_backend() or _waiting(sweep.module_path):
        return False
    sweep.using(run_after=timezone.now() + delay).enqueue()
    return True


def queue_dispatch() -> None:
    """Queue an outbox dispatch; with a database backend, not while one is already waiting
    (a burst of commits then costs one task, not one per commit)."""
    if queued_backend() and _waiting(dispatch_outbox.module_path):
        return
    dispatch_outbox.enqueue()
