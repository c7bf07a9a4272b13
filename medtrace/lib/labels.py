"""UDI label rendering (PNG and SVG) for a medical device unit or lot.

A label carries one 2D symbol (created with zxing-cpp) plus human-readable text:
the product title, the HRI (human-readable interpretation) of the UDI and any
extra lines such as the registration certificate number.

Symbologies
-----------
``gs1-datamatrix``
    A GS1 DataMatrix (FNC1 in first position, symbology identifier ``]d2``).
    ``data`` is the bracketed element string exactly as ``medtrace.lib.udi`` writes it
    (``Identity.element_string()``: a '(' inside a value is escaped as ``\\(``), with
    an (01) GTIN, e.g. ``(01)06901234567892(17)270131(10)L1(21)S1``.
``gs1-dl-qr``
    A plain QR Code (``]Q1``) holding a GS1 Digital Link URI whose primary key is
    ``/01/`` (a 14-digit GTIN).
``hibc-datamatrix``
    A plain (non-GS1) DataMatrix (``]d1``) holding HIBC LIC data such as
    ``+A123BJC5D6E71G`` (check and link characters are verified; the final check
    character may be a space).

The data is validated with ``medtrace.lib.udi.parse``; its error message is passed on
in a :class:`LabelError`. Every symbol is decoded again with zxing-cpp before it is
returned (the whole label image for PNG, the exact module geometry written to the SVG
for SVG), and a label whose symbol does not read back as exactly ``data`` is refused
with :class:`LabelError`.

Fonts
-----
PNG text is drawn with the font :func:`resolve_label_font` finds (see
:mod:`medtrace.lib.label_fonts` for the lookup order: ``MEDTRACE_LABEL_FONT``, well-known
CJK fonts, ``fc-list :lang=zh``, then Latin fallbacks). If the chosen font lacks glyphs
for some characters, the PNG is still rendered (those characters show as the font's
"missing glyph" box, nothing is replaced or dropped) and a :class:`LabelFontWarning`
names the characters. Install ``fonts-noto-cjk`` (Debian) or set ``MEDTRACE_LABEL_FONT``
to avoid it. SVG output keeps text as ``<text>`` elements with a CJK-friendly
``font-family`` list, so viewers render Chinese with their own fonts.

This module is pure Python: it must not import Django.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import zxingcpp
from PIL import Image, ImageDraw

from medtrace.lib import udi
from medtrace.lib.label_fonts import (
    FONT_ENV_VAR,
    LabelError,
    LabelFont,
    LabelFontWarning,
    _FontObject,
    _has_glyph,
    _load_font,
    _missing_glyph_mask,
    resolve_label_font,
)

__all__ = [
    "FONT_ENV_VAR",
    "LabelError",
    "LabelFont",
    "LabelFontWarning",
    "LabelSpec",
    "Symbology",
    "render_png",
    "render_svg",
    "resolve_label_font",
]

Symbology = Literal["gs1-datamatrix", "gs1-dl-qr", "hibc-datamatrix"]


@dataclass(frozen=True)
class LabelSpec:
    """What goes on one label.

    ``data`` is encoded in the symbol; ``title``, ``hri`` and ``lines`` are printed.
    A newline in ``hri`` or in a line starts a new printed line; long lines are
    wrapped (HRI preferably before an ``(AI)``), never cut.
    """

    data: str
    symbology: Symbology
    hri: str
    title: str
    lines: Sequence[str] = ()


# --------------------------------------------------------------------------- #
# Layout constants (physical units, converted with the requested dpi)
# --------------------------------------------------------------------------- #

_MM_PER_INCH: Final = 25.4
_POINTS_PER_INCH: Final = 72.0
_MIN_WIDTH_MM: Final = 50.0  # the label grows beyond 50 x 30 mm only if content needs it
_MIN_HEIGHT_MM: Final = 30.0
_MARGIN_MM: Final = 1.5
_GAP_MM: Final = 1.5  # between symbol and text column, and above the HRI block
_MIN_COLUMN_MM: Final = 18.0  # narrowest text column beside the symbol
_MODULE_MM: Final = 0.4  # target X-dimension; rounded to whole pixels
_TITLE_PT: Final = 9.0
_BODY_PT: Final = 7.0
_ASCENT: Final = 0.95  # first baseline below the line top, as a fraction of the font size
_LINE_HEIGHT: Final = 1.25  # baseline-to-baseline distance, as a fraction of the font size
_MIN_DPI: Final = 72
_MAX_DPI: Final = 2400
_SVG_DPI: Final = 300  # SVG user units are dots at this resolution

_SVG_NS: Final = "http://www.w3.org/2000/svg"
_XML_SPACE: Final = "{http://www.w3.org/XML/1998/namespace}space"
_SVG_FONT_FAMILY: Final = (
    "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Hiragino Sans GB', "
    "'Microsoft YaHei', 'WenQuanYi Micro Hei', 'Noto Sans', 'DejaVu Sans', Arial, sans-serif"
)

# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #

# GS1, Digital Link and HIBC data are checked by medtrace.lib.udi (strict and
# conformance-tested); this module adds only what a label needs on top of that.

_DL_SCHEME_RE: Final = re.compile(r"https?://", re.IGNORECASE)


def _parse_udi(data: str) -> udi.Identity:
    try:
        return udi.parse(data)
    except udi.UdiError as exc:
        raise LabelError(f"data: {exc.message}") from exc


def _validate_gs1_element_string(data: str) -> str:
    """Check a bracketed element string; return it as a decoder shows it (HRI form).

    ``data`` must be written as ``udi.Identity.element_string()`` writes it, which is
    also what the encoder takes: a '(' inside a value is escaped as '\\(' and nothing
    else is escaped. zxing-cpp's HRI text shows the values unescaped.
    """
    if not data.startswith("("):
        raise LabelError(
            "gs1-datamatrix data must be a bracketed GS1 element string such as "
            f"'(01)06901234567892(17)270131(10)L1', got {data!r}"
        )
    if "\\)" in data:
        raise LabelError(
            "data: write ')' in a GS1 value without a backslash; only '(' is escaped, "
            f"as '\\(', got {data!r}"
        )
    identity = _parse_udi(data)
    canonical = identity.element_string()
    if canonical != data:
        raise LabelError(
            "gs1-datamatrix data must be a bracketed GS1 element string written as "
            f"{canonical!r}, got {data!r}"
        )
    if identity.gtin is None:
        raise LabelError("GS1 element string has no device identifier: AI (01) GTIN is missing")
    return "".join(f"({ai}){value}" for ai, value in identity.ais)


def _validate_digital_link(data: str) -> None:
    if not data.isascii() or any(ch.isspace() or not ch.isprintable() for ch in data):
        raise LabelError(
            "GS1 Digital Link URI must be printable ASCII without spaces "
            f"(percent-encode other characters), got {data!r}"
        )
    if not _DL_SCHEME_RE.match(data):
        raise LabelError(f"GS1 Digital Link must be an http(s) URI with a host, got {data!r}")
    identity = _parse_udi(data)
    if not identity.ais or identity.ais[0][0] != "01":
        raise LabelError(
            f"GS1 Digital Link URI has no '/01/<GTIN>' primary key in its path: {data!r}"
        )


def _validate_hibc(data: str) -> None:
    if not data.startswith("+"):
        raise LabelError(f"HIBC data must start with the '+' flag character, got {data!r}")
    identity = _parse_udi(data)
    if identity.scheme != "hibcc":
        raise LabelError(f"data is not HIBC LIC data: {data!r}")


def _unprintable(ch: str) -> bool:
    """Control characters (but newline), surrogates and noncharacters: none can be
    printed, and XML 1.0 forbids most of them."""
    code = ord(ch)
    category = unicodedata.category(ch)
    return (
        (category == "Cc" and ch != "\n")
        or category == "Cs"
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE
    )


def _validate_text(field: str, value: object, *, required: bool) -> None:
    if not isinstance(value, str):
        raise LabelError(f"label {field} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise LabelError(f"label {field} must not be empty")
    for ch in value:
        if _unprintable(ch):
            raise LabelError(
                f"label {field} contains an unprintable character U+{ord(ch):04X}: {value!r}"
            )


def _validate_spec(spec: LabelSpec) -> str:
    """Validate the spec; return the text a decoder must read from the symbol."""
    if not isinstance(spec.data, str) or not spec.data:
        raise LabelError("symbol data must be a non-empty string")
    # Surrounding whitespace would be encoded as data; only an HIBC check character may be
    # a (trailing) space, and udi.parse verifies that it is the right one.
    body = spec.data
    if spec.symbology == "hibc-datamatrix" and body.endswith(" "):
        body = body[:-1]
    if body != body.strip():
        raise LabelError(f"symbol data has leading or trailing whitespace: {spec.data!r}")
    if spec.symbology == "gs1-datamatrix":
        decoded = _validate_gs1_element_string(spec.data)
    elif spec.symbology == "gs1-dl-qr":
        _validate_digital_link(spec.data)
        decoded = spec.data
    elif spec.symbology == "hibc-datamatrix":
        _validate_hibc(spec.data)
        decoded = spec.data
    else:
        raise LabelError(
            f"unknown symbology {spec.symbology!r}; "
            "expected 'gs1-datamatrix', 'gs1-dl-qr' or 'hibc-datamatrix'"
        )
    _validate_text("title", spec.title, required=True)
    _validate_text("HRI", spec.hri, required=True)
    if isinstance(spec.lines, str):
        raise LabelError("label lines must be a sequence of strings, not a single string")
    for number, line in enumerate(spec.lines, start=1):
        _validate_text(f"line {number}", line, required=False)
    return decoded


def _validate_dpi(dpi: int) -> None:
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not _MIN_DPI <= dpi <= _MAX_DPI:
        raise LabelError(f"dpi must be an integer from {_MIN_DPI} to {_MAX_DPI}, got {dpi!r}")


# --------------------------------------------------------------------------- #
# Symbol creation and verification
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Expected:
    format: zxingcpp.BarcodeFormat
    symbology_identifier: str
    content_type: zxingcpp.ContentType
    quiet_zone: int  # modules of white space required around the symbol
    name: str


_EXPECTED: Final[dict[str, _Expected]] = {
    "gs1-datamatrix": _Expected(
        zxingcpp.BarcodeFormat.DataMatrix, "]d2", zxingcpp.ContentType.GS1, 2, "GS1 DataMatrix"
    ),
    "gs1-dl-qr": _Expected(
        zxingcpp.BarcodeFormat.QRCode, "]Q1", zxingcpp.ContentType.Text, 4, "GS1 Digital Link QR"
    ),
    "hibc-datamatrix": _Expected(
        zxingcpp.BarcodeFormat.DataMatrix, "]d1", zxingcpp.ContentType.Text, 2, "HIBC DataMatrix"
    ),
}


@dataclass(frozen=True)
class _Symbol:
    rows: tuple[tuple[tuple[int, int], ...], ...]  # per row: dark runs as (start, length)
    width: int  # modules
    height: int  # modules
    quiet_zone: int  # modules
    expected: _Expected
    decoded: str  # the text zxing-cpp must read back (TextMode.HRI)


def _zint_message(exc: Exception) -> str:
    return re.sub(r"\s*\(retval: \d+\)\s*$", "", str(exc)).strip()


def _encode(spec: LabelSpec, decoded: str) -> _Symbol:
    expected = _EXPECTED[spec.symbology]
    try:
        if spec.symbology == "gs1-datamatrix":
            barcode = zxingcpp.create_barcode(
                spec.data, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, force_square=True
            )
        elif spec.symbology == "gs1-dl-qr":
            barcode = zxingcpp.create_barcode(
                spec.data, zxingcpp.BarcodeFormat.QRCode, ec_level="M"
            )
        else:
            barcode = zxingcpp.create_barcode(
                spec.data, zxingcpp.BarcodeFormat.DataMatrix, force_square=True
            )
    except ValueError as exc:
        raise LabelError(f"cannot encode {expected.name}: {_zint_message(exc)}") from exc
    _check_decoded(barcode, expected, decoded, where="created symbol")

    matrix = Image.fromarray(barcode.to_image(scale=1, add_quiet_zones=False)).convert("L")
    width, height = matrix.size
    pixels = matrix.tobytes()
    rows: list[tuple[tuple[int, int], ...]] = []
    for y in range(height):
        runs: list[tuple[int, int]] = []
        start = -1
        for x in range(width + 1):
            dark = x < width and pixels[y * width + x] < 128
            if dark and start < 0:
                start = x
            elif not dark and start >= 0:
                runs.append((start, x - start))
                start = -1
        rows.append(tuple(runs))
    return _Symbol(tuple(rows), width, height, expected.quiet_zone, expected, decoded)


def _check_decoded(
    barcode: zxingcpp.Barcode, expected: _Expected, decoded: str, *, where: str
) -> None:
    problems: list[str] = []
    if barcode.format != expected.format:
        problems.append(f"format {barcode.format.name} instead of {expected.format.name}")
    if barcode.symbology_identifier != expected.symbology_identifier:
        problems.append(
            f"symbology identifier {barcode.symbology_identifier!r} "
            f"instead of {expected.symbology_identifier!r}"
        )
    if barcode.content_type != expected.content_type:
        problems.append(
            f"content type {barcode.content_type.name} instead of {expected.content_type.name}"
        )
    # TextMode.HRI (zxing-cpp's default) renders GS1 data as '(AI)value...', i.e. the
    # bracketed element string we encoded (without '\(' escapes); other symbols decode
    # to their plain text.
    if barcode.text != decoded:
        problems.append(f"text {barcode.text!r} instead of {decoded!r}")
    if problems:
        raise LabelError(f"{expected.name} verification failed ({where}): " + "; ".join(problems))


def _verify_image(image: Image.Image, symbol: _Symbol, *, where: str) -> None:
    found = zxingcpp.read_barcodes(
        image,
        formats=zxingcpp.BarcodeFormats(symbol.expected.format),
        text_mode=zxingcpp.TextMode.HRI,
    )
    if len(found) != 1:
        raise LabelError(
            f"{symbol.expected.name} verification failed ({where}): "
            f"expected one readable symbol, found {len(found)}"
        )
    _check_decoded(found[0], symbol.expected, symbol.decoded, where=where)


def _paint_symbol(
    draw: ImageDraw.ImageDraw, symbol: _Symbol, left: int, top: int, module: int
) -> None:
    for y, runs in enumerate(symbol.rows):
        for start, length in runs:
            draw.rectangle(
                (
                    left + start * module,
                    top + y * module,
                    left + (start + length) * module - 1,
                    top + (y + 1) * module - 1,
                ),
                fill=0,
            )


def _rasterise_symbol(symbol: _Symbol, module: int) -> Image.Image:
    """The symbol alone with its quiet zone, drawn from the same runs as the SVG rects."""
    quiet = symbol.quiet_zone * module
    image = Image.new(
        "L", (symbol.width * module + 2 * quiet, symbol.height * module + 2 * quiet), 255
    )
    _paint_symbol(ImageDraw.Draw(image), symbol, quiet, quiet, module)
    return image


# --------------------------------------------------------------------------- #
# Text measurement and wrapping
# --------------------------------------------------------------------------- #

_NO_BREAK_BEFORE: Final = frozenset(",.:;!?)]}%、。，：；！？）】」』”’》〉…·-")
_NO_BREAK_AFTER: Final = frozenset("([{（【「『“‘《〈")


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


class _Face:
    """One font at one pixel size, with glyph-coverage aware measuring."""

    def __init__(self, font: _FontObject, size: int) -> None:
        self.font = font
        self.size = size
        self._notdef = _missing_glyph_mask(font)
        self._has: dict[str, bool] = {}
        # Fixed proportions rather than the font's own metrics (CJK fonts carry a much
        # larger line gap), so every font and the SVG share one layout.
        self.ascent = round(size * _ASCENT)
        self.line_height = round(size * _LINE_HEIGHT)

    def has_glyph(self, ch: str) -> bool:
        known = self._has.get(ch)
        if known is None:
            known = self._has[ch] = _has_glyph(self.font, ch, self._notdef)
        return known

    def missing(self, text: str) -> set[str]:
        return {ch for ch in text if not self.has_glyph(ch)}

    def measure(self, text: str) -> float:
        """Advance width in pixels.

        Characters the font lacks are counted at the width a real font would give them
        (1 em when East Asian wide, 0.6 em otherwise) so that the layout also suits
        SVG viewers, which render those characters with their own fonts.
        """
        missing = self.missing(text)
        if not missing:
            return float(self.font.getlength(text))
        covered = "".join(ch for ch in text if ch not in missing)
        extra = sum(self.size * (1.0 if _is_wide(ch) else 0.6) for ch in text if ch in missing)
        return float(self.font.getlength(covered)) + extra if covered else extra


def _split(text: str, allowed: Callable[[str, str], bool]) -> list[str]:
    pieces: list[str] = []
    current = ""
    for ch in text:
        if current and allowed(current[-1], ch):
            pieces.append(current)
            current = ""
        current += ch
    if current:
        pieces.append(current)
    return pieces


def _word_break(prev: str, ch: str) -> bool:
    """Preferred breaks: after spaces and before '(' (the start of a GS1 AI in HRI)."""
    if ch.isspace() or prev in _NO_BREAK_AFTER:
        return False
    return prev.isspace() or ch == "("


def _cjk_break(prev: str, ch: str) -> bool:
    """Fallback breaks inside a word: next to East Asian wide characters."""
    if ch.isspace() or ch in _NO_BREAK_BEFORE or prev in _NO_BREAK_AFTER:
        return False
    return _is_wide(prev) or _is_wide(ch)


def _wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy wrap at word breaks; words too wide for a line are broken next to CJK
    characters; a piece that still does not fit keeps its own (wider) line."""
    lines: list[str] = []
    for paragraph in text.strip("\n").split("\n"):
        atoms: list[str] = []
        for word in _split(paragraph.rstrip(), _word_break):
            if measure(word.rstrip()) > width:
                atoms.extend(_split(word, _cjk_break))
            else:
                atoms.append(word)
        line = ""
        for atom in atoms:
            candidate = line + atom
            if line.strip() and measure(candidate.rstrip()) > width:
                lines.append(line.rstrip())
                line = atom.lstrip()
            else:
                line = candidate
        lines.append(line.rstrip())
    return lines


