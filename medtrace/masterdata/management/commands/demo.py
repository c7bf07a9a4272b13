"""`medtrace demo [--units N] [--if-empty]`: load the demo manufacturer (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.errors import MedtraceError
from medtrace.masterdata.demo.data import DEMO_PASSWORD
from medtrace.masterdata.demo.load import load_demo
from medtrace.masterdata.models import Product


class Command(BaseCommand):
    help = "Load the demo manufacturer, its supply chain and demo logins. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--units", type=int, default=0, help="Scale the demo for benchmarks to about N devices."
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (but print the logins) if products already exist.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["units"] < 0:
            raise CommandError("--units must be 0 or more")
        if opts["if_empty"] and Product.objects.exists():
            self.stdout.write("Database already has data; demo not reloaded.")
        else:
            try:
                summary = load_demo(units=opts["units"], log=self.stdout.write)
            except MedtraceError as exc:
                raise CommandError(f"Demo data rejected: {exc.message}") from exc
            made = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.created.items()))
            self.stdout.write(f"Demo loaded: {made or 'nothing new (already loaded)'}.")
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        from medtrace.masterdata.demo.data import USERS

        for username, role, party, printed in USERS:
            who = role or f"partner ({party})"
            self.stdout.write(f"  {username:<12} {who:<22} {printed}")
