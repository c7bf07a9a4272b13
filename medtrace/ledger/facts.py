"""The ledger's own view of an event: canonical identifiers, ready for projections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# bizSteps after which the goods have left the sender but not yet reached the receiver.
SHIPPING_STEPS = frozenset({"shipping", "departing"})


@dataclass
class Fact:
    pk: int
    type: str
    action: str | None
    time: datetime
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    epcs: list[str] = field(default_factory=list)
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    child_classes: list[str] = field(default_factory=list)
    input_classes: list[str] = field(default_factory=list)
    output_classes: list[str] = field(default_factory=list)
    epc_classes: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    destinations: list[tuple[str, str]] = field(default_factory=list)
    ilmd: dict[str, Any] | None = None

    def instance_epcs(self) -> list[str]:
        out = list(self.epcs) + list(self.children) + list(self.inputs) + list(self.outputs)
        if self.parent:
            out.append(self.parent)
        return out

    def party(self, kind: str, sdtype: str) -> str | None:
        items = self.sources if kind == "source" else self.destinations
        for typ, value in items:
            if typ == sdtype:
                return value
        return None


def ilmd_value(ilmd: dict[str, Any] | None, name: str) -> Any:
    """An ILMD attribute by local name, whatever prefix the sender used (cbvmda:lotNumber...)."""
    if not ilmd:
        return None
    for key, value in ilmd.items():
        local = key.rsplit(":", 1)[-1].rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if local == name:
            return value
    return None