# --------------------------------------------------------------------------- #
# Layout
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Line:
    role: Literal["title", "line", "hri"]
    text: str
    x: int
    baseline: int
    face: _Face


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    symbol_left: int  # top-left corner of the first module (inside the quiet zone)
    symbol_top: int
    module: int  # pixels per module
    lines: tuple[_Line, ...]


@functools.lru_cache(maxsize=64)
def _face(path: str | None, index: int, size: int) -> _Face:
    return _Face(_load_font(path, index, size), size)


def _faces(dpi: int) -> tuple[_Face, _Face]:
    chosen = resolve_label_font()
    title_px = max(8, round(_TITLE_PT * dpi / _POINTS_PER_INCH))
    body_px = max(7, round(_BODY_PT * dpi / _POINTS_PER_INCH))
    return (
        _face(chosen.path, chosen.index, title_px),
        _face(chosen.path, chosen.index, body_px),
    )


def _layout(spec: LabelSpec, symbol: _Symbol, dpi: int) -> _Layout:
    """Symbol top-left; title and extra lines to its right; HRI under the symbol."""
    px_per_mm = dpi / _MM_PER_INCH
    margin = round(_MARGIN_MM * px_per_mm)
    gap = round(_GAP_MM * px_per_mm)
    module = max(2, round(_MODULE_MM * px_per_mm))
    quiet = symbol.quiet_zone * module
    symbol_box_w = symbol.width * module + 2 * quiet
    symbol_box_h = symbol.height * module + 2 * quiet
    min_width = round(_MIN_WIDTH_MM * px_per_mm)
    min_height = round(_MIN_HEIGHT_MM * px_per_mm)
    title_face, body_face = _faces(dpi)

    column_x = margin + symbol_box_w + gap
    column_w = max(min_width - margin - column_x, round(_MIN_COLUMN_MM * px_per_mm))
    column: list[tuple[Literal["title", "line"], str, _Face]] = [
        ("title", text, title_face) for text in _wrap(spec.title, column_w, title_face.measure)
    ]
    for extra in spec.lines:
        column.extend(
            ("line", text, body_face) for text in _wrap(extra, column_w, body_face.measure)
        )
    column_w = max([column_w, *(round(face.measure(text)) for _, text, face in column)])

    lines: list[_Line] = []
    y = margin
    for role, text, face in column:
        lines.append(_Line(role, text, column_x, y + face.ascent, face))
        y += face.line_height
    column_bottom = y

    width = max(min_width, column_x + column_w + margin)
    hri_w = width - 2 * margin
    hri_lines = _wrap(spec.hri, hri_w, body_face.measure)
    width = max([width, *(2 * margin + round(body_face.measure(t)) for t in hri_lines)])
    y = max(margin + symbol_box_h, column_bottom) + gap
    for text in hri_lines:
        lines.append(_Line("hri", text, margin, y + body_face.ascent, body_face))
        y += body_face.line_height
    height = max(min_height, y + margin)
    return _Layout(width, height, margin + quiet, margin + quiet, module, tuple(lines))


