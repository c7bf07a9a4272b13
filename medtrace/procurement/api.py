"""REST endpoints of the procurement app (mounted at /api/v1/)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["procurement"])
