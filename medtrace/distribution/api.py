"""REST endpoints of the distribution app (mounted at /api/v1/)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["distribution"])
