"""Validation problems: every one found is reported, each with where it is and what was expected."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EpcisValidationError", "Issue"]

# How many issues str(exc) spells out before summarising the rest.
_SUMMARY_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a capture document or event.

    ``index`` is the event's position in ``epcisBody.eventList`` (None for the document itself);
    ``field`` is the JSON path inside that event or document, e.g. ``quantityList[0].quantity``.
    """

    index: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = "document" if self.index is None else f"event {self.index}"
        if self.field:
            where = f"{where}, {self.field}"
        return f"{where}: {self.message}"


class EpcisValidationError(Exception):
    """The input is not a valid EPCIS 2.0 capture; ``issues`` holds all problems found."""

    issues: list[Issue]

    def __init__(self, issues: list[Issue]) -> None:
        if not issues:
            raise ValueError("EpcisValidationError needs at least one issue")
        self.issues = list(issues)
        shown = "; ".join(str(issue) for issue in self.issues[:_SUMMARY_LIMIT])
        more = len(self.issues) - _SUMMARY_LIMIT
        if more > 0:
            shown = f"{shown}; and {more} more issue{'s' if more > 1 else ''}"
        count = len(self.issues)
        super().__init__(f"{count} EPCIS validation issue{'s' if count > 1 else ''}: {shown}")
