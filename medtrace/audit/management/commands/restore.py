"""`medtrace restore PATH [--yes]`: check a backup completely, then replace the live database."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.audit.backup import BackupError
from medtrace.audit.restore import restore


class Command(BaseCommand):
    help = (
        "Restore the backup in PATH: checks the manifest, every file's SHA-256 and the audit "
        "chain (in a scratch copy) first, and refuses a damaged or altered backup. Stop the "
        "web server and workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a directory written by `medtrace backup`")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="replace a live database that holds data without asking",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        def confirm(question: str) -> bool:
            self.stdout.write(question)
            if opts["yes"]:
                return True
            if not sys.stdin.isatty():
                raise BackupError(
                    "the live database holds data: run again with --yes to replace it "
                    "(nothing was changed)"
                )
            return input("Type 'yes' to replace it: ").strip().lower() == "yes"

        try:
            result = restore(opts["path"], confirm=confirm, say=self.stdout.write)
        except BackupError as exc:
            raise CommandError(f"restore refused: {exc}") from exc
        manifest, audit = result.manifest, result.audit
        self.stdout.write(
            f"Restored the backup taken {manifest.get('created_at')}: "
            f"{manifest['database']['engine']} database and {result.media_files} media files.\n"
            f"  audit: {audit['entries']} entries, head #{audit['head_seq']} "
            f"{audit['head_hash'][:16]}…, verifies."
        )
        for note in result.notes:
            self.stdout.write(f"Note: {note}")
