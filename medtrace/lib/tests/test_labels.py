"""Tests for medtrace.lib.labels (pure Python, no Django).

Every symbol is checked by decoding it with zxing-cpp: from the PNG exactly as
rendered, and from the SVG by re-drawing its <rect> geometry into an image.
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from medtrace.lib import label_fonts, labels
from medtrace.lib.labels import (
    FONT_ENV_VAR,
    LabelError,
    LabelFontWarning,
    LabelSpec,
    render_png,
    render_svg,
    resolve_label_font,
)

# Chinese text renders as missing-glyph boxes (with a LabelFontWarning) on machines
# without a CJK font; that behaviour has its own tests below.
pytestmark = pytest.mark.filterwarnings("ignore::medtrace.lib.labels.LabelFontWarning")

SVG = "{http://www.w3.org/2000/svg}"

GTIN = "06901234567892"
UDI = f"(01){GTIN}(17)270131(10)L1(21)S1"
# FNC1 in first position is signalled by ]d2; (01) and (17) are predefined-length AIs,
# (10) is variable-length and therefore followed by a GS separator, the last field is not.
UDI_RAW = f"01{GTIN}17270131" + "10L1\x1d21S1"
DIGITAL_LINK = "https://id.gs1.org/01/09506000134352/10/ABC123/21/12345?17=270131"
HIBC = "+A123BJC5D6E71G"

GS1_SPEC = LabelSpec(
    data=UDI,
    symbology="gs1-datamatrix",
    hri=f"(01){GTIN}\n(17)2027-01-31 (10)L1 (21)S1",
    title="输液泵 IP-300",
    lines=("注册证号: 国械注准20203140123", "REF IP-300"),
)
DL_SPEC = LabelSpec(
    data=DIGITAL_LINK,
    symbology="gs1-dl-qr",
    hri="(01)09506000134352(10)ABC123(21)12345",
    title="一次性使用无菌注射器",
    lines=("EXP 2027-01-31",),
)
HIBC_SPEC = LabelSpec(
    data=HIBC,
    symbology="hibc-datamatrix",
    hri=HIBC,
    title="Infusion pump IP-300",
    lines=("REF IP-300",),
)
ALL_SPECS = pytest.mark.parametrize(
    ("spec", "identifier", "content_type"),
    [
        (GS1_SPEC, "]d2", zxingcpp.ContentType.GS1),
        (DL_SPEC, "]Q1", zxingcpp.ContentType.Text),
        (HIBC_SPEC, "]d1", zxingcpp.ContentType.Text),
    ],
    ids=["gs1-datamatrix", "gs1-dl-qr", "hibc-datamatrix"],
)


@pytest.fixture(autouse=True)
def _default_font_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no MEDTRACE_LABEL_FONT and an empty font cache."""
    monkeypatch.delenv(FONT_ENV_VAR, raising=False)
    label_fonts._resolve.cache_clear()
    yield
    label_fonts._resolve.cache_clear()


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine on which no CJK-capable font can be found."""
    monkeypatch.setattr(label_fonts, "_CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(label_fonts, "_fc_list_cjk", list)


def _decode(
    image: Image.Image, text_mode: zxingcpp.TextMode = zxingcpp.TextMode.HRI
) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, text_mode=text_mode)


def _png(spec: LabelSpec, dpi: int = 300) -> Image.Image:
    return Image.open(io.BytesIO(render_png(spec, dpi=dpi)))


def _svg_symbol_image(svg: str, px_per_module: int = 6, quiet: int = 4) -> Image.Image:
    """Re-draw the SVG symbol's <rect>s (in module units) into a bitmap."""
    group = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("id") == "symbol")
    rects = [
        tuple(int(r.get(k, "0")) for k in ("x", "y", "width", "height"))
        for r in group.iter(f"{SVG}rect")
    ]
    cols = max(x + w for x, _, w, _ in rects)
    rows = max(y + h for _, y, _, h in rects)
    image = Image.new(
        "L", ((cols + 2 * quiet) * px_per_module, (rows + 2 * quiet) * px_per_module), 255
    )
    draw = ImageDraw.Draw(image)
    for x, y, w, h in rects:
        draw.rectangle(
            (
                (quiet + x) * px_per_module,
                (quiet + y) * px_per_module,
                (quiet + x + w) * px_per_module - 1,
                (quiet + y + h) * px_per_module - 1,
            ),
            fill=0,
        )
    return image


