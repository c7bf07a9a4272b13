"""`medtrace backup PATH`: a consistent snapshot of the database and media, with a manifest."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.audit.backup import EXIT_CHAIN_BROKEN, BackupError, backup


class Command(BaseCommand):
    help = (
        "Write a backup into the new directory PATH: the database (SQLite online backup or "
        "pg_dump), the media files, and a manifest with checksums and the audit chain head. "
        f"Exits {EXIT_CHAIN_BROKEN} if the backup was written but the audit chain does not verify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a new (or empty) directory to write the backup into")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            result = backup(opts["path"], say=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        audit = manifest["audit"]
        media = [f for f in manifest["files"] if f["path"].startswith("media/")]
        database = manifest["files"][0]
        self.stdout.write(
            f"Backup written to {result.path}\n"
            f"  database: {manifest['database']['engine']} {manifest['database']['source']} -> "
            f"{database['path']} ({database['size']:,} bytes)\n"
            f"  media:    {len(media)} files ({sum(f['size'] for f in media):,} bytes)\n"
            f"  audit:    {audit['entries']} entries, head #{audit['head_seq']} "
            f"{audit['head_hash'][:16]}…, "
            + ("verifies" if audit["ok"] else f"DOES NOT VERIFY ({audit['problem_count']})")
            + "\n  Not inside: MEDTRACE_FIELD_KEY and the checkpoint signing key; keep them "
            "safe, apart from the backups."
        )
        for warning in result.warnings:
            self.stderr.write(f"WARNING: {warning}")
        if not result.chain_ok:
            sys.exit(EXIT_CHAIN_BROKEN)
