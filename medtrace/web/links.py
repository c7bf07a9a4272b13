"""Which page shows an object the ledger names: a unit's life, a lot's or a container's trace."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse


def page_url(epc: str, kind: str) -> str:
    """The page of ``epc`` given its kind (``trace.kinds.epc_kind``): a lot or EPC class opens
    the lot page, an SSCC the container page, anything else the unit page."""
    if kind in ("lot", "class"):
        name = "web:lot"
    elif kind == "container":
        name = "web:container"
    else:
        name = "web:trace"
    return f"{reverse(name)}?{urlencode({'id': epc})}"