def _svg_texts(svg: str, role: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("class") == role]


# --------------------------------------------------------------------------- #
# PNG: the symbol decodes to exactly the encoded data
# --------------------------------------------------------------------------- #


def test_a_gs1_datamatrix_png_decodes_as_true_gs1_with_exactly_the_element_string() -> None:
    # given a UDI with GTIN, expiry, lot and serial
    # when the label is rendered as PNG and decoded from the image
    found = _decode(_png(GS1_SPEC))

    # then there is one GS1 DataMatrix (FNC1 first: ]d2) whose HRI text is the element string
    assert len(found) == 1
    barcode = found[0]
    assert barcode.format == zxingcpp.BarcodeFormat.DataMatrix
    assert barcode.symbology_identifier == "]d2"
    assert barcode.content_type == zxingcpp.ContentType.GS1
    assert barcode.text == UDI


def test_a_gs1_datamatrix_has_group_separators_only_after_variable_length_fields() -> None:
    # given the rendered GS1 label
    image = _png(GS1_SPEC)

    # when it is decoded without the HRI transformation
    (barcode,) = _decode(image, zxingcpp.TextMode.Plain)

    # then the transmitted data is the raw element string: AIs without brackets and GS
    # only after the variable-length lot number
    assert barcode.symbology_identifier == "]d2"
    assert barcode.bytes == UDI_RAW.encode("ascii")
    assert barcode.text == UDI_RAW


def test_a_gs1_digital_link_qr_png_decodes_to_exactly_the_uri() -> None:
    # given a GS1 Digital Link label
    # when it is rendered as PNG and decoded
    found = _decode(_png(DL_SPEC))

    # then it is a plain QR Code holding exactly the URI
    assert len(found) == 1
    barcode = found[0]
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.symbology_identifier == "]Q1"
    assert barcode.content_type == zxingcpp.ContentType.Text
    assert barcode.text == DIGITAL_LINK


def test_an_hibc_datamatrix_png_decodes_as_plain_datamatrix_with_exactly_the_string() -> None:
    # given an HIBC label
    # when it is rendered as PNG and decoded
    found = _decode(_png(HIBC_SPEC))

    # then it is a non-GS1 DataMatrix holding exactly the HIBC string
    assert len(found) == 1
    barcode = found[0]
    assert barcode.format == zxingcpp.BarcodeFormat.DataMatrix
    assert barcode.symbology_identifier == "]d1"
    assert barcode.content_type == zxingcpp.ContentType.Text
    assert barcode.text == HIBC


def test_a_parenthesis_escaped_in_a_gs1_value_is_encoded_and_read_back_unescaped() -> None:
    # given a lot number containing '(' and ')', escaped as the encoder requires
    data = rf"(01){GTIN}(10)L\(1)(21)S1"
    spec = LabelSpec(data=data, symbology="gs1-datamatrix", hri="(10)L(1)", title="IP-300")

    # when the PNG is decoded, as HRI text and as raw data
    (hri,) = _decode(_png(spec))
    (raw,) = _decode(_png(spec), zxingcpp.TextMode.Plain)

    # then the only difference to the input is the removed escape (zxing-cpp's HRI form)
    assert hri.symbology_identifier == "]d2"
    assert hri.text == f"(01){GTIN}(10)L(1)(21)S1"
    assert raw.bytes == f"01{GTIN}10L(1)\x1d21S1".encode("ascii")


def test_an_hibc_check_character_that_is_a_space_is_encoded_and_read_back() -> None:
    # given HIBC data whose mod-43 check character is a space (as udi.build_hibc makes it)
    data = "+A123PCN1060 "
    spec = LabelSpec(data=data, symbology="hibc-datamatrix", hri=data, title="IP-300")

    # when the label is rendered as PNG and as SVG and decoded
    (from_png,) = _decode(_png(spec))
    (from_svg,) = _decode(_svg_symbol_image(render_svg(spec)))

    # then both symbols hold the data with its trailing space
    assert from_png.symbology_identifier == "]d1"
    assert from_png.text == data
    assert from_svg.text == data


