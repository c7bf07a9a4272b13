"""One JSON encoding of the trace answers (API and ``medtrace trace --json`` print the same bytes),
and the human-readable tables of the CLI."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from .genealogy import ForwardResult
from .schemas import BackwardOut, TimelineOut


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def timeline_json(data: dict[str, Any]) -> str:
    return _dumps(TimelineOut.model_validate(data).model_dump(mode="json"))


def backward_json(data: dict[str, Any]) -> str:
    return _dumps(BackwardOut.model_validate(data).model_dump(mode="json"))


def forward_json(result: ForwardResult) -> str:
    # Up to 100k units (DESIGN §10): the rows are encoded straight from tuples instead of
    # through pydantic (tests hold the result to ForwardOut and to as_dict()).
    return result.to_json()


# Text tables ---------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Aligned columns, two spaces apart; None prints as '-'."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in cells:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return lines


def _holder(holder: dict[str, Any] | None) -> str | None:
    if not holder:
        return None
    if holder.get("name"):
        return f"{holder['name']} ({holder['role']})" if holder.get("role") else holder["name"]
    return holder.get("gln") or holder.get("id")


def _product(product: dict[str, Any] | None) -> str | None:
    return f"{product['name']} {product['model']}" if product else None


def _time(value: str | None) -> str | None:
    return value.replace("T", " ").replace("Z", "") if value else None


def timeline_text(data: dict[str, Any]) -> str:
    lines = [f"Timeline of {data['epc']}"]
    unit = data.get("unit")
    if unit:
        lines.append(
            f"  product: {_product(unit['product']) or '-'}   serial: {unit['serial'] or '-'}"
            f"   lot: {unit['lot'] or '-'}"
        )
        lines.append(
            f"  holder: {_holder(unit['holder']) or '-'}   disposition: "
            f"{unit['disposition'] or '-'}   location: {unit['location'] or '-'}"
        )
    lines.append("")
    rows = []
    for event in data["events"]:
        flags = []
        if event["retracted"]:
            reason = (event["errorDeclaration"] or {}).get("reason")
            flags.append(f"RETRACTED ({reason})" if reason else "RETRACTED")
        if event["corrected"]:
            flags.append("correction of " + ", ".join(event["corrects"]))
        kind = event["eventType"].replace("Event", "")
        rows.append([
            _time(event["eventTime"]), event["phase"], event["bizStep"],
            f"{kind} {event['action']}" if event["action"] else kind, event["disposition"],
            event["via"], " ".join(flags) or None,
        ])  # fmt: skip
    lines += table(["TIME (UTC)", "PHASE", "BIZSTEP", "EVENT", "DISPOSITION", "VIA", "NOTE"],
                   rows)  # fmt: skip
    lines.append(f"\n{data['count']} event(s)")
    return "\n".join(lines) + "\n"


def _node_line(node: dict[str, Any]) -> str:
    parts = [node["epc"]]
    name = _product(node["product"]) or (node["material"] or {}).get("name")
    if name:
        parts.append(name)
    if node["relation"]:
        parts.append(f"[{node['relation']}{'' if node['current'] else ', removed'}]")
    if node["supplier"]:
        parts.append(f"supplier: {_holder(node['supplier'])}")
    elif node["supplier_candidates"]:
        names = ", ".join(_holder(c) or "?" for c in node["supplier_candidates"])
        parts.append(f"supplier one of: {names}")
    if node["inspections"]:
        results = ", ".join(i["disposition"] or "recorded" for i in node["inspections"])
        parts.append(f"inspections: {results}")
    if node["certificates"]:
        parts.append(f"certificates: {len(node['certificates'])}")
    if node["valid_to"]:
        parts.append(f"removed {_time(node['valid_to'])}")
    return "  ".join(parts)


def backward_text(data: dict[str, Any]) -> str:
    lines = [f"Made of (backward trace from {data['epc']})", ""]
    lines.append(_node_line(data["root"]))

    def walk(children: list[dict[str, Any]], prefix: str) -> None:
        for index, child in enumerate(children):
            last = index == len(children) - 1
            lines.append(prefix + ("└─ " if last else "├─ ") + _node_line(child))
            walk(child["children"], prefix + ("   " if last else "│  "))

    walk(data["root"]["children"], "")
    lines.append(f"\n{data['count']} component(s)")
    if data["contents"]:
        lines.append("\nContents")
        lines += table(
            ["LEVEL", "EPC", "PRODUCT", "SERIAL", "LOT", "IN"],
            [[c["level"], c["epc"], _product(c["product"]), c["serial"], c["lot"], c["parent"]]
             for c in data["contents"]],
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def forward_text(result: ForwardResult) -> str:
    lines = [f"Affected by {result.epc} (forward trace)", ""]
    rows = [
        [u["level"], u["kind"], u["epc"], _product(u["product"]), u["serial"] or u["lot"],
         u["disposition"], _holder(u["holder"]), u["location"], u["part_of"],
         "yes" if u["current"] else "no (history)"]
        for u in result.units
    ]  # fmt: skip
    lines += table(
        ["LEVEL", "KIND", "EPC", "PRODUCT", "SERIAL/LOT", "DISPOSITION", "HOLDER", "LOCATION",
         "PART OF", "CURRENT"],
        rows,
    )  # fmt: skip
    lines.append(f"\n{result.count} unit(s)\n")
    lines.append("By holder")
    lines += table(
        ["HOLDER", "ROLE", "GLN", "UNITS"],
        [[s["name"] or s["id"] or "(unknown)", s["role"], s["gln"], s["count"]]
         for s in result.summary],
    )  # fmt: skip
    return "\n".join(lines) + "\n"
