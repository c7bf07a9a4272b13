"""Checks of the standard EPCIS 2.0 event structures shared by all event types."""

from __future__ import annotations

import re
from typing import Any

from medtrace.lib.epcis.jsonld import Scope, check_extension
from medtrace.lib.epcis.model import ErrorDeclaration, QuantityElement
from medtrace.lib.epcis.values import (
    Sink,
    check_date_time,
    check_number,
    check_uri,
    check_vocabulary,
    describe,
    is_uri,
)

__all__ = [
    "read_biz_transactions",
    "read_certification_info",
    "read_error_declaration",
    "read_location",
    "read_persistent_disposition",
    "read_quantity_list",
    "read_source_dest_list",
    "read_uri_list",
]

_EPC = "an EPC URI (EPC URN, GS1 Digital Link URI or other URI)"


def read_uri_list(value: Any, field: str, sink: Sink, *, unique: bool) -> tuple[str, ...]:
    """An array of EPC URIs; ``unique`` where the JSON Schema says uniqueItems."""
    if type(value) is not list:
        sink.add(field, f"expected an array of EPC URIs, got {describe(value)}")
        return ()
    clean = True
    for item in value:
        if type(item) is not str or not is_uri(item):
            clean = False
            break
    if not clean:
        for position, item in enumerate(value):
            check_uri(item, f"{field}[{position}]", sink, _EPC)
        return ()
    if unique and len(set(value)) != len(value):
        seen: set[str] = set()
        for position, item in enumerate(value):
            if item in seen:
                sink.add(f"{field}[{position}]", f"{item!r} is listed more than once")
            seen.add(item)
    return tuple(value)


# UN/ECE Recommendation 20 unit code, as the JSON Schema restricts quantityElement.uom.
_UOM = re.compile(r"[A-Z0-9]{2,3}\Z")
_QUANTITY_FIELDS = ("epcClass", "quantity", "uom")


def read_quantity_list(
    value: Any, field: str, role: str, sink: Sink, out: list[QuantityElement]
) -> int:
    """Append the elements of a quantity list to ``out``; returns how many the list holds."""
    if type(value) is not list:
        sink.add(field, f"expected an array of quantity elements, got {describe(value)}")
        return 0
    for position, element in enumerate(value):
        where = f"{field}[{position}]"
        if type(element) is not dict:
            sink.add(where, f"expected a quantity element object, got {describe(element)}")
            continue
        for key in element:
            if key not in _QUANTITY_FIELDS:
                # The JSON Schema closes quantityElement (additionalProperties: false).
                sink.add(
                    f"{where}.{key}",
                    f"unknown field {key!r} in a quantity element; it has only epcClass, "
                    "quantity and uom",
                )
        epc_class = element.get("epcClass")
        if epc_class is None:
            sink.add(f"{where}.epcClass", "epcClass is required: the EPC class URI being counted")
        else:
            epc_class = check_uri(epc_class, f"{where}.epcClass", sink, "an EPC class URI")
        quantity = None
        if "quantity" in element:
            quantity = check_number(element["quantity"], f"{where}.quantity", sink)
        uom = element.get("uom")
        if "uom" in element and (type(uom) is not str or _UOM.match(uom) is None):
            sink.add(
                f"{where}.uom",
                f"{describe(uom)} is not a unit code; expected a UN/ECE Rec. 20 code of 2-3 "
                "upper-case letters or digits, e.g. 'KGM'",
            )
            uom = None
        if epc_class is not None:
            out.append(QuantityElement(role, epc_class, quantity, uom))
    return len(value)


def read_location(value: Any, field: str, scope: Scope, sink: Sink) -> str | None:
    """readPoint / bizLocation: ``{"id": uri}`` plus namespaced extensions."""
    if type(value) is not dict:
        sink.add(
            field,
            f'expected an object such as {{"id": "urn:epc:id:sgln:0614141.00777.0"}}, '
            f"got {describe(value)}",
        )
        return None
    result = None
    if "id" not in value:
        sink.add(f"{field}.id", "id is required: the location's URI (e.g. an SGLN)")
    for key, item in value.items():
        if key == "id":
            result = check_uri(item, f"{field}.id", sink, "a location URI")
        else:
            check_extension(key, f"{field}.{key}", scope, sink)
    return result


def read_biz_transactions(
    value: Any, field: str, sink: Sink, *, min_items: int = 0
) -> tuple[tuple[str | None, str], ...]:
    if type(value) is not list:
        sink.add(field, f"expected an array of business transactions, got {describe(value)}")
        return ()
    if len(value) < min_items:
        sink.add(field, "a TransactionEvent needs at least one business transaction")
    result: list[tuple[str | None, str]] = []
    for position, element in enumerate(value):
        where = f"{field}[{position}]"
        if type(element) is not dict:
            sink.add(where, f"expected a business transaction object, got {describe(element)}")
            continue
        for key in element:
            if key != "type" and key != "bizTransaction":
                sink.add(
                    f"{where}.{key}",
                    f"unknown field {key!r} in a business transaction; it has only type and "
                    "bizTransaction",
                )
        kind = None
        if "type" in element:
            kind = check_vocabulary("bizTransactionType", element["type"], f"{where}.type", sink)
        if "bizTransaction" not in element:
            sink.add(f"{where}.bizTransaction", "bizTransaction is required: the transaction URI")
            continue
        ident = check_uri(
            element["bizTransaction"], f"{where}.bizTransaction", sink, "a business transaction URI"
        )
        if ident is not None:
            result.append((kind, ident))
    return tuple(result)