@ALL_SPECS
@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_every_symbology_decodes_at_common_printer_resolutions(
    spec: LabelSpec, identifier: str, content_type: zxingcpp.ContentType, dpi: int
) -> None:
    # given a label rendered for a 203, 300 or 600 dpi printer
    image = _png(spec, dpi=dpi)

    # when it is decoded
    (barcode,) = _decode(image)

    # then the symbol reads back exactly
    assert barcode.symbology_identifier == identifier
    assert barcode.content_type == content_type
    assert barcode.text == spec.data


def test_a_png_label_is_at_least_50_by_30_mm_and_records_its_resolution() -> None:
    # given the default resolution of 300 dpi
    # when a label is rendered
    image = _png(HIBC_SPEC)

    # then the image covers at least 50 x 30 mm and carries 300 dpi in its metadata
    assert image.format == "PNG"
    assert image.mode == "L"
    assert image.width >= round(50 / 25.4 * 300)
    assert image.height >= round(30 / 25.4 * 300)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.1)


def test_a_png_label_draws_text_beside_and_below_the_symbol() -> None:
    # given a label with title, HRI and extra lines
    image = _png(GS1_SPEC)

    # when the decoded symbol's position is compared with the inked area
    (barcode,) = _decode(image)
    symbol_right = max(barcode.position.top_right.x, barcode.position.bottom_right.x)
    symbol_bottom = max(barcode.position.bottom_left.y, barcode.position.bottom_right.y)
    beside = image.crop((symbol_right + 5, 0, image.width, symbol_bottom))
    below = image.crop((0, symbol_bottom + 5, image.width, image.height))

    # then there is ink (text) to the right of the symbol and under it
    assert min(beside.tobytes()) < 128
    assert min(below.tobytes()) < 128


# --------------------------------------------------------------------------- #
# SVG
# --------------------------------------------------------------------------- #


def test_an_svg_label_is_well_formed_xml_sized_in_millimetres() -> None:
    # given a GS1 label
    # when it is rendered as SVG
    svg = render_svg(GS1_SPEC)

    # then it parses as an SVG document with a physical size and a matching viewBox
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    width_mm = float(root.get("width", "").removesuffix("mm"))
    height_mm = float(root.get("height", "").removesuffix("mm"))
    assert width_mm >= 50 - 0.1
    assert height_mm >= 30 - 0.1
    _, _, vb_width, vb_height = (float(v) for v in root.get("viewBox", "").split())
    assert vb_width / width_mm == pytest.approx(300 / 25.4, rel=1e-3)
    assert vb_height / height_mm == pytest.approx(300 / 25.4, rel=1e-3)


def test_svg_text_keeps_chinese_and_escapes_markup_characters() -> None:
    # given a title and lines with Chinese text, '&' and '<'
    spec = LabelSpec(
        data=UDI,
        symbology="gs1-datamatrix",
        hri="(17)2027-01-31 (10)L1",
        title="输液泵 IP-300 R&D",
        lines=("规格: 100 mL", "Made by A&B <Co>"),
    )

    # when it is rendered as SVG
    svg = render_svg(spec)

    # then the raw markup is escaped and the parsed text is exactly what was given
    assert "R&amp;D" in svg
    assert "A&amp;B &lt;Co&gt;" in svg
    assert "R&D" not in svg
    assert _svg_texts(svg, "title") == ["输液泵 IP-300 R&D"]
    assert _svg_texts(svg, "line") == ["规格: 100 mL", "Made by A&B <Co>"]
    assert _svg_texts(svg, "hri") == ["(17)2027-01-31 (10)L1"]
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == "输液泵 IP-300 R&D"
    text_group = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "text")
    assert "Noto Sans CJK SC" in text_group.get("font-family", "")
    assert text_group.get("font-family", "").endswith("sans-serif")


@ALL_SPECS
def test_the_svg_symbol_geometry_decodes_to_exactly_the_encoded_data(
    spec: LabelSpec, identifier: str, content_type: zxingcpp.ContentType
) -> None:
    # given a label rendered as SVG
    svg = render_svg(spec)

    # when the <rect>s of the symbol group are drawn into a bitmap and decoded
    (barcode,) = _decode(_svg_symbol_image(svg))

    # then the SVG symbol is scannable and carries exactly the data
    assert barcode.symbology_identifier == identifier
    assert barcode.content_type == content_type
    assert barcode.text == spec.data


