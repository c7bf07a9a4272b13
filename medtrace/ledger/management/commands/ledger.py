"""`medtrace ledger rebuild|capture FILE|stats`: maintain the EPCIS ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.ledger import services
from medtrace.ledger.models import Event, EventRetraction, GenealogyEdge, UnitState


class Command(BaseCommand):
    help = "EPCIS ledger maintenance: rebuild projections, capture a document, show counts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rebuild", help="Recompute UnitState and GenealogyEdge from the ledger.")
        cap = sub.add_parser("capture", help="Capture an EPCISDocument (JSON/JSON-LD) file.")
        cap.add_argument("file")
        cap.add_argument(
            "--proceed",
            action="store_true",
            help="Store the valid events even if some are invalid.",
        )
        sub.add_parser("stats", help="Count ledger rows and projections.")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "rebuild":
            started = time.perf_counter()
            count = services.rebuild()
            took = time.perf_counter() - started
            self.stdout.write(
                f"Rebuilt projections from {count} events in {took:.1f} s: "
                f"{UnitState.objects.count()} unit states, "
                f"{GenealogyEdge.objects.count()} genealogy edges."
            )
        elif action == "capture":
            path = Path(opts["file"])
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            behaviour = services.PROCEED if opts["proceed"] else services.ROLLBACK
            try:
                # Streamed: a 100 MB document is read and written in chunks, memory stays flat.
                with path.open("rb") as stream:
                    job = services.capture_stream(stream=stream, user=None, behaviour=behaviour)
            except services.CaptureRejected as exc:
                lines = [f"  {p.as_dict()['title']}" for p in exc.problems[:20]]
                more = len(exc.problems) - 20
                raise CommandError(
                    "Nothing was stored:\n"
                    + "\n".join(lines)
                    + (f"\n  … and {more} more" if more > 0 else "")
                ) from exc
            self.stdout.write(
                f"Capture {job.id}: {job.captured_count} of {job.event_count} "
                f"events stored, success={job.success}."
            )
            for error in job.errors:
                self.stdout.write(f"  {error['title']}")
        else:
            self.stdout.write(
                json.dumps(
                    {
                        "events": Event.objects.count(),
                        "retractions": EventRetraction.objects.count(),
                        "unit_states": UnitState.objects.count(),
                        "genealogy_edges": GenealogyEdge.objects.count(),
                        "open_edges": GenealogyEdge.objects.filter(valid_to__isnull=True).count(),
                    },
                    indent=2,
                )
            )
