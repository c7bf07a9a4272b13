"""REST endpoints of the warehouse app (mounted at /api/v1/)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["warehouse"])
