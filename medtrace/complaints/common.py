"""What the complaint services share: permissions, who may act, input checks, row locks."""

from __future__ import annotations

from typing import Any

from medtrace.errors import Conflict, NotFound

# Who may act is the same rule as the service pages': staff by permission, hospital partners
# where allowed (on their own hospital's records only).
from medtrace.service.common import (
    invalid,
    is_partner,
    moment,
    partner_hospital,
    printed_name,
    require,
    text,
)

from .models import Complaint

__all__ = [
    "PERM_AE",
    "PERM_AE_CHANGE",
    "PERM_AE_VIEW",
    "PERM_INTAKE",
    "PERM_MANAGE",
    "PERM_RULES",
    "PERM_RULES_VIEW",
    "PERM_SIGNALS_VIEW",
    "PERM_VIEW",
    "complaint_for_update",
    "invalid",
    "is_partner",
    "moment",
    "partner_hospital",
    "printed_name",
    "refuse_closed",
    "require",
    "text",
    "yes_no",
]

PERM_INTAKE = "complaints.add_complaint"
PERM_MANAGE = "complaints.change_complaint"
PERM_VIEW = "complaints.view_complaint"
PERM_AE = "complaints.add_adverseevent"
PERM_AE_CHANGE = "complaints.change_adverseevent"
PERM_AE_VIEW = "complaints.view_adverseevent"
PERM_RULES = "complaints.change_signalrule"
PERM_RULES_VIEW = "complaints.view_signalrule"
PERM_SIGNALS_VIEW = "complaints.view_complaintsignal"

MAX_DESCRIPTION = 10_000


def yes_no(field: str, value: Any, *, required: bool = False) -> bool | None:
    """A yes/no answer from JSON (true/false) or a form ("yes"/"no", "true"/"false", "on")."""
    if value is None or value == "":
        if required:
            raise invalid(field, "answer yes or no", "required")
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"yes", "true", "1", "on"}:
            return True
        if lowered in {"no", "false", "0", "off"}:
            return False
    raise invalid(field, f"{value!r} is not yes or no")


def complaint_for_update(complaint: Complaint) -> Complaint:
    """The complaint's row, locked for the rest of the transaction (fresh values)."""
    locked = Complaint.objects.select_for_update().filter(pk=complaint.pk).first()
    if locked is None:
        raise NotFound(f"Complaint {complaint.number} does not exist")
    return locked


def refuse_closed(complaint: Complaint, what: str) -> None:
    if complaint.is_closed:
        raise Conflict(
            f"{complaint.number} is closed (signed); it cannot {what} any more",
            details={"status": complaint.status},
        )