def test_the_svg_symbol_is_placed_with_a_quiet_zone_inside_the_label() -> None:
    # given a QR label (4-module quiet zone)
    svg = render_svg(DL_SPEC)

    # when the symbol group's transform is read
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "symbol")
    match = re.fullmatch(r"translate\((\d+) (\d+)\) scale\((\d+)\)", group.get("transform", ""))

    # then the symbol starts at least its quiet zone away from the label edges
    assert match is not None
    left, top, module = (int(v) for v in match.groups())
    assert group.get("data-quiet-zone") == "4"
    assert left >= 4 * module
    assert top >= 4 * module
    assert group.get("shape-rendering") == "crispEdges"


def test_a_long_hri_wraps_before_application_identifiers_without_losing_characters() -> None:
    # given an HRI far wider than a 50 mm label
    hri = f"(01){GTIN}(17)270131(10)LOT-2024-0001-ABCDEF(21)SERIAL-000000000123"
    spec = LabelSpec(data=UDI, symbology="gs1-datamatrix", hri=hri, title="IP-300")

    # when the label is rendered as SVG
    lines = _svg_texts(render_svg(spec), "hri")

    # then it is split into several lines, each starting at an AI, that join back exactly
    assert len(lines) > 1
    assert all(line.startswith("(") for line in lines)
    assert "".join(lines) == hri


def test_a_long_chinese_title_wraps_between_characters_and_keeps_identifiers_whole() -> None:
    # given a long Chinese product name and a registration number after a space
    title = "一次性使用无菌注射器带针一次性使用无菌注射器带针"
    line = "注册证号: 国械注准20203140123"
    spec = LabelSpec(data=UDI, symbology="gs1-datamatrix", hri=UDI, title=title, lines=(line,))

    # when the label is rendered as SVG
    svg = render_svg(spec)

    # then the title wraps over several lines and the number is never split
    title_lines = _svg_texts(svg, "title")
    assert len(title_lines) > 1
    assert "".join(title_lines) == title
    assert "国械注准20203140123" in _svg_texts(svg, "line")


# --------------------------------------------------------------------------- #
# Fonts
# --------------------------------------------------------------------------- #


def test_without_a_cjk_font_the_png_still_renders_and_a_warning_names_the_missing_characters(
    no_cjk_font: None,
) -> None:
    # given a machine without any CJK font
    assert resolve_label_font().covers_cjk is False

    # when a label with a Chinese title is rendered as PNG
    with pytest.warns(LabelFontWarning) as record:
        png = render_png(GS1_SPEC)

    # then the PNG is produced, still scans, and the warning says which characters are missing
    (barcode,) = _decode(Image.open(io.BytesIO(png)))
    assert barcode.text == UDI
    message = str(record[0].message)
    for ch in "输液泵注册证号国械准":
        assert ch in message
    assert FONT_ENV_VAR in message
    assert "fonts-noto-cjk" in message


def test_a_latin_only_label_renders_without_a_font_warning_even_without_a_cjk_font(
    no_cjk_font: None,
) -> None:
    # given a machine without any CJK font and a label without CJK text
    # when it is rendered as PNG with warnings turned into errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = render_png(HIBC_SPEC)

    # then no warning is raised and the PNG is valid
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_label_font_env_var_naming_a_missing_file_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given MEDTRACE_LABEL_FONT pointing at a file that does not exist
    monkeypatch.setenv(FONT_ENV_VAR, "/nonexistent/font.ttc")

    # when a label is rendered
    # then the configuration error is reported instead of silently using another font
    with pytest.raises(LabelError, match=f"{FONT_ENV_VAR}=.*does not name an existing font"):
        render_png(HIBC_SPEC)


def test_a_label_font_env_var_naming_a_file_that_is_not_a_font_is_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given MEDTRACE_LABEL_FONT pointing at a text file
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_text("not a font")
    monkeypatch.setenv(FONT_ENV_VAR, str(not_a_font))

    # when the label font is resolved
    # then it is refused with a clear message
    with pytest.raises(LabelError, match="cannot be loaded as a TrueType/OpenType font"):
        resolve_label_font()


def test_the_svg_does_not_depend_on_a_local_cjk_font(no_cjk_font: None) -> None:
    # given a machine without any CJK font
    # when a Chinese label is rendered as SVG
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = render_svg(GS1_SPEC)

    # then the Chinese text is kept as text for the viewer's fonts, without warnings
    assert _svg_texts(svg, "title") == ["输液泵 IP-300"]


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


