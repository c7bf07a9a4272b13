"""`medtrace procurement check-certificates [--days N]`: supplier certificate expiry alerts.

Raises one alert to the procurement role per supplier certificate that has expired or expires
within N days (default 30), once per certificate and threshold, so it is safe to run daily
(e.g. from cron or the task scheduler).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.errors import MedtraceError
from medtrace.procurement.services import certificates_check


class Command(BaseCommand):
    help = "Procurement tasks: check-certificates raises supplier certificate expiry alerts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser(
            "check-certificates",
            help="alert procurement about supplier certificates expired or expiring soon",
        )
        check.add_argument(
            "--days", type=int, default=30, help="warn this many days before expiry (30)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "check-certificates":
            try:
                alerts = certificates_check(days=options["days"])
            except MedtraceError as exc:
                raise CommandError(exc.message) from exc
            for alert in alerts:
                self.stdout.write(f"{alert.kind}: {alert.title}")
            self.stdout.write(f"{len(alerts)} alert{'s' if len(alerts) != 1 else ''} raised")
