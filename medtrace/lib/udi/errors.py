"""The one exception type of ``medtrace.lib.udi``."""

from __future__ import annotations


class UdiError(ValueError):
    """An identifier could not be parsed or built.

    ``message`` says exactly what is wrong and what was expected, e.g.
    ``"AI (17): month 13 is not valid"``. ``field`` names the offending part when there is one:
    an AI number (``"17"``), ``"hibc.check_char"``, ``"epc.company_prefix"``, ``"gtin"`` ... or
    None. The API layer maps this onto ``medtrace.errors.ValidationFailed`` (same message and
    field); this package stays free of Django and of the rest of the app.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message