# --------------------------------------------------------------------------- #
# Public renderers
# --------------------------------------------------------------------------- #


def render_png(spec: LabelSpec, *, dpi: int = 300) -> bytes:
    """Render the label as an 8-bit grayscale PNG carrying its resolution (pHYs).

    Raises :class:`LabelError` for bad input or a symbol that does not read back as
    ``spec.data``; warns with :class:`LabelFontWarning` if glyphs are missing.
    """
    decoded = _validate_spec(spec)
    _validate_dpi(dpi)
    symbol = _encode(spec, decoded)
    layout = _layout(spec, symbol, dpi)

    image = Image.new("L", (layout.width, layout.height), 255)
    draw = ImageDraw.Draw(image)
    _paint_symbol(draw, symbol, layout.symbol_left, layout.symbol_top, layout.module)
    missing: set[str] = set()
    for line in layout.lines:
        missing |= line.face.missing(line.text)
        draw.text((line.x, line.baseline), line.text, font=line.face.font, fill=0, anchor="ls")
    _verify_image(image, symbol, where="rendered PNG")

    if missing:
        chosen = resolve_label_font()
        warnings.warn(
            LabelFontWarning(
                f"label font {chosen.name!r} ({chosen.path or 'built into Pillow'}) has no "
                f"glyphs for {''.join(sorted(missing))!r}; they print as missing-glyph boxes. "
                f"Install a CJK font (Debian: fonts-noto-cjk) or set {FONT_ENV_VAR}."
            ),
            stacklevel=2,
        )

    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def render_svg(spec: LabelSpec) -> str:
    """Render the label as a standalone SVG document (UTF-8 text, sized in mm).

    The symbol is drawn with ``<rect>`` elements in module units inside
    ``<g id="symbol">``; texts are ``<text>`` elements. Raises :class:`LabelError`
    for bad input or a symbol that does not read back as ``spec.data``.
    """
    symbol = _encode(spec, _validate_spec(spec))
    # The exact runs written below are rasterised and decoded before returning.
    _verify_image(_rasterise_symbol(symbol, 4), symbol, where="SVG symbol geometry")
    layout = _layout(spec, symbol, _SVG_DPI)
    mm_per_px = _MM_PER_INCH / _SVG_DPI

    root = ET.Element(
        "svg",
        {
            "xmlns": _SVG_NS,
            "version": "1.1",
            "width": f"{_fmt(layout.width * mm_per_px)}mm",
            "height": f"{_fmt(layout.height * mm_per_px)}mm",
            "viewBox": f"0 0 {layout.width} {layout.height}",
        },
    )
    ET.SubElement(root, "title").text = spec.title
    ET.SubElement(
        root,
        "rect",
        {"x": "0", "y": "0", "width": str(layout.width), "height": str(layout.height)},
        fill="#ffffff",
    )
    group = ET.SubElement(
        root,
        "g",
        {
            "id": "symbol",
            "fill": "#000000",
            "shape-rendering": "crispEdges",
            "transform": (
                f"translate({layout.symbol_left} {layout.symbol_top}) scale({layout.module})"
            ),
            "data-symbology": spec.symbology,
            "data-modules": f"{symbol.width}x{symbol.height}",
            "data-quiet-zone": str(symbol.quiet_zone),
        },
    )
    for y, runs in enumerate(symbol.rows):
        for start, length in runs:
            ET.SubElement(
                group,
                "rect",
                {"x": str(start), "y": str(y), "width": str(length), "height": "1"},
            )
    text_group = ET.SubElement(
        root, "g", {"id": "text", "font-family": _SVG_FONT_FAMILY, "fill": "#000000"}
    )
    for line in layout.lines:
        element = ET.SubElement(
            text_group,
            "text",
            {
                "class": line.role,
                "x": str(line.x),
                "y": str(line.baseline),
                "font-size": str(line.face.size),
                _XML_SPACE: "preserve",
            },
        )
        element.text = line.text
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
