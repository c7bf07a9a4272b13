"""Quality writes (DESIGN §3): the public service functions of the quality app.

The work lives in small modules, re-exported here so callers import one place:

- ``holds``: holds and quarantine, lifting them, QC release with an e-signature;
- ``nonconformance``: nonconformance records, their e-signed disposition and closure;
- ``plans``: inspection plans and their characteristics;
- ``inspections``: inspection results judged against the plan's limits.
"""

from __future__ import annotations

from .holds import (
    HOLD_DISPOSITION,
    PERM_HOLD,
    PERM_LIFT,
    PERM_RELEASE,
    hold_lift,
    hold_place,
    release_create,
    targets_from_scans,
)
from .nonconformance import (
    nonconformance_close,
    nonconformance_disposition,
    nonconformance_open,
)

__all__ = [
    "HOLD_DISPOSITION",
    "PERM_HOLD",
    "PERM_LIFT",
    "PERM_RELEASE",
    "hold_lift",
    "hold_place",
    "nonconformance_close",
    "nonconformance_disposition",
    "nonconformance_open",
    "release_create",
    "targets_from_scans",
]
