"""`medtrace roles [--markdown] [--write-readme] [--check]`: the role permission matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.accounts import matrix


class Command(BaseCommand):
    help = (
        "Print the department roles' permission matrix (generated from accounts/roles.py), "
        "or write it into README.md between its roles markers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--markdown", action="store_true", help="print the README block, with its markers"
        )
        parser.add_argument(
            "--write-readme", action="store_true", help="replace the table in README.md"
        )
        parser.add_argument(
            "--check", action="store_true", help="exit 1 if README.md's table is out of date"
        )
        parser.add_argument("--readme", default=str(Path(settings.BASE_DIR) / "README.md"))

    def handle(self, *args: Any, **options: Any) -> None:
        readme = Path(options["readme"])
        if options["write_readme"]:
            try:
                changed = matrix.write_readme(readme)
            except (OSError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{readme}: {'updated' if changed else 'already up to date'}")
            return
        if options["check"]:
            current = matrix.readme_table(readme.read_text(encoding="utf-8"))
            if current != matrix.readme_block():
                raise CommandError(
                    f"{readme}: the roles table is out of date; run `medtrace roles --write-readme`"
                )
            self.stdout.write(f"{readme}: the roles table is up to date")
            return
        self.stdout.write(
            matrix.readme_block() if options["markdown"] else matrix.markdown(), ending=""
        )
