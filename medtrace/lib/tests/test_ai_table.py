"""Our AI table (medtrace.lib.udi.ai_table) agrees with the GS1 Barcode Syntax Dictionary.

The dictionary copy in ../shared/conformance/gs1-barcodes is parsed here, independently of the
app, and compared entry by entry: AI ranges, flags, format components, linters, req/ex
pairings, Digital Link keys and titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from medtrace.lib.tests.conftest import gs1_syntax_dictionary
from medtrace.lib.udi import ai_table
from medtrace.lib.udi.ai_table import AI_ENTRIES, AI_RULES, ai_matches
from medtrace.lib.udi.linters import LINTERS, SKIPPED_LINTERS

_FLAG_CHARS = "*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~"


@dataclass(frozen=True)
class DictionaryEntry:
    first: str
    last: str
    flags: str
    components: tuple[tuple[str, int, int, bool, tuple[str, ...]], ...]
    req: tuple[tuple[tuple[str, ...], ...], ...]
    ex: tuple[str, ...]
    dlpkey: tuple[tuple[str, ...], ...] | None
    title: str


def _component(token: str) -> tuple[str, int, int, bool, tuple[str, ...]]:
    kind, *linters = token.split(",")
    optional = kind.startswith("[") and kind.endswith("]")
    match = re.fullmatch(r"([NXYZ])(\.\.)?(\d+)", kind.strip("[]"))
    assert match, token
    length = int(match.group(3))
    return (match.group(1), 1 if match.group(2) else length, length, optional, tuple(linters))


def _parse_dictionary(text: str) -> list[DictionaryEntry]:
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        body, _, title = line.partition("#")
        tokens = body.split()
        ais, rest = tokens[0], tokens[1:]
        flags = rest.pop(0) if rest and all(c in _FLAG_CHARS for c in rest[0]) else ""
        components = []
        while rest and re.match(r"\[?[NXYZ]", rest[0]):
            components.append(_component(rest.pop(0)))
        req, ex, dlpkey = [], [], None
        for attribute in rest:
            key, _, value = attribute.partition("=")
            if key == "req":
                req.append(tuple(tuple(a.split("+")) for a in value.split(",")))
            elif key == "ex":
                ex.extend(value.split(","))
            elif key == "dlpkey":
                dlpkey = tuple(tuple(s.split(",")) if s else () for s in value.split("|"))
            else:
                raise AssertionError(f"unexpected attribute {attribute!r}")
        first, _, last = ais.partition("-")
        entries.append(
            DictionaryEntry(
                first=first,
                last=last or first,
                flags=flags,
                components=tuple(components),
                req=tuple(req),
                ex=tuple(ex),
                dlpkey=dlpkey,
                title=title.strip(),
            )
        )
    return entries


DICTIONARY = _parse_dictionary(gs1_syntax_dictionary())


def test_the_dictionary_copy_is_the_release_our_table_restates() -> None:
    # Given the shared dictionary file
    header = gs1_syntax_dictionary()

    # Then it is the release named in our table, with the entry count SOURCE.md states
    assert f"Release: {ai_table.DICTIONARY_RELEASE}" in header
    assert len(DICTIONARY) == 224


def test_our_table_has_one_entry_per_dictionary_line_in_the_same_order() -> None:
    # Given both tables, when their AI ranges are listed
    ours = [(rule.first, rule.last) for rule in AI_ENTRIES]
    theirs = [(entry.first, entry.last) for entry in DICTIONARY]

    # Then they are the same ranges in the same order
    assert ours == theirs


@pytest.mark.parametrize(
    "entry",
    DICTIONARY,
    ids=[f"{e.first}-{e.last}" if e.last != e.first else e.first for e in DICTIONARY],
)
def test_each_dictionary_entry_is_restated_exactly(entry: DictionaryEntry) -> None:
    # Given one dictionary entry and our rule for its first AI
    rule = AI_RULES[entry.first]

    # Then flags, components, linters, pairings, Digital Link key and title all agree
    assert (rule.first, rule.last) == (entry.first, entry.last)
    assert rule.predefined_length == ("*" in entry.flags)
    assert rule.dl_data_attribute == ("?" in entry.flags)
    ours = tuple(
        (c.cset, c.min_length, c.max_length, c.optional, c.linters) for c in rule.components
    )
    assert ours == entry.components
    assert rule.req == entry.req
    assert rule.ex == entry.ex
    assert rule.dlpkey == entry.dlpkey
    assert rule.title == entry.title


def test_every_ai_of_every_range_maps_to_its_entry_and_ranges_do_not_overlap() -> None:
    # Given the dictionary's ranges expanded to single AIs
    expected: dict[str, str] = {}
    for entry in DICTIONARY:
        width = len(entry.first)
        for number in range(int(entry.first), int(entry.last) + 1):
            ai = str(number).zfill(width)
            assert ai not in expected, f"AI {ai} listed twice"
            expected[ai] = entry.first

    # Then our lookup has exactly those AIs, each pointing at the right entry
    assert {ai: rule.first for ai, rule in AI_RULES.items()} == expected


def test_no_assigned_ai_is_a_prefix_of_another_so_scan_data_splits_unambiguously() -> None:
    # Given every assigned AI
    ais = sorted(AI_RULES)

    # Then none starts another (GS1 AIs are prefix-free)
    for ai in ais:
        assert not any(other != ai and other.startswith(ai) for other in ais), ai


def test_every_predefined_length_ai_has_a_fixed_total_length() -> None:
    # Given the AIs that need no FNC1 separator
    predefined = [rule for rule in AI_ENTRIES if rule.predefined_length]

    # Then each has only mandatory fixed-length components
    assert predefined
    assert all(rule.fixed_length is not None for rule in predefined)


def test_every_linter_the_dictionary_names_is_implemented_or_listed_as_skipped() -> None:
    # Given every linter named in the dictionary
    named = {linter for entry in DICTIONARY for c in entry.components for linter in c[4]}

    # Then we implement it, or list it among the few deliberately skipped
    assert named <= set(LINTERS) | SKIPPED_LINTERS
    assert named >= SKIPPED_LINTERS
    assert not SKIPPED_LINTERS & set(LINTERS)


def test_a_pattern_with_n_matches_any_digit_but_not_a_different_length() -> None:
    # Given the ex= pattern of (3103)
    # Then it matches the whole 310n family only
    assert ai_matches("310n", "3105")
    assert ai_matches("31nn", "3199")
    assert not ai_matches("310n", "3115")
    assert not ai_matches("310n", "31")
