"""The complaint services in one place (writes; each lives in its own module):

- ``intake``: ``complaint_create``;
- ``decisions``: ``complaint_investigate``, ``complaint_decide``, ``complaint_link_capa``,
  ``complaint_close`` (e-signed);
- ``adverse``: ``adverse_event_create``, ``adverse_event_report``;
- ``rules``: ``signal_rule_create``, ``signal_rule_update``;
- ``signals``: ``signals_evaluate`` (run by intake, inside its transaction).
"""

from __future__ import annotations

from .adverse import adverse_event_create, adverse_event_report
from .decisions import (
    complaint_close,
    complaint_decide,
    complaint_investigate,
    complaint_link_capa,
)
from .intake import complaint_create
from .rules import signal_rule_create, signal_rule_update
from .signals import signals_evaluate

__all__ = [
    "adverse_event_create",
    "adverse_event_report",
    "complaint_close",
    "complaint_create",
    "complaint_decide",
    "complaint_investigate",
    "complaint_link_capa",
    "signal_rule_create",
    "signal_rule_update",
    "signals_evaluate",
]
