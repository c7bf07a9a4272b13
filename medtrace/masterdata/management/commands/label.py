"""`medtrace label`: render a UDI label as PNG or SVG.

medtrace label "(01)06901234100019(11)250101(21)SN0001" -o label.png
medtrace label --product 06901234100019 --serial SN0001 --manufactured 2025-01-01 --svg
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from medtrace.errors import MedtraceError
from medtrace.masterdata import labelling, selectors


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{text!r} is not a date; expected YYYY-MM-DD") from exc


class Command(BaseCommand):
    help = "Render a UDI label (GS1 DataMatrix, GS1 Digital Link QR, or HIBC DataMatrix)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("udi", nargs="?", help="A UDI in any form (scan, (01)..., URI, HIBC)")
        parser.add_argument("--product", help="Product DI (GTIN or HIBC) instead of a UDI")
        parser.add_argument("--serial")
        parser.add_argument("--lot")
        parser.add_argument("--expiry", type=_date, help="YYYY-MM-DD")
        parser.add_argument("--manufactured", type=_date, help="YYYY-MM-DD")
        parser.add_argument("--qr", action="store_true", help="GS1 Digital Link QR code")
        parser.add_argument("--svg", action="store_true", help="SVG instead of PNG")
        parser.add_argument("-o", "--output", help="File to write (default: stdout)")

    def handle(self, *args: Any, **opts: Any) -> None:
        symbology: labelling.Symbology = "qr" if opts["qr"] else "datamatrix"
        fmt: labelling.ImageFormat = "svg" if opts["svg"] else "png"
        try:
            if opts["udi"] and opts["product"]:
                raise CommandError("Give either a UDI or --product, not both")
            if opts["udi"]:
                req = labelling.request_from_udi(opts["udi"], symbology=symbology)
            elif opts["product"]:
                product = selectors.product_by_di(opts["product"])
                if product is None:
                    raise CommandError(f"No product has the DI {opts['product']!r}")
                level = product.identifiers.get(di=opts["product"]).packaging_level
                req = labelling.LabelRequest(
                    product=product,
                    serial=opts["serial"],
                    lot=opts["lot"],
                    expiry=opts["expiry"],
                    manufactured=opts["manufactured"],
                    packaging_level=level,
                    symbology=symbology,
                )
            else:
                raise CommandError("Give a UDI, or --product DI with its PI options")
            content, _media = labelling.render(req, fmt)
        except MedtraceError as exc:
            raise CommandError(exc.message) from exc
        if opts["output"]:
            Path(opts["output"]).write_bytes(content)
            self.stderr.write(f"wrote {opts['output']} ({len(content)} bytes)")
        else:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
