"""The UDI of one unit as its label carries it: the GS1 element string or HIBC data for the
DataMatrix, and its human-readable form (DESIGN §5: dates as YYYY-MM-DD), built from the unit's
state and the product's registered UDI-PI elements.

``symbol_svg`` draws the symbol alone (no label text) as one SVG path, so the page can show it at
any size. The symbol is made by zxing-cpp (a true GS1 DataMatrix, ``]d2``, or a plain one for
HIBC, ``]d1``) and read back before it is used: a symbol that does not decode to its data is
never shown (``medtrace.lib.labels`` does the same for printed labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import zxingcpp
from PIL import Image

from medtrace.lib import udi


@dataclass(frozen=True)
class UnitUdi:
    data: str  # what the DataMatrix holds
    hri: str  # what people read
    gs1: bool  # GS1 DataMatrix (else HIBC)


def unit_udi(
    *,
    epc: str,
    gtin: str | None,
    serial: str | None,
    lot: str | None,
    expiry: date | None,
    manufactured: date | None,
    pi_elements: list[str] | None,
) -> UnitUdi | None:
    """The unit's UDI; ``pi_elements`` (the product's UDI-PI) picks which of lot, serial,
    expiry and manufacturing date the label carries (all that are known when None).
    None when the data make no valid UDI (an unknown product, a value a label cannot hold)."""
    wanted = set(pi_elements) if pi_elements is not None else {"serial", "lot", "expiry"}
    values: dict[str, Any] = {
        "serial": serial if "serial" in wanted else None,
        "lot": lot if "lot" in wanted else None,
        "expiry": expiry if "expiry" in wanted else None,
        "manufactured": manufactured if "manufactured" in wanted else None,
    }
    try:
        if gtin:
            data = udi.build_element_string(gtin=gtin, **values)
            return UnitUdi(data, udi.parse(data).hri(), True)
        if epc.startswith("urn:medtrace:hibc:"):
            hibc = udi.parse(epc).hibc
            if hibc is None:
                return None
            data = udi.build_hibc(lic=hibc.lic, pcn=hibc.pcn, uom=hibc.unit_of_measure, **values)
            return UnitUdi(data, data, False)
    except (udi.UdiError, ValueError):
        return None
    return None


def _dark_path(barcode: zxingcpp.Barcode) -> tuple[str, int, int]:
    matrix = Image.fromarray(barcode.to_image(scale=1, add_quiet_zones=False)).convert("L")
    width, height = matrix.size
    pixels = matrix.tobytes()
    parts: list[str] = []
    for y in range(height):
        start = -1
        for x in range(width + 1):
            dark = x < width and pixels[y * width + x] < 128
            if dark and start < 0:
                start = x
            elif not dark and start >= 0:
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
                start = -1
    return "".join(parts), width, height


@lru_cache(maxsize=2048)
def symbol_svg(data: str, *, gs1: bool) -> str:
    """The DataMatrix of ``data`` as a standalone SVG (viewBox in modules, 2-module quiet zone).

    Raises ValueError when the data cannot be encoded or do not read back as themselves."""
    barcode = zxingcpp.create_barcode(
        data, zxingcpp.BarcodeFormat.DataMatrix, gs1=gs1, force_square=True
    )
    expected = "]d2" if gs1 else "]d1"
    if barcode.symbology_identifier != expected or barcode.text != data.replace("\\(", "("):
        raise ValueError(f"the DataMatrix of {data!r} does not read back as itself")
    path, width, height = _dark_path(barcode)
    quiet = 2
    box = f"{-quiet} {-quiet} {width + 2 * quiet} {height + 2 * quiet}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{box}" shape-rendering="crispEdges">'
        f'<rect x="{-quiet}" y="{-quiet}" width="{width + 2 * quiet}" '
        f'height="{height + 2 * quiet}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )
