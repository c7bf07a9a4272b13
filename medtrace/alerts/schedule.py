"""Periodic jobs of the worker: the outbox sweep and the scheduled alert rules.

A job registers with ``@periodic("name", every=timedelta(...))``. ``run_due`` (called by the
``sweep`` task, see ``tasks.py``) starts each job whose period has passed since it last started,
claiming it first in the database (``PeriodicRun``), so several workers run a job once per
period between them. A job that raises is logged and recorded; it runs again next period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import PeriodicRun

log = logging.getLogger(__name__)

Job = Callable[[], object]
_JOBS: dict[str, tuple[timedelta, Job]] = {}


def periodic(name: str, *, every: timedelta) -> Callable[[Job], Job]:
    def register(function: Job) -> Job:
        _JOBS[name] = (every, function)
        return function

    return register


def jobs() -> dict[str, tuple[timedelta, Job]]:
    _load_jobs()
    return dict(_JOBS)


def _load_jobs() -> None:
    # Jobs live with the apps that own them; importing registers them. The rule evaluators are
    # the ``medtrace.alerts.rules_*`` modules.
    import importlib
    import pkgutil

    from medtrace import alerts

    evaluators = sorted(
        f"medtrace.alerts.{m.name}"
        for m in pkgutil.iter_modules(alerts.__path__)
        if m.name.startswith("rules_")
    )
    for module in ("medtrace.alerts.rules", *evaluators):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def _claim(name: str, every: timedelta, now: datetime) -> bool:
    """Mark job ``name`` started if its period has passed; False if another worker has it."""
    try:
        with transaction.atomic():
            PeriodicRun.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # another worker created it at the same moment
    claimed = (
        PeriodicRun.objects.filter(name=name)
        .filter(Q(last_started_at__isnull=True) | Q(last_started_at__lte=now - every))
        .update(last_started_at=now)
    )
    return claimed == 1


def run_due(now: datetime | None = None, *, only: str | None = None) -> dict[str, str]:
    """Run the jobs that are due; return ``{name: result}`` for those that ran."""
    now = now or timezone.now()
    results: dict[str, str] = {}
    for name, (every, function) in sorted(jobs().items()):
        if only is not None and name != only:
            continue
        if not _claim(name, every, now):
            continue
        try:
            result = str(function())
        except Exception as exc:
            log.exception("periodic job %s failed", name)
            result = f"failed: {type(exc).__name__}: {exc}"
        PeriodicRun.objects.filter(name=name).update(
            last_finished_at=timezone.now(), last_result=result[:4000]
        )
        results[name] = result
    return results
