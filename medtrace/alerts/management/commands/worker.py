"""``medtrace worker``: run background tasks from the database queue (django-tasks).

It is django-tasks-db's ``db_worker`` with medtrace's start-up: it queues the self-renewing
``sweep`` (outbox retries, periodic alert rules) unless one is waiting, and it does not reload
on code changes unless asked (a reload would restart it in a child process mid-task).

    medtrace worker              # run until stopped (SIGTERM/SIGINT finish the current task)
    medtrace worker --batch      # run what is due, then exit (cron-style)
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from medtrace.alerts import tasks


class Command(DbWorkerCommand):
    help = (
        "Run the background worker: sends the outbox (webhooks, e-mail, EPCIS subscriptions) "
        "with retries, and runs the periodic alert rules."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False)

    def handle(self, *args: Any, **options: Any) -> None:
        if not tasks.queued_backend():
            raise CommandError(
                "MEDTRACE_TASKS_BACKEND is not 'database': tasks run at once in the process "
                "that queues them, and there is nothing for a worker to do"
            )
        if options.get("batch"):
            # A batch run does what is due now and exits; it starts no sweep chain.
            from medtrace.alerts import outbox, schedule

            outbox.dispatch_due()
            schedule.run_due()
        else:
            tasks.queue_sweep()
        super().handle(*args, **options)
