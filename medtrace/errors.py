"""The one error hierarchy of medtrace.

Services raise these; the API renders each as
``{"error": code, "message": ..., "field": ..., "details": ...}`` with the HTTP status below, and
the UI shows ``message`` next to ``field``.
"""

from __future__ import annotations

from typing import Any


class MedtraceError(Exception):
    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "field": self.field,
            "details": self.details,
        }


class ValidationFailed(MedtraceError):
    """Input is wrong. ``details`` is a list of ``{"field", "message"}`` when several are."""

    code = "validation_failed"
    status = 422


class SequenceViolation(MedtraceError):
    """The step is impossible in the object's current state (21 CFR 11.10(f))."""

    code = "sequence_violation"
    status = 409


class PermissionDenied(MedtraceError):
    code = "permission_denied"
    status = 403


class NotFound(MedtraceError):
    code = "not_found"
    status = 404


class Conflict(MedtraceError):
    code = "conflict"
    status = 409


class RateLimited(MedtraceError):
    """Too many requests from one client; ``retry_after`` is the wait in whole seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