def _hibc_with_check(body: str) -> str:
    charset = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
    return body + charset[sum(charset.index(c) for c in body) % 43]


@pytest.mark.parametrize(
    ("data", "symbology", "message"),
    [
        ("", "gs1-datamatrix", "must be a non-empty string"),
        (" " + UDI, "gs1-datamatrix", "leading or trailing whitespace"),
        (f"01{GTIN}17270131", "gs1-datamatrix", "must be a bracketed GS1 element string"),
        (
            "(01)06901234567891(10)L1",
            "gs1-datamatrix",
            r"AI \(01\): GTIN check digit should be 2, got 1",
        ),
        (f"(01){GTIN}(17)271301", "gs1-datamatrix", r"AI \(17\): month 13 is not valid"),
        (
            f"(01){GTIN}(17)270230",
            "gs1-datamatrix",
            r"AI \(17\): day 30 is not valid in 2027-02",
        ),
        (f"(01){GTIN}(10)", "gs1-datamatrix", r"AI \(10\) has an empty value"),
        (
            f"(01){GTIN}(10)A(10)B",
            "gs1-datamatrix",
            r"AI \(10\) appears more than once with different values",
        ),
        (f"(01){GTIN}(10)L(1)", "gs1-datamatrix", r"'\(1\)' is not an AI"),
        (
            rf"(01){GTIN}(10)L\(1\)",
            "gs1-datamatrix",
            r"write '\)' in a GS1 value without a backslash; only '\(' is escaped",
        ),
        (
            f"(01){GTIN}(10)L#1",
            "gs1-datamatrix",
            r"AI \(10\): character '#' at position 2 is not in GS1 CSET 82",
        ),
        ("(10)L1(21)S1", "gs1-datamatrix", r"AI \(10\) BATCH/LOT requires \(01\)"),
        ("(00)106141411234567897", "gs1-datamatrix", r"AI \(01\) GTIN is missing"),
        (f"(01){GTIN}(23)X", "gs1-datamatrix", r"unknown AI \(23\)"),
        (
            f"(01){GTIN}(10)" + "L" * 21,
            "gs1-datamatrix",
            r"AI \(10\) value too long: format X\.\.20, got 21 characters",
        ),
        ("id.gs1.org/01/09506000134352", "gs1-dl-qr", "http\\(s\\) URI with a host"),
        ("https://id.gs1.org/10/ABC", "gs1-dl-qr", "no GS1 Digital Link primary key"),
        (
            "https://id.gs1.org/00/106141411234567897",
            "gs1-dl-qr",
            "no '/01/<GTIN>' primary key",
        ),
        (
            "https://id.gs1.org/01/09506000134353",
            "gs1-dl-qr",
            r"AI \(01\): GTIN check digit should be 2, got 3",
        ),
        (
            "https://id.gs1.org/01/9506000134352",
            "gs1-dl-qr",
            r"AI \(01\) in a Digital Link path must have 14 digits, got 13",
        ),
        ("https://例子.cn/01/09506000134352", "gs1-dl-qr", "printable ASCII"),
        (
            "https://id.gs1.org/01/09506000134352/10/" + "A" * 5000,
            "gs1-dl-qr",
            r"AI \(10\) value too long",
        ),
        (
            "https://id.gs1.org/" + "stem/" * 600 + "01/09506000134352",
            "gs1-dl-qr",
            "cannot encode GS1 Digital Link QR: .*too long",
        ),
        ("A123BJC5D6E71G", "hibc-datamatrix", "must start with the '\\+' flag"),
        (
            "+a123bjc5d6e71g",
            "hibc-datamatrix",
            "character 'a' at position 2 is not allowed in HIBC data",
        ),
        (
            "+A123BJC5D6E71H",
            "hibc-datamatrix",
            "check character should be 'G', got 'H'",
        ),
        (
            "+A123BJC5D6E71G ",
            "hibc-datamatrix",
            "check character should be 'W', got ' '",
        ),
        (" " + HIBC, "hibc-datamatrix", "leading or trailing whitespace"),
        (
            _hibc_with_check("+A123" + "9" * 4000),
            "hibc-datamatrix",
            "product/catalog number is limited to 18 characters",
        ),
    ],
    ids=[
        "empty",
        "padded",
        "gs1-unbracketed",
        "gs1-bad-gtin-check-digit",
        "gs1-month-13",
        "gs1-30-february",
        "gs1-empty-value",
        "gs1-repeated-ai",
        "gs1-unescaped-parenthesis-in-value",
        "gs1-escaped-closing-parenthesis",
        "gs1-character-outside-cset82",
        "gs1-without-gtin",
        "gs1-sscc-without-gtin",
        "gs1-unknown-ai",
        "gs1-lot-too-long",
        "dl-not-a-uri",
        "dl-without-primary-key",
        "dl-sscc-key-without-gtin",
        "dl-bad-gtin-check-digit",
        "dl-zero-suppressed-gtin",
        "dl-non-ascii",
        "dl-lot-too-long",
        "dl-too-long-for-qr",
        "hibc-without-flag",
        "hibc-lowercase",
        "hibc-wrong-check-character",
        "hibc-trailing-space-not-the-check-character",
        "hibc-leading-space",
        "hibc-pcn-too-long",
    ],
)
def test_data_that_cannot_be_encoded_is_refused_with_a_clear_message(
    data: str, symbology: labels.Symbology, message: str
) -> None:
    # given a label spec with bad symbol data
    spec = LabelSpec(data=data, symbology=symbology, hri="HRI", title="Title")

    # when it is rendered in either format
    # then a LabelError explains what is wrong
    with pytest.raises(LabelError, match=message):
        render_png(spec)
    with pytest.raises(LabelError, match=message):
        render_svg(spec)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "  "}, "title must not be empty"),
        ({"hri": ""}, "HRI must not be empty"),
        ({"title": "IP-300\x07"}, "title contains an unprintable character U\\+0007"),
        ({"lines": ("ok", "bad\x00")}, "line 2 contains an unprintable character U\\+0000"),
        ({"hri": "(21)S1\uffff"}, "HRI contains an unprintable character U\\+FFFF"),
        ({"title": None}, "title must be a string, got NoneType"),
        ({"lines": ("ok", 3)}, "line 2 must be a string, got int"),
        ({"lines": "REF IP-300"}, "sequence of strings, not a single string"),
        ({"symbology": "gs1-qr"}, "unknown symbology 'gs1-qr'"),
    ],
    ids=[
        "blank-title",
        "empty-hri",
        "control-in-title",
        "nul-in-line",
        "noncharacter-in-hri",
        "title-none",
        "line-not-str",
        "lines-str",
        "symbology",
    ],
)
def test_bad_label_text_or_symbology_is_refused_with_a_clear_message(
    changes: dict[str, object], message: str
) -> None:
    # given an otherwise valid spec with one bad field
    fields: dict[str, object] = {
        "data": HIBC,
        "symbology": "hibc-datamatrix",
        "hri": HIBC,
        "title": "IP-300",
        "lines": (),
    }
    fields.update(changes)
    spec = LabelSpec(**fields)  # type: ignore[arg-type]

    # when it is rendered
    # then a LabelError names the problem
    with pytest.raises(LabelError, match=message):
        render_svg(spec)


@pytest.mark.parametrize("dpi", [0, 71, 2401, 300.0, True])
def test_an_unusable_resolution_is_refused(dpi: object) -> None:
    # given a resolution outside 72..2400 dpi or not an integer
    # when a PNG is requested
    # then a LabelError says what is accepted
    with pytest.raises(LabelError, match="dpi must be an integer from 72 to 2400"):
        render_png(HIBC_SPEC, dpi=dpi)  # type: ignore[arg-type]


def test_the_font_api_is_re_exported_from_labels() -> None:
    # given the font code that lives in medtrace.lib.label_fonts
    # then labels exposes the very same objects, so existing imports keep working
    assert labels.resolve_label_font is label_fonts.resolve_label_font
    assert labels.LabelFont is label_fonts.LabelFont
    assert labels.LabelFontWarning is label_fonts.LabelFontWarning
    assert labels.LabelError is label_fonts.LabelError
    assert labels.FONT_ENV_VAR == label_fonts.FONT_ENV_VAR == "MEDTRACE_LABEL_FONT"


def test_label_error_is_a_value_error() -> None:
    # given the module's error type
    # then callers catching ValueError also catch it
    assert issubclass(LabelError, ValueError)
