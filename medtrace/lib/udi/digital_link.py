"""GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax) to and from element strings.

Parsing is strict, as the GS1 Barcode Syntax Engine's default mode is:

* the scheme is ``http`` or ``https`` written all lower- or all upper-case; any domain and any
  path stem before the primary key are accepted;
* the path ends with a primary key (an AI with ``dlpkey`` in the dictionary) followed by its key
  qualifiers, in one of the orders ``dlpkey`` allows, and does not end with ``/``;
* path values are percent-decoded after splitting on ``/`` (so ``%2F`` is a ``/`` in a value) and
  ``+`` in the path is a literal plus;
* query parameters whose name is all digits are AIs: they must be known, appear once, not be a
  key qualifier of the primary key, and carry the dictionary's ``?`` (data attribute) flag; other
  parameters (``linkType`` ...) are ignored;
* a GTIN in the path must have 14 digits. Zero-suppressed GTIN-8/12/13 values are rejected
  rather than padded (the engine accepts them only with its legacy
  ``permitZeroSuppressedGTINinDLuris`` switch): a regulated record must not guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from .ai_table import AI_RULES, DL_PRIMARY_KEYS
from .errors import UdiError
from .gs1 import Elements, validate_element, validate_message

DEFAULT_RESOLVER = "https://id.gs1.org"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ACCEPTED_SCHEMES = ("http", "https", "HTTP", "HTTPS")


def looks_like_uri(text: str) -> bool:
    return _SCHEME.match(text) is not None


def _decode(raw: str, *, where: str) -> str:
    if _BAD_ESCAPE.search(raw):
        raise UdiError(f"malformed percent-encoding in the Digital Link {where}: {raw!r}")
    data = bytearray()
    index = 0
    while index < len(raw):
        if raw[index] == "%":
            data.append(int(raw[index + 1 : index + 3], 16))
            index += 3
        else:
            data.extend(raw[index].encode("utf-8"))
            index += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UdiError(f"the Digital Link {where} {raw!r} is not valid UTF-8") from exc


def _qualifier_orders(key: str) -> tuple[tuple[str, ...], ...]:
    orders = AI_RULES[key].dlpkey
    return orders if orders else ((),)


def _fits(qualifiers: Sequence[str], order: Sequence[str]) -> bool:
    """Whether ``qualifiers`` is an in-order subsequence of ``order`` (each at most once)."""
    position = 0
    for qualifier in qualifiers:
        try:
            position = order.index(qualifier, position) + 1
        except ValueError:
            return False
    return True


def _describe_orders(key: str) -> str:
    orders = [order for order in _qualifier_orders(key) if order]
    if not orders:
        return f"({key}) takes no key qualifiers"
    shown = " or ".join("/" + "/".join(order) for order in orders)
    return f"qualifiers of ({key}) go in the order {shown}"


def parse_digital_link(uri: str) -> Elements:
    """Extract the (AI, value) pairs of a GS1 Digital Link URI: path first, then query."""
    match = _SCHEME.match(uri)
    if match is None:
        raise UdiError("a GS1 Digital Link URI starts with http:// or https://")
    scheme = match.group(1)
    if scheme not in _ACCEPTED_SCHEMES:
        raise UdiError(
            f"URI scheme {scheme!r} is not a GS1 Digital Link scheme: expected http or https "
            f"(all lower- or all upper-case)"
        )
    rest = uri[match.end() :].split("#", 1)[0]
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, rest = rest[:authority_end], rest[authority_end:]
    path, _, query = rest.partition("?")
    if not authority:
        raise UdiError("the Digital Link URI has no domain name")
    if path.endswith("/"):
        raise UdiError("the Digital Link URI path must not end with '/'")
    segments = path.split("/")[1:] if path else []

    # Walk back from the end in (AI, value) pairs until the primary key; what precedes is stem.
    pairs: list[tuple[str, str]] = []
    index = len(segments)
    key: str | None = None
    while index >= 2:
        ai, raw_value = segments[index - 2], segments[index - 1]
        if not (ai.isascii() and ai.isdigit()):
            break
        if ai not in AI_RULES:
            raise UdiError(f"unknown AI ({ai}) in the Digital Link path", field=ai)
        pairs.insert(0, (ai, raw_value))
        index -= 2
        if ai in DL_PRIMARY_KEYS:
            key = ai
            break
    if key is None:
        raise UdiError(
            "no GS1 Digital Link primary key (such as /01/ GTIN or /00/ SSCC) in the URI path"
        )

    qualifiers = [ai for ai, _ in pairs[1:]]
    all_qualifiers = {q for order in _qualifier_orders(key) for q in order}
    strangers = [q for q in qualifiers if q not in all_qualifiers]
    if strangers:
        raise UdiError(
            f"AI ({strangers[0]}) is not a key qualifier of ({key}); {_describe_orders(key)}",
            field=strangers[0],
        )
    if not any(_fits(qualifiers, order) for order in _qualifier_orders(key)):
        raise UdiError(
            f"key qualifiers are out of order or repeated: {_describe_orders(key)}", field=key
        )

    elements: list[tuple[str, str]] = []
    for ai, raw_value in pairs:
        value = _decode(raw_value, where=f"path value of ({ai})")
        if ai == "01" and value.isdigit() and len(value) in (8, 12, 13):
            raise UdiError(
                f"AI (01) in a Digital Link path must have 14 digits, got {len(value)}: "
                f"zero-suppressed GTINs are not accepted, write it as {value.zfill(14)}",
                field="01",
            )
        validate_element(ai, value)
        elements.append((ai, value))

    for parameter in query.split("&") if query else []:
        name, _, raw_value = parameter.partition("=")
        if not (name.isascii() and name.isdigit()):
            continue  # not an AI: linkType, context and the like are for the resolver
        if name not in AI_RULES:
            raise UdiError(f"unknown AI ({name}) in the Digital Link query string", field=name)
        if any(ai == name for ai, _ in elements):
            raise UdiError(
                f"AI ({name}) appears more than once in the Digital Link URI", field=name
            )
        if name in all_qualifiers:
            raise UdiError(
                f"({name}) is a key qualifier of ({key}) and must be in the URI path, "
                f"not the query string",
                field=name,
            )
        if not AI_RULES[name].dl_data_attribute:
            raise UdiError(
                f"AI ({name}) is not allowed as a Digital Link data attribute (query string)",
                field=name,
            )
        value = _decode(raw_value, where=f"query value of ({name})")
        validate_element(name, value)
        elements.append((name, value))

    validate_message(elements)
    return tuple(elements)


def _encode(value: str) -> str:
    # Everything outside the URI "unreserved" set is percent-encoded, as the DL standard asks.
    return quote(value, safe="")


def build_digital_link(elements: Sequence[tuple[str, str]], *, base: str = DEFAULT_RESOLVER) -> str:
    """A Digital Link URI for validated elements: key and qualifiers in the path in ``dlpkey``
    order, the other AIs as query attributes in the order they came."""
    match = _SCHEME.match(base)
    if match is None or match.group(1).lower() not in ("http", "https"):
        raise UdiError(f"the resolver base must be an http(s) URL, got {base!r}")
    unique: dict[str, str] = {}
    for ai, value in elements:
        unique.setdefault(ai, value)
    key = next((ai for ai in unique if ai in DL_PRIMARY_KEYS), None)
    if key is None:
        raise UdiError("no GS1 Digital Link primary key (such as (01) or (00)) among the AIs")
    orders = _qualifier_orders(key)
    order = max(orders, key=lambda o: sum(1 for q in o if q in unique))
    path_qualifiers = [q for q in order if q in unique]
    path = f"/{key}/{_encode(unique[key])}" + "".join(
        f"/{q}/{_encode(unique[q])}" for q in path_qualifiers
    )
    all_qualifiers = {q for o in orders for q in o}
    attributes: list[str] = []
    for ai, value in unique.items():
        if ai == key or ai in path_qualifiers:
            continue
        if ai in all_qualifiers or not AI_RULES[ai].dl_data_attribute:
            raise UdiError(
                f"AI ({ai}) cannot be carried in a Digital Link URI with key ({key})", field=ai
            )
        attributes.append(f"{ai}={_encode(value)}")
    query = "?" + "&".join(attributes) if attributes else ""
    return base.rstrip("/") + path + query
