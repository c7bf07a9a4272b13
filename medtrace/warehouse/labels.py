"""The logistic label of a case or pallet (GS1 logistic label, GS1 General Specifications §6.6).

The SSCC is printed twice, as GS1-128 (``]C1``, FNC1 first; the scanner-friendly linear symbol
at the bottom of every GS1 logistic label) and as a GS1 DataMatrix (``]d2``), both holding the
element string ``(00)`` + SSCC, with the human-readable ``(00) …`` under the linear symbol. Above
them: who packed it, what it holds (product, lot, count, earliest expiry) and when.

zxing-cpp makes both symbols (DESIGN §2); each is decoded again before it is drawn, and a PNG
label is decoded as a whole image, so a label that would not scan is never handed out. The PDF
draws the modules as vector rectangles (no resampling blur at any printer resolution), with
reportlab's built-in STSong-Light font for Chinese.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import zxingcpp
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from medtrace.lib.label_fonts import resolve_label_font

WIDTH_MM, HEIGHT_MM = 100.0, 150.0
MARGIN_MM = 5.0
MODULE_MM = 0.5  # GS1-128 X-dimension for logistic labels: 0.495-1.016 mm
BAR_HEIGHT_MM = 32.0  # at least 31.75 mm for a logistic label's linear symbol
DM_MODULE_MM = 0.75
PDF_FONT = "STSong-Light"


class LabelError(ValueError):
    pass


@dataclass(frozen=True)
class LogisticLabel:
    sscc: str
    sender: str
    sender_address: str = ""
    level: str = ""
    lines: list[tuple[str, str]] = field(default_factory=list)  # (caption, value)
    packed_on: date | None = None

    @property
    def element_string(self) -> str:
        return f"(00){self.sscc}"

    @property
    def hri(self) -> str:
        return f"(00) {self.sscc}"


def _modules(data: str, fmt: zxingcpp.BarcodeFormat, expect: str) -> Image.Image:
    """The symbol, one pixel per module, checked by decoding it."""
    kwargs = {"force_square": True} if fmt == zxingcpp.BarcodeFormat.DataMatrix else {}
    try:
        barcode = zxingcpp.create_barcode(data, fmt, gs1=True, **kwargs)
    except ValueError as exc:
        raise LabelError(f"cannot encode {data!r}: {exc}") from exc
    image = Image.fromarray(barcode.to_image(scale=1, add_quiet_zones=False)).convert("L")
    check = image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)
    padded = Image.new("L", (check.width + 80, check.height + 80), 255)
    padded.paste(check, (40, 40))
    read = zxingcpp.read_barcodes(padded, formats=zxingcpp.BarcodeFormats(fmt))
    if not read or read[0].text != data or read[0].symbology_identifier != expect:
        raise LabelError(f"the {fmt.name} symbol of {data!r} does not read back")
    return image


def _bars(image: Image.Image) -> list[tuple[int, int]]:
    """Dark runs (start, width) of a linear symbol's module row."""
    row = [image.getpixel((x, image.height // 2)) for x in range(image.width)]
    runs: list[tuple[int, int]] = []
    start = -1
    for x, value in enumerate([*row, 255]):
        dark = isinstance(value, int) and value < 128
        if dark and start < 0:
            start = x
        elif not dark and start >= 0:
            runs.append((start, x - start))
            start = -1
    return runs


def _symbols(label: LogisticLabel) -> tuple[Image.Image, Image.Image]:
    linear = _modules(label.element_string, zxingcpp.BarcodeFormat.Code128, "]C1")
    matrix = _modules(label.element_string, zxingcpp.BarcodeFormat.DataMatrix, "]d2")
    return linear, matrix


def _text_lines(label: LogisticLabel) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = [("SSCC", label.hri)]
    if label.level:
        out.append(("", label.level))
    out.extend(label.lines)
    if label.packed_on:
        out.append(("", label.packed_on.isoformat()))
    return out


# PDF -------------------------------------------------------------------------------------------

_font_registered = False


def _pdf_font() -> str:
    global _font_registered
    if not _font_registered:
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
        _font_registered = True
    return PDF_FONT


def render_pdf(label: LogisticLabel) -> bytes:
    linear, matrix = _symbols(label)
    font = _pdf_font()
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(WIDTH_MM * mm, HEIGHT_MM * mm))
    page.setTitle(f"SSCC {label.sscc}")
    top = HEIGHT_MM - MARGIN_MM
    page.setFont(font, 11)
    page.drawString(MARGIN_MM * mm, (top - 5) * mm, label.sender[:40])
    y = top - 10
    if label.sender_address:
        page.setFont(font, 8)
        page.drawString(MARGIN_MM * mm, y * mm, label.sender_address[:60])
        y -= 5
    page.line(MARGIN_MM * mm, y * mm, (WIDTH_MM - MARGIN_MM) * mm, y * mm)
    y -= 6
    for caption, value in _text_lines(label):
        page.setFont(font, 7)
        if caption:
            page.drawString(MARGIN_MM * mm, y * mm, caption[:30])
            y -= 4
        page.setFont(font, 10)
        page.drawString(MARGIN_MM * mm, y * mm, value[:48])
        y -= 6
    # DataMatrix, top right of the lower half.
    dm = DM_MODULE_MM
    x0 = WIDTH_MM - MARGIN_MM - matrix.width * dm
    y0 = MARGIN_MM + BAR_HEIGHT_MM + 14
    for my in range(matrix.height):
        for mx in range(matrix.width):
            module = matrix.getpixel((mx, my))
            if isinstance(module, int) and module < 128:
                page.rect((x0 + mx * dm) * mm, (y0 + (matrix.height - 1 - my) * dm) * mm,
                          dm * mm, dm * mm, stroke=0, fill=1)  # fmt: skip
    # GS1-128, centred at the bottom, with its HRI below.
    width = linear.width * MODULE_MM
    x0 = (WIDTH_MM - width) / 2
    y0 = MARGIN_MM + 6
    for start, run in _bars(linear):
        page.rect((x0 + start * MODULE_MM) * mm, y0 * mm, run * MODULE_MM * mm,
                  BAR_HEIGHT_MM * mm, stroke=0, fill=1)  # fmt: skip
    page.setFont(font, 11)
    page.drawCentredString(WIDTH_MM / 2 * mm, MARGIN_MM * mm, label.hri)
    page.showPage()
    page.save()
    return buffer.getvalue()


# PNG -------------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    chosen = resolve_label_font()
    if chosen.path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(chosen.path, size=size, index=chosen.index)


def render_png(label: LogisticLabel, *, dpi: int = 300) -> bytes:
    linear, matrix = _symbols(label)
    px = dpi / 25.4
    width, height = round(WIDTH_MM * px), round(HEIGHT_MM * px)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    margin = round(MARGIN_MM * px)
    y = margin
    big, small = _font(round(4.2 * px)), _font(round(2.6 * px))
    draw.text((margin, y), label.sender[:40], font=big, fill=0)
    y += round(6 * px)
    if label.sender_address:
        draw.text((margin, y), label.sender_address[:60], font=small, fill=0)
        y += round(4.5 * px)
    draw.line((margin, y, width - margin, y), fill=0, width=max(1, round(0.3 * px)))
    y += round(3 * px)
    for caption, value in _text_lines(label):
        if caption:
            draw.text((margin, y), caption[:30], font=small, fill=0)
            y += round(3.5 * px)
        draw.text((margin, y), value[:48], font=big, fill=0)
        y += round(6 * px)
    module = max(1, round(MODULE_MM * px))
    bars = linear.resize(
        (linear.width * module, round(BAR_HEIGHT_MM * px)), Image.Resampling.NEAREST
    )
    bar_x = (width - bars.width) // 2
    bar_y = height - margin - round(6 * px) - bars.height
    image.paste(bars, (bar_x, bar_y))
    hri_w = draw.textlength(label.hri, font=big)
    draw.text(((width - hri_w) / 2, height - margin - round(5 * px)), label.hri, font=big, fill=0)
    dm_module = max(1, round(DM_MODULE_MM * px))
    dm = matrix.resize(
        (matrix.width * dm_module, matrix.height * dm_module), Image.Resampling.NEAREST
    )
    image.paste(dm, (width - margin - dm.width, bar_y - round(10 * px) - dm.height))
    read = zxingcpp.read_barcodes(image)
    texts = sorted((r.symbology_identifier, r.text) for r in read)
    expected = sorted([("]C1", label.element_string), ("]d2", label.element_string)])
    if texts != expected:
        raise LabelError(f"the label of SSCC {label.sscc} does not scan back: {texts}")
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def render(label: LogisticLabel, fmt: str) -> tuple[bytes, str]:
    if fmt == "pdf":
        return render_pdf(label), "application/pdf"
    if fmt == "png":
        return render_png(label), "image/png"
    raise LabelError(f"format: expected pdf or png, got {fmt!r}")
