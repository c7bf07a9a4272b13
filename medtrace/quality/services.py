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
    is_lot_class,
    release_create,
    targets_from_scans,
)
from .inspections import (
    PERM_INSPECT,
    inspection_record,
    required_samples,
    scan_target,
    scan_targets,
)
from .nonconformance import (
    nonconformance_close,
    nonconformance_disposition,
    nonconformance_open,
)
from .plans import inspection_plan_create, inspection_plan_update

__all__ = [
    "HOLD_DISPOSITION",
    "PERM_HOLD",
    "PERM_INSPECT",
    "PERM_LIFT",
    "PERM_RELEASE",
    "hold_lift",
    "hold_place",
    "inspection_plan_create",
    "inspection_plan_update",
    "inspection_record",
    "is_lot_class",
    "nonconformance_close",
    "nonconformance_disposition",
    "nonconformance_open",
    "release_create",
    "required_samples",
    "scan_target",
    "scan_targets",
    "targets_from_scans",
]
