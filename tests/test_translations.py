"""The UI catalogues: Simplified Chinese is complete, and the committed .mo files match the .po.

The .mo files are committed so `make run` needs no GNU gettext; these tests catch a string added
without a translation, a leftover fuzzy flag and a forgotten `medtrace compilemessages`.
"""

from __future__ import annotations

import ast
import gettext
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

import medtrace

LOCALE = Path(medtrace.__file__).resolve().parent / "locale"
ZH_PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
CATALOGUES = ["zh_Hans", "en"]

_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(".*")$')
_PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.msgid!r}"


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader: the entries after the header, without obsolete (#~) ones."""
    entries: list[Entry] = []
    entry: Entry | None = None
    key: str | None = None
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate([*lines, ""], start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if entry is not None and key is not None:
                entries.append(entry)
                entry, key = None, None
            continue
        if entry is None:
            entry = Entry(line=number)
        if line.startswith("#,"):
            entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            key = match.group(1)
            _append(entry, key, ast.literal_eval(match.group(2)), replace=True)
        elif line.startswith('"') and key is not None:
            _append(entry, key, ast.literal_eval(line), replace=False)
        else:
            raise AssertionError(f"{path}:{number}: cannot parse {raw!r}")
    return [e for e in entries if e.msgid or e.msgctxt]  # drop the header entry


def _append(entry: Entry, key: str, text: str, *, replace: bool) -> None:
    if key == "msgid":
        entry.msgid = text if replace else entry.msgid + text
    elif key == "msgctxt":
        entry.msgctxt = text if replace else (entry.msgctxt or "") + text
    elif key == "msgid_plural":
        entry.msgid_plural = text if replace else (entry.msgid_plural or "") + text
    else:
        index = int(key[7:-1]) if key.startswith("msgstr[") else 0
        entry.msgstr[index] = text if replace else entry.msgstr.get(index, "") + text


def _placeholders(text: str | None) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text or ""))


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def load_mo(language: str) -> gettext.GNUTranslations:
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        return gettext.GNUTranslations(fh)


def lookup(mo: gettext.GNUTranslations, entry: Entry) -> str:
    if entry.msgctxt is not None:
        if entry.msgid_plural is not None:
            return mo.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 1)
        return mo.pgettext(entry.msgctxt, entry.msgid)
    if entry.msgid_plural is not None:
        return mo.ngettext(entry.msgid, entry.msgid_plural, 1)
    return mo.gettext(entry.msgid)


def test_every_simplified_chinese_string_is_translated_and_none_is_fuzzy() -> None:
    entries = parse_po(ZH_PO)
    assert len(entries) > 200, "the zh_Hans catalogue looks truncated"

    untranslated = [e.label for e in entries if not e.msgstr or not all(e.msgstr.values())]
    fuzzy = [e.label for e in entries if "fuzzy" in e.flags]

    assert not untranslated, "untranslated in zh_Hans:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy in zh_Hans:\n" + "\n".join(fuzzy)


def test_the_catalogue_headers_are_not_fuzzy() -> None:
    for language in CATALOGUES:
        header = po_path(language).read_text(encoding="utf-8").split('msgid ""', 1)[0]
        assert "fuzzy" not in header, f"{language}: the header is marked fuzzy"


@pytest.mark.parametrize("language", CATALOGUES)
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    wrong = [
        f"{e.label} -> {text!r}"
        for e in parse_po(po_path(language))
        for text in e.msgstr.values()
        if text
        and _placeholders(text) not in (_placeholders(e.msgid), _placeholders(e.msgid_plural))
    ]
    assert not wrong, f"placeholders differ in {language}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("language", CATALOGUES)
def test_the_committed_mo_file_is_compiled_from_the_current_po(language: str) -> None:
    mo = load_mo(language)
    translated = [e for e in parse_po(po_path(language)) if e.msgstr.get(0)]

    stale = [
        f"{e.label}: .po {e.msgstr[0]!r}, .mo {lookup(mo, e)!r}"
        for e in translated
        if lookup(mo, e) != e.msgstr[0]
    ]
    assert not stale, (
        f"{language}: django.mo is out of date; run `medtrace compilemessages`:\n"
        + "\n".join(stale)
    )

    # The .mo holds the header plus one message per translated entry, and nothing left over.
    data = (LOCALE / language / "LC_MESSAGES" / "django.mo").read_bytes()
    order = "<" if data[:4] == struct.pack("<I", 0x950412DE) else ">"
    (count,) = struct.unpack(order + "I", data[8:12])
    assert count == len(translated) + 1, f"{language}: django.mo has {count - 1} messages"


def test_english_msgids_that_open_with_chinese_wording_have_an_english_translation() -> None:
    entries = [e for e in parse_po(po_path("en")) if _HAN.match(e.msgid)]
    assert entries, "expected some Chinese-led msgids, e.g. 医保耗材编码"

    missing = [e.label for e in entries if not e.msgstr.get(0)]
    still_chinese = [e.label for e in entries if _HAN.search(e.msgstr.get(0, ""))]

    assert not missing, "no English text for:\n" + "\n".join(missing)
    assert not still_chinese, "English text still in Chinese:\n" + "\n".join(still_chinese)


@pytest.mark.parametrize(
    ("msgid", "chinese"),
    [
        ("Products", "产品"),
        ("Sign in", "登录"),
        ("Log out", "退出登录"),
        ("Risk class", "管理类别"),
        ("Expiry date", "失效日期"),
        ("Lot", "批号"),
        ("Serial", "序列号"),
        ("Released", "已发布"),
        ("Business licence (营业执照)", "营业执照"),
    ],
)
def test_key_ui_strings_are_chinese_under_zh_hans(msgid: str, chinese: str) -> None:
    with translation.override("zh-hans"):
        assert translation.gettext(msgid) == chinese


def test_model_labels_and_choices_are_chinese_under_zh_hans() -> None:
    from medtrace.masterdata.models import Party, PartyRole, Product, RiskClass

    with translation.override("zh-hans"):
        assert str(Product._meta.verbose_name) == "产品"
        assert str(Party._meta.verbose_name) == "往来单位"
        assert str(PartyRole.DISTRIBUTOR.label) == "经销商"
        assert str(RiskClass.III.label) == "第三类"


def test_english_keeps_the_english_msgid_and_explains_chinese_only_ones() -> None:
    with translation.override("en"):
        assert translation.gettext("Products") == "Products"
        assert translation.gettext("医保耗材编码") == "NHSA medical consumable code"
