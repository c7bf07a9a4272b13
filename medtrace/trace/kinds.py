"""What kind of object an identifier names, from its scheme alone (no query)."""

from __future__ import annotations

import re

_DL_KEY = re.compile(r"/(00|01|21|10|8003|8004)/")


def epc_kind(epc: str) -> str:
    """serial | lot | container | class | object, from the identifier's scheme alone."""
    if epc.startswith(("urn:epc:id:sgtin:", "urn:medtrace:hibc:")):
        return "serial"
    if epc.startswith("urn:epc:id:sscc:"):
        return "container"
    if epc.startswith(("urn:epc:class:lgtin:", "urn:medtrace:hibc-lot:", "urn:medtrace:lot:")):
        return "lot"
    if epc.startswith(("urn:epc:idpat:", "urn:epc:class:")):
        return "class"
    if epc.startswith(("http://", "https://")):
        # A Digital Link the ledger could not turn into a URN (company prefix length unknown).
        keys = set(_DL_KEY.findall(epc))
        if "00" in keys:
            return "container"
        if "21" in keys:
            return "serial"
        if "10" in keys:
            return "lot"
    return "object"


def is_class_level(kind: str) -> bool:
    return kind in ("lot", "class")
