"""`medtrace trace`: the trace API on the command line.

medtrace trace timeline "(01)06901234000115(21)D1"
medtrace trace backward urn:epc:id:sgtin:6901234.000011.D1 --include-history
medtrace trace forward "(01)06920001000219(10)R7" --json
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.errors import MedtraceError
from medtrace.trace import rendering, selectors


class Command(BaseCommand):
    help = "Trace a unit, lot or container: timeline, backward (made of) or forward (recall)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["timeline", "backward", "forward"])
        parser.add_argument("id", help="Any identifier form: UDI scan, (01)..., URI, EPC, serial")
        parser.add_argument("--json", action="store_true", help="The API's JSON answer")
        parser.add_argument(
            "--include-history", action="store_true",
            help="Also removed parts (backward) or units that no longer contain it (forward)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        what, ident, history = options["what"], options["id"], options["include_history"]
        try:
            if what == "timeline":
                data = selectors.unit_timeline(id=ident, user=None)
                out = rendering.timeline_json(data) if options["json"] else None
                out = out or rendering.timeline_text(data)
            elif what == "backward":
                data = selectors.trace_backward(id=ident, user=None, include_history=history)
                out = rendering.backward_json(data) if options["json"] else None
                out = out or rendering.backward_text(data)
            else:
                result = selectors.trace_forward(id=ident, user=None, include_history=history)
                out = rendering.forward_json(result) if options["json"] else None
                out = out or rendering.forward_text(result)
        except MedtraceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(out, ending="" if out.endswith("\n") else "\n")