def read_source_dest_list(
    value: Any, field: str, key: str, sink: Sink
) -> tuple[tuple[str, str], ...]:
    """sourceList (key "source") or destinationList (key "destination")."""
    if type(value) is not list:
        sink.add(field, f"expected an array of {key} objects, got {describe(value)}")
        return ()
    result: list[tuple[str, str]] = []
    for position, element in enumerate(value):
        where = f"{field}[{position}]"
        if type(element) is not dict:
            sink.add(where, f"expected a {key} object, got {describe(element)}")
            continue
        for name in element:
            if name != "type" and name != key:
                sink.add(
                    f"{where}.{name}",
                    f"unknown field {name!r} in a {key}; it has only type and {key}",
                )
        kind = None
        if "type" not in element:
            sink.add(f"{where}.type", "type is required, e.g. 'owning_party' or 'location'")
        else:
            kind = check_vocabulary("sourceDestType", element["type"], f"{where}.type", sink)
        ident = None
        if key not in element:
            sink.add(f"{where}.{key}", f"{key} is required: the party or location URI")
        else:
            ident = check_uri(element[key], f"{where}.{key}", sink, "a party or location URI")
        if kind is not None and ident is not None:
            result.append((kind, ident))
    return tuple(result)


def read_certification_info(value: Any, field: str, sink: Sink) -> list[str] | str | None:
    """A certificate URI, or an array of them."""
    if type(value) is str:
        return check_uri(value, field, sink, "a certificate URI")
    if type(value) is list:
        good = True
        for position, item in enumerate(value):
            if check_uri(item, f"{field}[{position}]", sink, "a certificate URI") is None:
                good = False
        return value if good else None
    sink.add(
        field,
        f"expected a certificate URI or an array of certificate URIs, got {describe(value)}",
    )
    return None


_DECLARATION_FIELDS = ("declarationTime", "reason", "correctiveEventIDs")


def read_error_declaration(
    value: Any, field: str, scope: Scope, sink: Sink
) -> ErrorDeclaration | None:
    if type(value) is not dict:
        sink.add(field, f"expected an errorDeclaration object, got {describe(value)}")
        return None
    for key in value:
        if key not in _DECLARATION_FIELDS:
            check_extension(key, f"{field}.{key}", scope, sink)
    declared = None
    if "declarationTime" not in value:
        sink.add(
            f"{field}.declarationTime",
            "declarationTime is required: when the error was declared",
        )
    else:
        declared = check_date_time(value["declarationTime"], f"{field}.declarationTime", sink)
    reason = None
    if "reason" in value:
        reason = check_vocabulary("errorReason", value["reason"], f"{field}.reason", sink)
    corrective: tuple[str, ...] = ()
    if "correctiveEventIDs" in value:
        ids = value["correctiveEventIDs"]
        where = f"{field}.correctiveEventIDs"
        if type(ids) is not list:
            sink.add(where, f"expected an array of event IDs, got {describe(ids)}")
        else:
            checked = [
                check_uri(item, f"{where}[{i}]", sink, "an event ID URI")
                for i, item in enumerate(ids)
            ]
            corrective = tuple(item for item in checked if item is not None)
    if declared is None:
        return None
    return ErrorDeclaration(declared, reason, corrective)


def read_persistent_disposition(value: Any, field: str, sink: Sink) -> dict[str, list[str]] | None:
    """``{"set": [...], "unset": [...]}`` of dispositions, values in cbv.normalize form."""
    if type(value) is not dict:
        sink.add(
            field,
            'expected an object such as {"set": ["completeness_verified"]}, '
            f"got {describe(value)}",
        )
        return None
    result: dict[str, list[str]] = {}
    for key, items in value.items():
        where = f"{field}.{key}"
        if key != "set" and key != "unset":
            sink.add(
                where, f"unknown field {key!r} in persistentDisposition; it has only set and unset"
            )
            continue
        if type(items) is not list or not items:
            sink.add(where, f"expected a non-empty array of dispositions, got {describe(items)}")
            continue
        normalized: list[str] = []
        for position, item in enumerate(items):
            term = check_vocabulary("disposition", item, f"{where}[{position}]", sink)
            if term is not None:
                if term in normalized:
                    sink.add(f"{where}[{position}]", f"{item!r} is listed more than once")
                normalized.append(term)
        result[key] = normalized
    if "set" not in value and "unset" not in value:
        sink.add(field, "persistentDisposition needs set or unset (or both)")
    return result
