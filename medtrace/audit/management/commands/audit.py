"""`medtrace audit verify | checkpoint | unlock-signing`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.accounts.models import User
from medtrace.audit.signatures import signing_unlock
from medtrace.audit.verify import checkpoint_create, load_checkpoint, verify
from medtrace.errors import MedtraceError


class Command(BaseCommand):
    help = "Verify the audit trail and ledger seals, sign checkpoints, unlock e-signing."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        v = sub.add_parser(
            "verify",
            help="Recompute the hash chain, ledger seals, signatures and checkpoints; exit 1 on "
            "any tampering, naming the first bad entry.",
        )
        v.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            type=Path,
            metavar="FILE",
            help="an exported checkpoint to hold the chain against (repeatable)",
        )
        v.add_argument("--no-ledger", action="store_true", help="skip the ledger seals")
        v.add_argument("--json", action="store_true", help="print the report as JSON")
        c = sub.add_parser("checkpoint", help="Sign the chain head with Ed25519 and export it.")
        c.add_argument(
            "-o", "--output", type=Path, help="write the checkpoint JSON to FILE (default: stdout)"
        )
        c.add_argument("--key", type=Path, help="Ed25519 private key (PEM); default from settings")
        u = sub.add_parser("unlock-signing", help="Unlock a user's e-signing after a lock-out.")
        u.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "verify":
            self._verify(options)
        elif action == "checkpoint":
            self._checkpoint(options)
        else:
            self._unlock(options["username"])

    def _verify(self, options: dict[str, Any]) -> None:
        checkpoints = []
        for path in options["checkpoint"]:
            try:
                checkpoints.append(load_checkpoint(path))
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        report = verify(ledger=not options["no_ledger"], checkpoints=checkpoints)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        elif report.ok:
            self.stdout.write(
                f"OK: {report.entries} audit entries, chain head #{report.head_seq} "
                f"{report.head_hash}; {report.sealed_jobs} ledger captures "
                f"({report.sealed_events} events) match their seals; {report.signatures} "
                f"signatures and {report.checkpoints + len(checkpoints)} checkpoints hold."
            )
        else:
            first = report.first_problem
            self.stderr.write(f"TAMPERING DETECTED: {first}")
            for problem in report.problems[1:20]:
                self.stderr.write(f"  also: {problem}")
            if len(report.problems) > 20:
                self.stderr.write(f"  … and {len(report.problems) - 20} more")
        if not report.ok:
            _alert_qa(report)
            sys.exit(1)

    def _checkpoint(self, options: dict[str, Any]) -> None:
        data = checkpoint_create(created_by="<cli>", key_file=options.get("key"))
        text = json.dumps(data, indent=2)
        if options.get("output"):
            options["output"].write_text(text + "\n", encoding="utf-8")
            self.stderr.write(
                f"Checkpoint of #{data['seq']} written to {options['output']}; keep a copy "
                "outside this system (it proves the history up to here was never rewritten)."
            )
        else:
            self.stdout.write(text)

    def _unlock(self, username: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        try:
            signing_unlock(user=user, by=None)
        except MedtraceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"E-signing unlocked for {username}.")


def _alert_qa(report: Any) -> None:
    # The alert rule audit_chain_failed (its recipients, once per set of problems).
    from medtrace.alerts.rules_audit import audit_chain_failed

    with contextlib.suppress(Exception):  # the exit code already reports the failure
        audit_chain_failed(report)
