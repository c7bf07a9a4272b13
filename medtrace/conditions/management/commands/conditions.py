"""`medtrace conditions import FILE --target ... --location ... [--dry-run]`: logger files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.accounts.models import User
from medtrace.conditions import services
from medtrace.conditions.models import Phase
from medtrace.errors import MedtraceError


class Command(BaseCommand):
    help = "Temperature and humidity readings: import a logger file (CSV or XLSX)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import",
            help="Import a logger file (columns time, temperature, humidity[, target, location]).",
        )
        imp.add_argument("file")
        imp.add_argument(
            "--target",
            action="append",
            default=[],
            help="A unit, case (SSCC) or lot the readings cover, in any UDI form; repeat it.",
        )
        imp.add_argument("--location", help="Location code, GLN or SGLN (or a location column).")
        imp.add_argument("--phase", default=Phase.STORAGE, choices=Phase.values)
        imp.add_argument("--device", default="", help="The logger's name, serial or URI.")
        imp.add_argument("--user", help="Record as this user (default: the system).")
        imp.add_argument("--note", default="")
        imp.add_argument(
            "--dry-run", action="store_true", help="Check and evaluate only; store nothing."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user {opts['user']!r}")
        try:
            result = services.readings_import(
                name=path.name,
                content=path.read_bytes(),
                phase=opts["phase"],
                device=opts["device"],
                location=opts["location"],
                targets=opts["target"],
                dry_run=opts["dry_run"],
                user=user,
                note=opts["note"],
            )
        except MedtraceError as exc:
            lines = [exc.message]
            for detail in (exc.details if isinstance(exc.details, list) else [])[1:50]:
                where = f"row {detail['row']}, " if detail.get("row") else ""
                lines.append(f"  {where}{detail.get('field')}: {detail.get('message')}")
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(
            f"{path.name}: {result.rows} rows, {result.reading_count} readings"
            + (f", blank lines {result.blank_rows}" if result.blank_rows else "")
        )
        for problem in result.problems:
            self.stdout.write(f"  {problem.text()}")
        for group in result.groups:
            for breach in group.breaches:
                self.stdout.write(f"  excursion: {services.breach_text(breach, group.location)}")
        if result.dry_run:
            self.stdout.write("Dry run: nothing stored." if result.ok else "Dry run: refused.")
            if not result.ok:
                raise CommandError(f"{len(result.problems)} problems; nothing would be imported")
            return
        for done in result.recorded:
            self.stdout.write(
                f"{done.record.number}: {done.record.reading_count} readings, event "
                f"{done.event.event_id}"
                + (
                    f", nonconformances {', '.join(done.nonconformances)}"
                    if done.nonconformances
                    else ""
                )
            )
