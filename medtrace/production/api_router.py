"""The production app's one API router (mounted at /api/v1/ by medtrace.api); ``api`` and
``api_orders`` add their operations to it."""

from ninja import Router

router = Router(tags=["serial allocation"])
