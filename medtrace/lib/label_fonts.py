"""Fonts for PNG labels: discovery, loading and glyph coverage (pure Python, no Django).

Split out of :mod:`medtrace.lib.labels`, which re-exports the public names
(``FONT_ENV_VAR``, ``LabelFont``, ``LabelFontWarning``, ``resolve_label_font``) and
:class:`LabelError`; import them from there.

PNG text needs a font with CJK glyphs for Chinese titles and lines. No such font
ships with Pillow or any installed Python package, so it is looked up in this order:

1. the file named by the environment variable ``MEDTRACE_LABEL_FONT`` (a TTF/OTF/TTC;
   an unusable value raises :class:`LabelError` instead of being ignored);
2. well-known CJK font files: Debian's ``fonts-noto-cjk``, ``fonts-wqy-microhei``,
   ``fonts-wqy-zenhei``, ``fonts-arphic-uming``, ``fonts-droid-fallback``, Fedora's
   Noto CJK, macOS PingFang and Windows Microsoft YaHei;
3. any font that ``fc-list :lang=zh`` reports;
4. without a CJK font: DejaVu Sans, else Pillow's built-in font (Latin only).

In a font collection the Simplified Chinese face is preferred.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Final

from PIL import ImageFont

__all__ = [
    "FONT_ENV_VAR",
    "LabelError",
    "LabelFont",
    "LabelFontWarning",
    "resolve_label_font",
]

FONT_ENV_VAR: Final = "MEDTRACE_LABEL_FONT"


class LabelError(ValueError):
    """The label cannot be produced from the given input; the message says why.

    Defined here so that font errors can raise it without importing ``labels``;
    ``medtrace.lib.labels.LabelError`` is the same class.
    """


class LabelFontWarning(UserWarning):
    """The PNG font has no glyphs for some of the label's characters."""


_CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/System/Library/Fonts/PingFang.ttc",  # macOS
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",  # Windows, Microsoft YaHei
)
_LATIN_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
_CJK_PROBE: Final = "中文注册证号"
_MAX_FACES: Final = 16  # faces tried in a font collection (.ttc)


@dataclass(frozen=True)
class LabelFont:
    """The font used for PNG text. ``path`` is None for Pillow's built-in font."""

    path: str | None
    index: int
    name: str
    covers_cjk: bool


_FontObject = ImageFont.FreeTypeFont


def _load_font(path: str | None, index: int, size: int) -> _FontObject:
    if path is None:
        font = ImageFont.load_default(size=size)
        if not isinstance(font, ImageFont.FreeTypeFont):
            raise RuntimeError("Pillow was built without FreeType; labels cannot render text")
        return font
    return ImageFont.truetype(path, size=size, index=index)


def _missing_glyph_mask(font: _FontObject) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask("\U0010fffd")  # a private-use code point no font maps
    return mask.size, bytes(mask)


def _has_glyph(font: _FontObject, ch: str, notdef: tuple[tuple[int, int], bytes]) -> bool:
    if ch.isspace():
        return True
    mask = font.getmask(ch)
    return (mask.size, bytes(mask)) != notdef


def _covers(font: _FontObject, text: str) -> bool:
    notdef = _missing_glyph_mask(font)
    return all(_has_glyph(font, ch, notdef) for ch in text)


def _face_preference(name: str) -> int:
    """Lower is better: Simplified Chinese faces first, monospaced faces last."""
    score = 0 if re.search(r"\b(SC|GB|Hans|CN)\b", name) else 1
    if "Mono" in name:
        score += 2
    return score


def _pick_face(path: str) -> LabelFont | None:
    """Best face of a font file (collections hold several) or None if unusable."""
    faces: list[tuple[int, int, LabelFont]] = []
    for index in range(_MAX_FACES):
        try:
            font = ImageFont.truetype(path, size=24, index=index)
        except OSError:
            break
        family, style = font.getname()
        name = f"{family} {style}".strip() if family else os.path.basename(path)
        covers_cjk = _covers(font, _CJK_PROBE)
        rank = (0 if covers_cjk else 10) + _face_preference(name)
        faces.append((rank, index, LabelFont(path, index, name, covers_cjk)))
    if not faces:
        return None
    return min(faces, key=lambda item: (item[0], item[1]))[2]


def _fc_list_cjk() -> list[str]:
    """Font files that fontconfig reports as supporting Chinese (empty without fc-list)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        result = subprocess.run(
            [fc_list, ":lang=zh", "file"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    files = {line.strip().rstrip(":").strip() for line in result.stdout.splitlines()}
    return sorted(f for f in files if f)


@functools.lru_cache(maxsize=8)
def _resolve(env_value: str | None) -> LabelFont:
    if env_value:
        if not os.path.isfile(env_value):
            raise LabelError(f"{FONT_ENV_VAR}={env_value!r} does not name an existing font file")
        chosen = _pick_face(env_value)
        if chosen is None:
            raise LabelError(
                f"{FONT_ENV_VAR}={env_value!r} cannot be loaded as a TrueType/OpenType font"
            )
        return chosen
    for path in (*_CJK_FONT_CANDIDATES, *_fc_list_cjk()):
        if os.path.isfile(path):
            chosen = _pick_face(path)
            if chosen is not None and chosen.covers_cjk:
                return chosen
    for path in _LATIN_FONT_CANDIDATES:
        if os.path.isfile(path):
            chosen = _pick_face(path)
            if chosen is not None:
                return chosen
    builtin = _load_font(None, 0, 24)
    family, style = builtin.getname()
    return LabelFont(None, 0, f"{family} {style} (Pillow built-in)", _covers(builtin, _CJK_PROBE))


def resolve_label_font() -> LabelFont:
    """The font PNG labels are rendered with (see the module docstring for the order)."""
    return _resolve(os.environ.get(FONT_ENV_VAR) or None)
