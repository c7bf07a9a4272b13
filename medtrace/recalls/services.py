"""The recall services (writes), gathered from their modules for callers outside the app.

Every function is keyword-only, runs in one transaction, locks the campaign row first, and
audits what it changes (DESIGN §4). See each module for the rules it applies.
"""

from __future__ import annotations

from .campaigns import (
    close_blockers,
    recall_approve,
    recall_classify,
    recall_close,
    recall_open,
    recall_scope_extend,
)
from .effectiveness import (
    effectiveness_check_start,
    effectiveness_conclude,
    effectiveness_contact_record,
)
from .notices import recall_notices_create, recall_notices_send
from .responses import notice_acknowledge, unit_dispositions_report
from .scope import recall_scope_preview, recall_scope_recompute

__all__ = [
    "close_blockers",
    "effectiveness_check_start",
    "effectiveness_conclude",
    "effectiveness_contact_record",
    "notice_acknowledge",
    "recall_approve",
    "recall_classify",
    "recall_close",
    "recall_notices_create",
    "recall_notices_send",
    "recall_open",
    "recall_scope_extend",
    "recall_scope_preview",
    "recall_scope_recompute",
    "unit_dispositions_report",
]
