"""GS1 element strings: the bracketed form, raw scan data, strict validation and rendering.

biip splits messages leniently (it cuts an over-long value at the AI's maximum length and
carries on, and it does not check check digits, pairings or DD=00 rules), so splitting and
validation here are our own, driven by ``ai_table``: fixed and variable lengths, character sets,
the dictionary's linters, duplicate AIs, and the ``req=``/``ex=`` pairings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from .ai_table import AI_RULES, AiRule, Component, ai_matches
from .checkdigit import normalize_gtin
from .dates import resolve_yymmdd, yymmdd
from .errors import UdiError
from .linters import CSETS, LINTERS, cset64_padding

GS = "\x1d"  # ASCII group separator: how scanners transmit FNC1 inside GS1 data

Elements = tuple[tuple[str, str], ...]

# Key names for check-digit messages ("AI (01): GTIN check digit should be 3, got 4").
_KEY_NAMES = {
    "00": "SSCC",
    "01": "GTIN",
    "02": "GTIN",
    "03": "GTIN",
    "253": "GDTI",
    "255": "GCN",
    "402": "GSIN",
    "8003": "GRAI",
    "8006": "GTIN",
    "8017": "GSRN",
    "8018": "GSRN",
    "8026": "GTIN",
    **{f"41{n}": "GLN" for n in range(8)},
}

# Measures whose last AI digit is the implied decimal-point position (GenSpecs §3.6).
_MEASURE_PREFIXES = ("31", "32", "33", "34", "35", "36")


def rule(ai: str) -> AiRule:
    found = AI_RULES.get(ai)
    if found is None:
        raise UdiError(f"unknown AI ({ai}): it is not in the GS1 AI list", field=ai)
    return found


def _match_ai(data: str, position: int) -> str | None:
    """The assigned AI that starts at ``position`` (GS1 AIs are prefix-free), if any."""
    for length in (2, 3, 4):
        candidate = data[position : position + length]
        if len(candidate) == length and candidate.isdigit() and candidate in AI_RULES:
            return candidate
    return None


def split_scan_data(data: str) -> list[tuple[str, str]]:
    """Split unbracketed GS1 data (FNC1 transmitted as GS) into validated (AI, value) pairs.

    A pre-defined-length AI (``*`` in the dictionary) takes exactly its length; any other AI runs
    to the next GS or the end of the data, so an over-long value is reported, not cut.
    """
    elements: list[tuple[str, str]] = []
    position = 0
    while position < len(data):
        if data[position] == GS:
            position += 1  # FNC1 is also allowed after pre-defined-length AIs (GenSpecs §7.8.6)
            continue
        ai = _match_ai(data, position)
        if ai is None:
            snippet = data[position : position + 4].replace(GS, "<GS>")
            raise UdiError(
                f"no known GS1 AI at position {position + 1} of the scan data "
                f"(it continues {snippet!r})",
                field=None,
            )
        position += len(ai)
        length = AI_RULES[ai].fixed_length if AI_RULES[ai].predefined_length else None
        if length is not None:
            value = data[position : position + length]
            if GS in value:
                value = value[: value.index(GS)]
            position += len(value)
        else:
            end = data.find(GS, position)
            end = len(data) if end < 0 else end
            value = data[position:end]
            position = end
        # Validate as we go, so the first bad element is the one reported (a '^' inside (01)
        # is reported as such, not as an unknown AI where the cut-off data continues).
        validate_element(ai, value)
        elements.append((ai, value))
    return elements


def split_bracketed(text: str) -> list[tuple[str, str]]:
    """Split ``(01)...(10)...`` into (AI, value) pairs; ``\\(`` is a literal ``(`` in data."""
    if not text.startswith("("):
        raise UdiError("a bracketed element string starts with '(' and an AI, e.g. '(01)'")
    elements: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        close = text.find(")", position)
        if text[position] != "(" or close < 0:
            raise UdiError(f"expected '(AI)' at position {position + 1} of {text!r}")
        ai = text[position + 1 : close]
        if not (ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4):
            raise UdiError(f"'({ai})' is not an AI: an AI is 2 to 4 digits", field=None)
        position = close + 1
        value: list[str] = []
        while position < len(text) and text[position] != "(":
            if text.startswith("\\(", position):
                value.append("(")
                position += 2
            else:
                value.append(text[position])
                position += 1
        elements.append((ai, "".join(value)))
    return elements


def _component_problem(ai: str, component: Component, part: str, offset: int) -> str | None:
    allowed, description = CSETS[component.cset]
    if component.cset == "Z":
        padding = cset64_padding(part)
        if padding:
            return padding
        part = part.rstrip("=")
    for index, char in enumerate(part):
        if char not in allowed:
            shown = "<GS>" if char == GS else repr(char)
            return f"character {shown} at position {offset + index + 1} is not {description}"
    for name in component.linters:
        linter = LINTERS.get(name)
        problem = linter(part) if linter else None
        if problem:
            if name == "csum" and ai in _KEY_NAMES:
                return f"{_KEY_NAMES[ai]} {problem}"
            return problem
    return None


def validate_element(ai: str, value: str) -> None:
    """Check one AI value against its format components and linters; raise UdiError if bad."""
    spec = rule(ai)
    if value == "":
        raise UdiError(f"AI ({ai}) has an empty value (format {spec.format})", field=ai)
    position = 0
    for component in spec.components:
        remaining = len(value) - position
        if remaining <= 0:
            if component.optional:
                break
            raise UdiError(
                f"AI ({ai}) value too short: format {spec.format}, got {len(value)} characters",
                field=ai,
            )
        if component.fixed and remaining < component.max_length:
            raise UdiError(
                f"AI ({ai}) value too short: format {spec.format}, got {len(value)} characters",
                field=ai,
            )
        part = value[position : position + component.max_length]
        problem = _component_problem(ai, component, part, position)
        if problem:
            raise UdiError(f"AI ({ai}): {problem}", field=ai)
        position += len(part)
    if position < len(value):
        raise UdiError(
            f"AI ({ai}) value too long: format {spec.format}, got {len(value)} characters",
            field=ai,
        )


def _describe(alternative: Sequence[str]) -> str:
    return "+".join(f"({ai})" for ai in alternative)


def _either(alternatives: Sequence[str]) -> str:
    if len(alternatives) == 1:
        return alternatives[0]
    return ", ".join(alternatives[:-1]) + " or " + alternatives[-1]


def validate_message(elements: Iterable[tuple[str, str]]) -> None:
    """Message-level rules: repeated AIs must agree; ``ex=`` and ``req=`` pairings hold."""
    seen: dict[str, str] = {}
    for ai, value in elements:
        if ai in seen and seen[ai] != value:
            raise UdiError(
                f"AI ({ai}) appears more than once with different values "
                f"({seen[ai]!r} and {value!r})",
                field=ai,
            )
        seen[ai] = value
    present = list(seen)
    for ai in present:
        spec = rule(ai)
        for pattern in spec.ex:
            for other in present:
                if other != ai and ai_matches(pattern, other):
                    raise UdiError(
                        f"AI ({ai}) {spec.title} and AI ({other}) {rule(other).title} "
                        f"are mutually exclusive: they must not appear together",
                        field=ai,
                    )
        for alternatives in spec.req:
            satisfied = any(
                all(any(ai_matches(p, have) for have in present) for p in alternative)
                for alternative in alternatives
            )
            if not satisfied:
                wanted = _either([_describe(alternative) for alternative in alternatives])
                raise UdiError(f"AI ({ai}) {spec.title} requires {wanted}", field=ai)


def validate_elements(elements: Sequence[tuple[str, str]]) -> Elements:
    if not elements:
        raise UdiError("the GS1 data holds no element strings")
    for ai, value in elements:
        validate_element(ai, value)
    validate_message(elements)
    return tuple(elements)


def parse_element_string(text: str) -> Elements:
    """Parse and strictly validate a bracketed element string ``(01)...(17)...``."""
    return validate_elements(split_bracketed(text))


def parse_scan_data(data: str) -> Elements:
    """Parse and strictly validate unbracketed GS1 data with GS separators."""
    if data.startswith(GS):
        data = data[1:]  # some scanners transmit the leading FNC1 as GS
    if not data:
        raise UdiError("the GS1 data is empty")
    return validate_elements(split_scan_data(data))


def is_date_ai(ai: str) -> bool:
    """AIs whose whole value is one GS1 date (YYMMDD), such as (11) and (17)."""
    spec = AI_RULES.get(ai)
    return (
        spec is not None
        and len(spec.components) == 1
        and spec.components[0].max_length == 6
        and bool({"yymmd0", "yymmdd"} & set(spec.components[0].linters))
    )


def ai_date(ai: str, value: str) -> date | None:
    """The date a date AI stands for (DD=00 is the last day of the month), else None."""
    return resolve_yymmdd(value) if is_date_ai(ai) else None


def ai_measure(ai: str, value: str) -> Decimal | None:
    """The decimal value of a trade or logistic measure AI (31nn-36nn), else None."""
    if len(ai) == 4 and ai.startswith(_MEASURE_PREFIXES) and ai in AI_RULES:
        return Decimal(int(value)).scaleb(-int(ai[3]))
    return None


def _escape_bracketed(value: str) -> str:
    return value.replace("(", "\\(")


def render_element_string(elements: Iterable[tuple[str, str]]) -> str:
    """The bracketed element string (the input a GS1 DataMatrix encoder takes)."""
    return "".join(f"({ai}){_escape_bracketed(value)}" for ai, value in elements)


def render_scan_data(elements: Sequence[tuple[str, str]]) -> str:
    """Unbracketed data with a GS after every AI that is not of pre-defined length, but the last."""
    parts: list[str] = []
    for index, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        if index < len(elements) - 1 and not AI_RULES[ai].predefined_length:
            parts.append(GS)
    return "".join(parts)


def render_hri(elements: Iterable[tuple[str, str]]) -> str:
    """Bracketed form for people: date AIs shown as YYYY-MM-DD (DD=00 resolved)."""
    parts = []
    for ai, value in elements:
        resolved = ai_date(ai, value)
        shown = resolved.isoformat() if resolved else _escape_bracketed(value)
        parts.append(f"({ai}){shown}")
    return "".join(parts)


def _date_value(ai: str, value: date | str) -> str:
    if isinstance(value, date):
        return yymmdd(value)
    if isinstance(value, str):
        return value
    raise UdiError(f"AI ({ai}) needs a date or a YYMMDD string, got {value!r}", field=ai)


def build_element_string(
    *,
    gtin: str,
    serial: str | None = None,
    lot: str | None = None,
    expiry: date | str | None = None,
    manufactured: date | str | None = None,
) -> str:
    """Build a validated bracketed UDI element string.

    Order: (01), then the fixed-length dates (11) and (17), then (10), and (21) last, as the
    NMPA and FDA labelling guidance recommend (variable-length AIs at the end need fewer FNC1s).
    A date may be given as a ``date`` or as a YYMMDD string (e.g. ``"251100"`` for DD=00).
    """
    elements: list[tuple[str, str]] = [("01", normalize_gtin(gtin))]
    if manufactured is not None:
        elements.append(("11", _date_value("11", manufactured)))
    if expiry is not None:
        elements.append(("17", _date_value("17", expiry)))
    if lot is not None:
        elements.append(("10", lot))
    if serial is not None:
        elements.append(("21", serial))
    return render_element_string(validate_elements(elements))
